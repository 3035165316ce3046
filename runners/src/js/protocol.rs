//! The JSON-lines protocol between the adapter and `runners/js/runner.mjs` (described in the
//! script's header): one request line per run, one response line back with the ending and
//! the captured memory.

use std::path::PathBuf;

use base64::Engine as _;
use wasi_conform_case::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;

use super::stdio::GuestStdio;

/// Bytes of an unexpected response quoted in an error.
const QUOTED: usize = 300;

/// What a request asks of the runner beyond the case itself.
pub(super) struct Request<'a> {
    /// Matches the response to the request.
    pub id: u64,
    /// The key the compiled module is kept under, when the worker keeps it.
    pub key: Option<&'a str>,
    /// Whether the module's bytes are sent (the worker has not compiled it yet).
    pub send_bytes: bool,
    /// Whether the worker forgets every module it kept first.
    pub flush: bool,
    /// Written into the instance's memory before `_start` ([`Preload`]).
    pub preload: Option<&'a Preload>,
}

impl Request<'_> {
    /// The request line.
    pub fn line(&self, case: &TestCase, preopens: &[(String, PathBuf)], stdio: &GuestStdio) -> String {
        let env: Vec<(&str, &str)> =
            case.fixture.env.iter().map(|kv| kv.split_once('=').unwrap_or((kv.as_str(), ""))).collect();
        let preopens: Vec<(&str, String)> =
            preopens.iter().map(|(guest, host)| (guest.as_str(), host.to_string_lossy().into_owned())).collect();
        let module = self.send_bytes.then(|| base64::engine::general_purpose::STANDARD.encode(case.module.as_slice()));
        let [stdin, stdout, stderr] = stdio.paths();
        let preload: Option<Vec<(u32, String)>> = self.preload.map(|p| {
            p.segments.iter().map(|(at, b)| (*at, base64::engine::general_purpose::STANDARD.encode(b))).collect()
        });
        serde_json::json!({
            "id": self.id,
            "key": self.key,
            "module": module,
            "flush": self.flush,
            "args": case.fixture.args,
            "env": env,
            "preopens": preopens,
            "stdin": stdin.to_string_lossy(),
            "stdout": stdout.to_string_lossy(),
            "stderr": stderr.to_string_lossy(),
            "capture_len": case.capture_len,
            "preload": preload,
        })
        .to_string()
    }
}

#[derive(serde::Deserialize)]
struct Response {
    id: Option<u64>,
    ending: Option<WireEnding>,
    memory: Option<String>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum WireEnding {
    Exit(u32),
    Trap { class: String, message: String },
    Crash(String),
}

/// A response the adapter cannot use: the worker is not trusted with another run.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("unreadable response from the {name} runner ({source}): {}", quote(line))]
    Unreadable { name: &'static str, source: serde_json::Error, line: String },
    #[error("the {name} runner failed: {error}")]
    Failed { name: &'static str, error: String },
    #[error("the {name} runner answered request {got:?} instead of {want}")]
    WrongId { name: &'static str, got: Option<u64>, want: u64 },
    #[error("the {name} runner's response has no ending: {}", quote(line))]
    NoEnding { name: &'static str, line: String },
    #[error("the {name} runner sent undecodable memory: {source}")]
    Memory { name: &'static str, source: base64::DecodeError },
}

/// A response line → the ending and the captured memory.
pub(super) fn parse_response(
    name: &'static str,
    line: &str,
    id: u64,
) -> Result<(Ending, Option<Vec<u8>>), ProtocolError> {
    let r: Response = serde_json::from_str(line).map_err(|source| ProtocolError::Unreadable {
        name,
        source,
        line: line.to_owned(),
    })?;
    if let Some(error) = r.error {
        return Err(ProtocolError::Failed { name, error });
    }
    if r.id != Some(id) {
        return Err(ProtocolError::WrongId { name, got: r.id, want: id });
    }
    let ending = match r.ending {
        Some(WireEnding::Exit(code)) => Ending::Exit(code),
        Some(WireEnding::Trap { class, message }) => {
            let class = match class.as_str() {
                "unreachable" => TrapClass::Unreachable,
                "memory-out-of-bounds" => TrapClass::MemoryOutOfBounds,
                "host-error" => TrapClass::HostError,
                _ => TrapClass::Other,
            };
            Ending::Trap(TrapKind { class, message })
        }
        Some(WireEnding::Crash(m)) => Ending::Crash(m),
        None => return Err(ProtocolError::NoEnding { name, line: line.to_owned() }),
    };
    let memory = match r.memory {
        None => None,
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|source| ProtocolError::Memory { name, source })?,
        ),
    };
    Ok((ending, memory))
}

/// The start of a line, for an error message.
fn quote(s: &str) -> &str {
    let s = s.trim_end();
    match s.char_indices().nth(QUOTED) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_or_refused_with_a_reason() {
        let ok = parse_response(
            "node",
            r#"{"id":3,"ending":{"trap":{"class":"unreachable","message":"m"}},"memory":"YWJj"}"#,
            3,
        );
        let (ending, memory) = ok.unwrap();
        assert!(matches!(ending, Ending::Trap(k) if k.class == TrapClass::Unreachable && k.message == "m"));
        assert_eq!(memory.as_deref(), Some(&b"abc"[..]));
        let err = |line: &str| parse_response("node", line, 3).unwrap_err().to_string();
        assert_eq!(err(r#"{"id":3,"error":"bad"}"#), "the node runner failed: bad");
        assert_eq!(err(r#"{"id":4,"ending":{"exit":0}}"#), "the node runner answered request Some(4) instead of 3");
        assert_eq!(err(r#"{"id":3}"#), r#"the node runner's response has no ending: {"id":3}"#);
        assert!(err("x").starts_with("unreadable response from the node runner ("), "{}", err("x"));
        assert!(
            err(r#"{"id":3,"ending":{"exit":0},"memory":"!"}"#).starts_with("the node runner sent undecodable memory")
        );
    }
}
