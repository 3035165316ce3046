//! The wire format between [`super::Isolated`] and its worker processes: a case (the
//! module, the invocation, the limits and the preopens' host directories) as one JSON
//! request line, an [`Execution`] as one JSON reply line, bytes in base64.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use wasi_conform_case::fixture::{Fixture, Preopen, Tree};
use wasi_conform_case::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::{Limits, TestCase};

use crate::Execution;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD.decode(text)
}

/// What a worker needs of a case: the module, the invocation, limits and the preopens'
/// host directories (the trees are already laid out by the parent's sandbox).
#[derive(Serialize, Deserialize)]
pub(super) struct Request {
    id: String,
    module: String,
    args: Vec<String>,
    env: Vec<String>,
    stdin: String,
    preopens: Vec<(String, PathBuf)>,
    capture_len: u32,
    timeout_ms: u64,
    memory_bytes: u64,
    /// Segments written into guest memory before `_start` (address, base64 bytes), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preload: Option<Vec<(u32, String)>>,
}

impl Request {
    pub fn new(case: &TestCase, preopens: &[(String, PathBuf)], preload: Option<&Preload>) -> Request {
        Request {
            id: case.id.clone(),
            module: b64(&case.module),
            args: case.fixture.args.clone(),
            env: case.fixture.env.clone(),
            stdin: b64(&case.fixture.stdin),
            preopens: preopens.to_vec(),
            capture_len: case.capture_len,
            timeout_ms: case.limits.timeout.as_millis() as u64,
            memory_bytes: case.limits.memory_bytes,
            preload: preload.map(|p| p.segments.iter().map(|(at, b)| (*at, b64(b))).collect()),
        }
    }

    /// The case, its preopens' host directories, and its preload.
    #[allow(clippy::type_complexity)]
    pub fn into_case(self) -> Result<(TestCase, Vec<(String, PathBuf)>, Option<Preload>), base64::DecodeError> {
        let preload = match &self.preload {
            Some(segments) => Some(Preload {
                segments: segments
                    .iter()
                    .map(|(at, b)| Ok((*at, unb64(b)?)))
                    .collect::<Result<_, base64::DecodeError>>()?,
            }),
            None => None,
        };
        let module = Arc::new(unb64(&self.module)?);
        let fixture = Fixture {
            preopens: self
                .preopens
                .iter()
                .map(|(name, _)| Preopen {
                    name: name.clone(),
                    binding: name.trim_start_matches("./").trim_start_matches('/').to_owned(),
                    tree: Tree::new(),
                })
                .collect(),
            args: self.args,
            env: self.env,
            stdin: unb64(&self.stdin)?,
        };
        let case = TestCase {
            id: self.id,
            module: module.clone(),
            module_stderr_trace: module,
            fixture,
            capture_len: self.capture_len,
            limits: Limits { timeout: Duration::from_millis(self.timeout_ms), memory_bytes: self.memory_bytes },
        };
        Ok((case, self.preopens, preload))
    }
}

/// An [`Execution`] on the wire. In-process adapters use host directories, so there is no
/// own sandbox to carry.
#[derive(Serialize, Deserialize)]
pub(super) struct Reply {
    ending: WireEnding,
    stdout: String,
    stderr: String,
    memory: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum WireEnding {
    Exit { code: u32 },
    Trap { class: WireTrapClass, message: String },
    Timeout,
    Crash { message: String },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum WireTrapClass {
    Unreachable,
    MemoryOutOfBounds,
    HostError,
    Other,
}

impl Reply {
    pub fn from_execution(e: Execution) -> Reply {
        let ending = match e.ending {
            Ending::Exit(code) => WireEnding::Exit { code },
            Ending::Trap(k) => WireEnding::Trap {
                class: match k.class {
                    TrapClass::Unreachable => WireTrapClass::Unreachable,
                    TrapClass::MemoryOutOfBounds => WireTrapClass::MemoryOutOfBounds,
                    TrapClass::HostError => WireTrapClass::HostError,
                    TrapClass::Other => WireTrapClass::Other,
                },
                message: k.message,
            },
            Ending::Timeout => WireEnding::Timeout,
            Ending::Crash(message) => WireEnding::Crash { message },
        };
        Reply { ending, stdout: b64(&e.stdout), stderr: b64(&e.stderr), memory: e.memory.as_deref().map(b64) }
    }

    pub fn into_execution(self) -> Execution {
        let ending = match self.ending {
            WireEnding::Exit { code } => Ending::Exit(code),
            WireEnding::Trap { class, message } => Ending::Trap(TrapKind {
                class: match class {
                    WireTrapClass::Unreachable => TrapClass::Unreachable,
                    WireTrapClass::MemoryOutOfBounds => TrapClass::MemoryOutOfBounds,
                    WireTrapClass::HostError => TrapClass::HostError,
                    WireTrapClass::Other => TrapClass::Other,
                },
                message,
            }),
            WireEnding::Timeout => Ending::Timeout,
            WireEnding::Crash { message } => Ending::Crash(message),
        };
        let decode = |s: &str| unb64(s);
        match (decode(&self.stdout), decode(&self.stderr), self.memory.as_deref().map(decode).transpose()) {
            (Ok(stdout), Ok(stderr), Ok(memory)) => Execution { ending, stdout, stderr, memory, own_sandbox: None },
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Execution::crash(format!("undecodable reply: {e}")),
        }
    }
}
