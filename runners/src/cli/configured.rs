//! Command-line runtimes a user adds with no Rust code, in a `runtimes.toml`.
//!
//! The file is `$WASI_CONFORM_RUNTIMES` when that is set (an empty value means no file),
//! else `<repo>/runtimes.toml` when it exists. `runtimes.example.toml` at the repository
//! root is a commented example and is never loaded by itself. Each `[[runtime]]` becomes a
//! runtime like the built-in ones (listed by `wasi-conform runtimes`, selected with
//! `--runtime NAME`, with known failures in `suite/expectations/NAME.toml`), run one process
//! per run by [`crate::cli`], which documents everything such a run shares (the module
//! file named after `argv[0]`, an empty environment, pipes, trace frames on stderr, time and
//! memory limits, how endings are read).
//!
//! ```toml
//! [[runtime]]
//! name = "wazero"                                   # [a-z0-9][a-z0-9._-]*, not a built-in name
//! command = ["wazero", "run", "{mounts}", "{envs}", "{module}", "--", "{args}"]
//! mount = "-mount={host}:{guest}"                   # word(s) repeated per preopen
//! env = "-env={key}={value}"                        # word(s) repeated per variable
//! version = ["wazero", "version"]                   # optional: prints the version
//! memory-limit = true                               # optional: RLIMIT_DATA (default true)
//! [runtime.trap]                                    # optional: how a trap shows
//! exit-code = 1                                     #   its exit status, and/or
//! stderr = 'error: wasm trap: [^\n]*'               #   a regex in stderr (or stdout = …)
//! ```
//!
//! - `command[0]` is the binary: a name looked up on `PATH`, or a path (with a `/`;
//!   relative to the directory of `runtimes.toml`). A binary that is missing makes the
//!   runtime *not available*, never a failure; so does a `version` command that cannot be
//!   found or exits non-zero (the version probe doubles as a check that the binary runs).
//! - The rest of `command`, `mount` and `env` are a [`Template`]: words with placeholders —
//!   `{module}` (the module's file name; the process runs in its directory), `{args}` (the
//!   guest's arguments after `argv[0]`, one word each), `{mounts}` (`mount` once per
//!   preopen, with `{host}` and `{guest}`), `{envs}` (`env` once per variable, with `{key}`
//!   and `{value}`). `{{` and `}}` are literal braces. `{module}`, `{mounts}`, `{envs}` and
//!   `{args}` must each appear exactly once in `command`, the last three alone in their
//!   word. `mount` and `env` are a string or an array of strings (`["--dir", "{guest}:{host}"]`
//!   repeats two words).
//! - `trap`: without it, a trapping guest is reported as whatever exit status the CLI gives
//!   (scenarios that expect a trap then fail). With it, a run is a trap when its exit
//!   status is `exit-code` (if given) and the regex (if given; Rust `regex` syntax) matches
//!   in that stream; the match and everything after it are taken as the runtime's
//!   diagnostic and removed from the stream.
//! - Parsing is strict: an unknown key, a wrong type, a bad placeholder, a bad regex, a
//!   duplicate or built-in name is refused with `file:line:column: what`: the registry
//!   ([`crate::registry`]) returns that error, and the CLI prints it and exits with status 2.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::cli::{CliRuntime, Program, Spec, Stream, Template, TrapRule, Version};

/// The variable naming the configuration file.
pub const CONFIG_ENV: &str = "WASI_CONFORM_RUNTIMES";

/// A refused configuration file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), place(*line, *column))]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based; 0 when the problem has no place (the file cannot be read).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// `:line:column`, or nothing for line 0.
fn place(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    runtime: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Entry {
    name: Spanned<String>,
    command: Spanned<Vec<Spanned<String>>>,
    mount: Spanned<toml::Value>,
    env: Spanned<toml::Value>,
    version: Option<Spanned<Vec<String>>>,
    trap: Option<Spanned<TrapEntry>>,
    memory_limit: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TrapEntry {
    exit_code: Option<i32>,
    stdout: Option<Spanned<String>>,
    stderr: Option<Spanned<String>>,
}

/// The configuration file in force: see the module docs.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os(CONFIG_ENV) {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("runtimes.toml");
            repo.is_file().then_some(repo)
        }
    }
}

/// Reads a configuration file; `taken` are names already in use.
pub fn load_file(path: &Path, taken: &[&str]) -> Result<Vec<CliRuntime>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.to_owned(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    load_str(&text, path, taken)
}

/// Parses a configuration; relative binary paths are relative to `path`'s directory.
pub fn load_str(text: &str, path: &Path, taken: &[&str]) -> Result<Vec<CliRuntime>, ConfigError> {
    let at = |span: Option<Range<usize>>, message: String| {
        let (line, column) = span.map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        ConfigError { path: path.to_owned(), line, column, message }
    };
    let doc: Doc = toml::from_str(text).map_err(|e| at(e.span(), e.message().to_owned()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut names: Vec<String> = taken.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    for e in doc.runtime {
        let name = e.name.get_ref();
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !valid {
            return Err(at(Some(e.name.span()), format!("runtime name {name:?} must match [a-z0-9][a-z0-9._-]*")));
        }
        if names.contains(name) {
            return Err(at(Some(e.name.span()), format!("runtime name {name:?} is already taken")));
        }
        names.push(name.clone());

        let words = e.command.get_ref();
        let Some((program, rest)) = words.split_first() else {
            return Err(at(Some(e.command.span()), "command must start with the binary".into()));
        };
        if program.get_ref().contains('{') {
            return Err(at(Some(program.span()), "command[0] is the binary and takes no placeholder".into()));
        }
        let list = |v: &Spanned<toml::Value>, field: &str| -> Result<Vec<String>, ConfigError> {
            let bad = || at(Some(v.span()), format!("{field} must be a string or an array of strings"));
            match v.get_ref() {
                toml::Value::String(s) => Ok(vec![s.clone()]),
                toml::Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned).ok_or_else(bad)).collect(),
                _ => Err(bad()),
            }
        };
        let (mount, env) = (list(&e.mount, "mount")?, list(&e.env, "env")?);
        let rest_text: Vec<&str> = rest.iter().map(|w| w.get_ref().as_str()).collect();
        let template = Template::parse(
            &rest_text,
            &mount.iter().map(String::as_str).collect::<Vec<_>>(),
            &env.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .map_err(|te| {
            let span = match (te.field, te.index) {
                ("command", Some(i)) => rest[i].span(),
                ("command", None) => e.command.span(),
                ("mount", _) => e.mount.span(),
                _ => e.env.span(),
            };
            let message = match te.field {
                // Indexes in `command` count the binary.
                "command" => match te.index {
                    Some(i) => format!("command[{}]: {}", i + 1, te.message),
                    None => format!("command: {}", te.message),
                },
                _ => te.to_string(),
            };
            at(Some(span), message)
        })?;

        let traps = match &e.trap {
            None => Vec::new(),
            Some(t) => {
                let tr = t.get_ref();
                let (stream, pattern) = match (&tr.stdout, &tr.stderr) {
                    (Some(_), Some(_)) => {
                        return Err(at(Some(t.span()), "trap: give `stdout` or `stderr`, not both".into()))
                    }
                    (Some(p), None) => (Stream::Stdout, Some(p)),
                    (None, Some(p)) => (Stream::Stderr, Some(p)),
                    (None, None) => (Stream::Stderr, None),
                };
                if pattern.is_none() && tr.exit_code.is_none() {
                    return Err(at(
                        Some(t.span()),
                        "trap: give `exit-code`, a pattern (`stdout`/`stderr`), or both".into(),
                    ));
                }
                let pattern = match pattern {
                    None => None,
                    Some(p) => Some(
                        Regex::new(p.get_ref())
                            .map_err(|err| at(Some(p.span()), format!("trap: invalid regex: {err}")))?,
                    ),
                };
                vec![TrapRule { exit_code: tr.exit_code, stream, pattern }]
            }
        };

        let line = line_col(text, e.name.span().start).0;
        let install = format!("runtime `{name}` is configured at {}:{line}", path.display());
        let resolve =
            |exe: &str| if exe.contains('/') { base.join(exe).to_string_lossy().into_owned() } else { exe.to_owned() };
        let version = match &e.version {
            None => Version::Unknown,
            Some(v) if v.get_ref().is_empty() => {
                return Err(at(Some(v.span()), "version must start with the binary".into()))
            }
            Some(v) => {
                let mut cmd = v.get_ref().clone();
                cmd[0] = resolve(&cmd[0]);
                Version::Command(cmd)
            }
        };
        out.push(CliRuntime::new(Spec {
            name: intern(name),
            program: Program { env: None, exe: resolve(program.get_ref()), install },
            version,
            template,
            traps,
            limit_memory: e.memory_limit.unwrap_or(true),
        }));
    }
    Ok(out)
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A `'static` name for [`crate::Runtime::name`], leaked once per distinct name.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().expect("names lock");
    names.entry(name.to_owned()).or_insert_with(|| Box::leak(name.to_owned().into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Runtime;

    fn load(text: &str) -> Result<Vec<CliRuntime>, ConfigError> {
        load_str(text, Path::new("/etc/x/runtimes.toml"), &["wasmtime"])
    }

    const GOOD: &str = r#"
[[runtime]]
name = "wazero"
command = ["wazero", "run", "{mounts}", "{envs}", "{module}", "--", "{args}"]
mount = "-mount={host}:{guest}"
env = "-env={key}={value}"
version = ["wazero", "version"]

[[runtime]]
name = "rel"
command = ["bin/rt", "{mounts}", "{envs}", "{module}", "{args}"]
mount = ["--dir", "{guest}:{host}"]
env = ["--env", "{key}={value}"]
memory-limit = false
[runtime.trap]
exit-code = 134
stderr = 'trap: [^\n]*'
"#;

    #[test]
    fn a_good_file_loads() {
        let rts = load(GOOD).unwrap();
        assert_eq!(rts.iter().map(|r| r.name()).collect::<Vec<_>>(), ["wazero", "rel"]);
        assert_eq!(rts[1].spec().program.exe, "/etc/x/bin/rt");
        assert!(!rts[1].spec().limit_memory);
        assert_eq!(rts[1].spec().traps[0].exit_code, Some(134));
        let words = rts[0].spec().template.expand(
            "m.wasm",
            &["a".into()],
            &[("/sandbox".into(), "/h".into())],
            &["K=V".into()],
        );
        assert_eq!(words, ["run", "-mount=/h:/sandbox", "-env=K=V", "m.wasm", "--", "a"]);
    }

    #[test]
    fn a_missing_binary_is_not_available() {
        let rts = load(GOOD).unwrap();
        match rts[1].availability() {
            crate::Availability::NotAvailable(why) => {
                assert!(why.contains("/etc/x/bin/rt is not an executable file"), "{why}");
                assert!(why.contains("runtimes.toml:10"), "{why}");
            }
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn the_shipped_example_loads() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes.example.toml");
        let rts = load_file(&example, &["wasmtime", "node"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rts.iter().map(|r| r.name()).collect::<Vec<_>>(), ["wazero", "wasmtime-cli"]);
    }

    fn err(text: &str) -> String {
        load(text).err().expect("refused").to_string()
    }

    #[test]
    fn mistakes_are_refused_with_their_place() {
        let base = "[[runtime]]\nname = \"a\"\ncommand = [\"a\", \"{mounts}\", \"{envs}\", \"{module}\", \"{args}\"]\nmount = \"{host}:{guest}\"\nenv = \"{key}={value}\"\n";
        let e = err(&format!("{base}comand = 1\n"));
        assert!(e.starts_with("/etc/x/runtimes.toml:6:1: unknown field `comand`"), "{e}");
        let e = err(&base.replace("\"{module}\"", "\"{modul}\""));
        assert!(
            e.starts_with("/etc/x/runtimes.toml:3:") && e.contains("command[3]: unknown placeholder {modul}"),
            "{e}"
        );
        let e = err(&base.replace("\"{host}:{guest}\"", "\"{host}\""));
        assert!(e.starts_with("/etc/x/runtimes.toml:4:9: mount: must use {guest}"), "{e}");
        let e = err(&base.replace("name = \"a\"", "name = \"wasmtime\""));
        assert!(e.starts_with("/etc/x/runtimes.toml:2:8: runtime name \"wasmtime\" is already taken"), "{e}");
        let e = err(&base.replace("name = \"a\"", "name = \"A b\""));
        assert!(e.contains("must match"), "{e}");
        let e = err(&format!("{base}[runtime.trap]\nstderr = '('\n"));
        assert!(e.starts_with("/etc/x/runtimes.toml:7:10: trap: invalid regex"), "{e}");
        let e = err(&format!("{base}[runtime.trap]\n"));
        assert!(e.contains("trap: give"), "{e}");
        let e = err(&format!("{base}[runtime.trap]\nexit-code = \"x\"\n"));
        assert!(e.starts_with("/etc/x/runtimes.toml:7:13:"), "{e}");
        let e = err("[[runtime]]\nname = \"a\"\n");
        assert!(e.contains("missing field"), "{e}");
        let e = err("[[runtimes]]\n");
        assert!(e.starts_with("/etc/x/runtimes.toml:1:") && e.contains("unknown field `runtimes`"), "{e}");
    }
}
