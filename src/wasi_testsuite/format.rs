//! The wasi-testsuite test description: `<name>.json` beside `<name>.wasm`, and the
//! suite's `manifest.json`.
//!
//! Read as the official runner reads them (WebAssembly/wasi-testsuite,
//! `test-runner/wasi_test_runner/test_case.py` `Config.from_file`, and
//! `test_suite_runner.py` `_read_test_config` / `_read_manifest`, at commit e1f53e05):
//!
//! - No `.json` file: the default description — no args, empty environment, no
//!   directories, exit code 0, output unchecked.
//! - The *legacy* form, keys `args` (list of strings), `env` (object of strings, in order),
//!   `exit_code` (default 0), `root` (a directory beside the test, preopened as `/`),
//!   `stdout`, `stderr` (when present and not `null`, the stream must *begin with* this
//!   text: the runner turns them into `read` operations, which read as many characters as
//!   the expectation has and compare), and `dirs` (directories beside the test, each
//!   preopened under its own relative name: the runner's form from 2022 until the `root`
//!   refactor of June 2026, commit edf255a2; its runner compared `stdout` exactly and
//!   ignored `stderr`). The current runner converts this form into `run`, `read stdout`,
//!   `read stderr`, `wait`.
//! - The *operation* form, keys `operations`, `proposals`, `world`, `servers`: mixing both
//!   forms is an error, as in the runner. Supported operations: one `run` (`args`, `env`,
//!   `root`), `write` to `stdin` (its text becomes the guest's stdin), `read` of `stdout` /
//!   `stderr`, and the closing `wait` (`exit_code`). Sockets, HTTP, `kill`, proposals, a
//!   world other than `wasi:cli/command` and several runs make the test *unsupported*: it
//!   is reported as skipped with the reason, like the runner's
//!   `UnsupportedWasiTestExcludeFilter`.
//! - Unknown keys are warnings (the runner logs "Unknown field in the config file");
//!   a malformed file or a value of the wrong type is an error naming the file, line and
//!   column.
//!
//! Streams are compared as text, as the runner's `subprocess.Popen(text=True)` pipes
//! deliver them: UTF-8 with universal newlines (`\r\n` and `\r` read as `\n`); see
//! [`crate::wasi_testsuite::run`].

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// What one test asks for and expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// Arguments after argv\[0\].
    pub args: Vec<String>,
    /// The whole guest environment, in the file's order.
    pub env: Vec<(String, String)>,
    /// Directories beside the test preopened under their own name (`dirs`).
    pub dirs: Vec<String>,
    /// A directory beside the test preopened as `/` (`root`).
    pub root: Option<String>,
    /// Bytes written to stdin (`write` operations).
    pub stdin: Vec<u8>,
    /// Expected beginning of stdout, if checked.
    pub stdout: Option<String>,
    /// Expected beginning of stderr, if checked.
    pub stderr: Option<String>,
    pub exit_code: i64,
    /// Why this test cannot run here (it is reported as skipped), if so.
    pub unsupported: Option<String>,
    /// Unknown keys, reported as warnings.
    pub unknown: Vec<String>,
}

/// A test description or manifest that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// serde_json's message carries "at line L column C".
    #[error("{path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The legacy keys, and the operation form's, as the runner lists them.
const LEGACY_KEYS: &[&str] = &["args", "root", "env", "exit_code", "stderr", "stdout", "dirs"];
const OPERATION_KEYS: &[&str] = &["operations", "proposals", "world", "servers"];

/// Reads `<name>.json`; a missing file is the default description.
pub fn read_spec(path: &Path) -> Result<Spec, FormatError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Spec::default()),
        Err(e) => return Err(FormatError::Io { path: shown, source: e }),
    };
    parse_spec(&text).map_err(|e| match e {
        ParseError::Json(source) => FormatError::Json { path: shown, source },
        ParseError::Invalid(message) => FormatError::Invalid { path: shown, message },
    })
}

enum ParseError {
    Json(serde_json::Error),
    Invalid(String),
}

fn parse_spec(text: &str) -> Result<Spec, ParseError> {
    let raw: Raw = serde_json::from_str(text).map_err(ParseError::Json)?;
    let has = |keys: &[&str]| raw.present.iter().any(|k| keys.contains(&k.as_str()));
    let mut spec = Spec { unknown: raw.unknown.clone(), ..Spec::default() };
    if has(OPERATION_KEYS) {
        if has(LEGACY_KEYS) {
            return Err(ParseError::Invalid("cannot mix configuration styles (legacy keys and `operations`)".into()));
        }
        operations(&raw, &mut spec).map_err(ParseError::Invalid)?;
    } else {
        spec.args = raw.args.unwrap_or_default();
        spec.env = raw.env.map(|e| e.0).unwrap_or_default();
        spec.dirs = raw.dirs.unwrap_or_default();
        spec.root = raw.root.flatten().filter(|r| !r.is_empty());
        spec.stdout = raw.stdout.flatten();
        spec.stderr = raw.stderr.flatten();
        spec.exit_code = raw.exit_code.unwrap_or(0);
    }
    Ok(spec)
}

/// The operation form, reduced to one run.
fn operations(raw: &Raw, spec: &mut Spec) -> Result<(), String> {
    if raw.proposals.as_ref().is_some_and(|p| !p.is_empty()) {
        spec.unsupported = Some(format!("needs WASI proposals {:?}", raw.proposals.as_deref().unwrap_or_default()));
    }
    if let Some(w) = raw.world.as_deref().filter(|w| *w != "wasi:cli/command") {
        spec.unsupported = Some(format!("WASI world `{w}` (preview1 runs commands only)"));
    }
    if raw.servers_given {
        spec.unsupported = Some("needs HTTP servers".into());
    }
    let ops = raw.operations.clone().unwrap_or_else(|| vec![op_of("run"), op_of("wait")]);
    let (mut running, mut runs, mut waited) = (false, 0, false);
    let (mut stdout, mut stderr) = (None::<String>, None::<String>);
    for (i, op) in ops.iter().enumerate() {
        let at = |m: String| format!("operations[{i}]: {m}");
        let ty = op.get("type").and_then(|t| t.as_str()).ok_or_else(|| at("no `type`".into()))?;
        let text = |key: &str, default: &str| -> Result<String, String> {
            match op.get(key) {
                None => Ok(default.to_owned()),
                Some(v) => v.as_str().map(str::to_owned).ok_or_else(|| at(format!("`{key}` must be a string"))),
            }
        };
        match ty {
            "run" => {
                if running {
                    return Err(at("run: process still running".into()));
                }
                runs += 1;
                running = true;
                waited = false;
                if runs > 1 {
                    spec.unsupported = Some("runs the module more than once".into());
                }
                spec.args = match op.get("args") {
                    None => vec![],
                    Some(v) => serde_json::from_value(v.clone()).map_err(|e| at(format!("args: {e}")))?,
                };
                spec.env = match op.get("env") {
                    None => vec![],
                    Some(v) => serde_json::from_value::<Env>(v.clone()).map_err(|e| at(format!("env: {e}")))?.0,
                };
                spec.root = match op.get("root") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(_) => Some(text("root", "")?).filter(|r| !r.is_empty()),
                };
            }
            "read" | "write" | "wait" if !running => return Err(at(format!("{ty}: no process running"))),
            "read" => {
                let payload = text("payload", "")?;
                match text("id", "stdout")?.as_str() {
                    "stdout" => stdout.get_or_insert_with(String::new).push_str(&payload),
                    "stderr" => stderr.get_or_insert_with(String::new).push_str(&payload),
                    other => return Err(at(format!("read: no such stream: {other}"))),
                }
            }
            "write" => match text("id", "write")?.as_str() {
                "stdin" => spec.stdin.extend_from_slice(text("payload", "")?.as_bytes()),
                other => return Err(at(format!("write: no such stream: {other}"))),
            },
            "wait" => {
                running = false;
                waited = true;
                spec.exit_code = match op.get("exit_code") {
                    None => 0,
                    Some(v) => v.as_i64().ok_or_else(|| at("`exit_code` must be an integer".into()))?,
                };
            }
            "connect" | "send" | "recv" | "request" | "kill" => {
                spec.unsupported = Some(format!("uses the `{ty}` operation"));
            }
            other => return Err(at(format!("unsupported operation type {other}"))),
        }
    }
    if runs > 0 && !waited {
        return Err("the last `run` has no `wait`: the official runner kills the process and fails the test".into());
    }
    spec.stdout = stdout;
    spec.stderr = stderr;
    Ok(())
}

fn op_of(ty: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), ty.into());
    m
}

/// `manifest.json`: `name` and `version`; any other key is an error, as in the runner.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// Reads `<dir>/manifest.json` if there is one.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, FormatError> {
    let path = dir.join("manifest.json");
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t).map(Some).map_err(|source| FormatError::Json { path: shown, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FormatError::Io { path: shown, source: e }),
    }
}

/// The top-level object, read key by key so that a wrong type is reported at its line and
/// column and unknown keys are collected rather than refused.
#[derive(Default)]
struct Raw {
    present: Vec<String>,
    unknown: Vec<String>,
    args: Option<Vec<String>>,
    env: Option<Env>,
    exit_code: Option<i64>,
    dirs: Option<Vec<String>>,
    root: Option<Option<String>>,
    stdout: Option<Option<String>>,
    stderr: Option<Option<String>>,
    operations: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    proposals: Option<Vec<String>>,
    world: Option<String>,
    servers_given: bool,
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a test description object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Raw, A::Error> {
                let mut r = Raw::default();
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "args" => r.args = Some(m.next_value()?),
                        "env" => r.env = Some(m.next_value()?),
                        "exit_code" => r.exit_code = Some(m.next_value()?),
                        "dirs" => r.dirs = Some(m.next_value()?),
                        "root" => r.root = Some(m.next_value()?),
                        "stdout" => r.stdout = Some(m.next_value()?),
                        "stderr" => r.stderr = Some(m.next_value()?),
                        "operations" => r.operations = Some(m.next_value()?),
                        "proposals" => r.proposals = Some(m.next_value()?),
                        "world" => r.world = Some(m.next_value()?),
                        "servers" => {
                            m.next_value::<IgnoredAny>()?;
                            r.servers_given = true;
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            r.unknown.push(key.clone());
                        }
                    }
                    r.present.push(key);
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// `env`: an object of strings, kept in the file's order (the runner's Python dict keeps
/// insertion order, and adapters pass `--env k=v` in that order).
#[derive(Debug, Clone, Default)]
struct Env(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Env;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Env, A::Error> {
                let mut v: Vec<(String, String)> = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, String>()? {
                    if v.iter().any(|(old, _)| *old == k) {
                        return Err(de::Error::custom(format!("duplicate variable `{k}`")));
                    }
                    v.push((k, val));
                }
                Ok(Env(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Spec {
        parse_spec(t).unwrap_or_else(|e| match e {
            ParseError::Json(e) => panic!("{e}"),
            ParseError::Invalid(m) => panic!("{m}"),
        })
    }

    #[test]
    fn legacy_fields_and_defaults() {
        let s = parse(
            r#"{"args": ["a", "b c"], "env": {"Z": "1", "A": "2"}, "dirs": ["fs.dir"], "stdout": "hi", "exit_code": 3}"#,
        );
        assert_eq!(s.args, ["a", "b c"]);
        assert_eq!(s.env, [("Z".into(), "1".into()), ("A".into(), "2".into())], "file order kept");
        assert_eq!(s.dirs, ["fs.dir"]);
        assert_eq!((s.stdout.as_deref(), s.stderr.as_deref(), s.exit_code), (Some("hi"), None, 3));
        assert_eq!(parse("{}"), Spec::default());
        assert_eq!(parse(r#"{"stdout": null, "root": null}"#), Spec::default());
    }

    #[test]
    fn operations_reduce_to_one_run() {
        let s = parse(
            r#"{"operations": [{"type": "run", "args": ["x"], "root": "r.dir"}, {"type": "write", "id": "stdin", "payload": "in"},
                {"type": "read", "payload": "a"}, {"type": "read", "payload": "b"}, {"type": "read", "id": "stderr", "payload": "e"},
                {"type": "wait", "exit_code": 4}]}"#,
        );
        assert_eq!((s.args, s.root.as_deref(), s.stdin.as_slice()), (vec!["x".to_owned()], Some("r.dir"), &b"in"[..]));
        assert_eq!((s.stdout.as_deref(), s.stderr.as_deref(), s.exit_code), (Some("ab"), Some("e"), 4));
        assert!(s.unsupported.is_none());
        let sock = parse(
            r#"{"operations": [{"type": "run"}, {"type": "connect"}, {"type": "wait"}], "proposals": ["sockets"]}"#,
        );
        assert!(sock.unsupported.is_some());
    }

    #[test]
    fn errors_name_line_and_column_and_unknown_keys_are_kept() {
        let e = match parse_spec("{\n  \"args\": [1]\n}") {
            Err(ParseError::Json(e)) => e,
            _ => panic!("a type error"),
        };
        assert_eq!((e.line(), e.column() > 0), (2, true), "{e}");
        assert!(matches!(parse_spec("{\"args\": [] \"env\": {}}"), Err(ParseError::Json(_))));
        assert!(matches!(parse_spec(r#"{"args": [], "operations": []}"#), Err(ParseError::Invalid(_))));
        assert!(matches!(parse_spec(r#"{"operations": [{"type": "run"}]}"#), Err(ParseError::Invalid(_))));
        assert_eq!(parse(r#"{"wasi_functions": []}"#).unknown, ["wasi_functions"]);
    }
}
