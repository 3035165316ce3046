//! Starting a JS runner process: the runtime's binary found and asked its version, the
//! runner script written out once, the command line of a runner, and what a dead runner
//! left to say.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use super::{Launch, Spec};
use crate::process::{self, LineChild, ProbeError, StderrMode};

/// The JS runner, shared by every `node:wasi`-style runtime.
pub const RUNNER_JS: &str = include_str!("../../js/runner.mjs");
/// Bytes of a dead runner's stderr kept for the crash message.
const STDERR_TAIL: usize = 4096;

/// The binary and its version.
pub(super) struct Probe {
    pub bin: PathBuf,
    pub version: String,
}

/// Why a JS runtime's binary cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("{name} not found: {how}")]
    NotFound { name: &'static str, how: String },
    #[error("cannot run {}: {source} ({how})", bin.display())]
    Spawn { bin: PathBuf, source: std::io::Error, how: String },
    #[error("`{} {}` failed ({status})", bin.display(), args.join(" "))]
    Failed { bin: PathBuf, args: &'static [&'static str], status: ExitStatus },
    #[error(transparent)]
    Probe(ProbeError),
}

/// Finds the binary (see [`super::Binary`]) and asks it its version.
pub(super) fn probe(spec: &Spec) -> Result<Probe, BinaryError> {
    let b = &spec.binary;
    let how = match b.bundled {
        Some(_) => {
            format!("set {}, run `npm ci` at the repository root ({}), or put {} on PATH", b.env, b.install, b.exe)
        }
        None => format!("set {} or put {} on PATH; {}", b.env, b.exe, b.install),
    };
    let bin = process::env_path(b.env)
        .or_else(|| b.bundled.map(|rel| repo_root().join(rel)).filter(|p| process::is_executable(p)))
        .or_else(|| process::find_on_path(b.exe))
        .ok_or_else(|| BinaryError::NotFound { name: spec.name, how: how.clone() })?;
    let out = process::probe(&bin, spec.version_args, environment(spec)).map_err(|e| match e {
        ProbeError::Spawn { bin, source } => BinaryError::Spawn { bin, source, how },
        ProbeError::Failed { bin, status, .. } => BinaryError::Failed { bin, args: spec.version_args, status },
        e => BinaryError::Probe(e),
    })?;
    let version = (spec.version)(&out.stdout);
    Ok(Probe { bin, version })
}

/// The environment of every process started: the spec's variables and `PATH`.
fn environment(spec: &Spec) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let mut env: Vec<_> = spec.env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    if let Some(path) = std::env::var_os("PATH") {
        env.push(("PATH".into(), path));
    }
    env
}

/// The repository root (where `package.json` pins the runtimes `npm ci` installs).
fn repo_root() -> PathBuf {
    let runners = Path::new(env!("CARGO_MANIFEST_DIR"));
    runners.parent().unwrap_or(runners).to_path_buf()
}

/// The runner script, written out, in the adapter's directory.
pub(super) struct Script {
    dir: tempfile::TempDir,
    path: PathBuf,
    /// A directory for the runtime's own state (e.g. Deno's cache), and sandbox copies.
    pub state: PathBuf,
}

/// Why the runner script could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot create a directory for the runner script: {0}")]
    Dir(std::io::Error),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot create {}: {source}", path.display())]
    State { path: PathBuf, source: std::io::Error },
}

impl Script {
    /// Writes the script into a new temporary directory named after the runtime.
    pub fn write(name: &str) -> Result<Script, ScriptError> {
        let dir =
            tempfile::Builder::new().prefix(&format!("wasi-conform-{name}-")).tempdir().map_err(ScriptError::Dir)?;
        let path = dir.path().join("runner.mjs");
        std::fs::write(&path, RUNNER_JS).map_err(|source| ScriptError::Write { path: path.clone(), source })?;
        let state = dir.path().join("state");
        std::fs::create_dir(&state).map_err(|source| ScriptError::State { path: state.clone(), source })?;
        Ok(Script { dir, path, state })
    }
}

/// How to start the runner.
pub(super) struct Launcher<'a> {
    pub spec: &'static Spec,
    pub bin: &'a Path,
    pub script: &'a Script,
    pub heap_mb: u64,
}

impl Launcher<'_> {
    /// `<bin> <spec flags> runner.mjs --stdio=MODE`, with an empty environment but `PATH`
    /// and the spec's variables; the caller adds the mode.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.env_clear().envs(environment(self.spec)).current_dir(self.script.dir.path());
        (self.spec.command)(&mut cmd, &Launch { heap_mb: self.heap_mb, state_dir: &self.script.state });
        cmd.arg(&self.script.path).arg(self.spec.stdio.flag());
        if self.spec.close_through_wasi {
            cmd.arg("--close-through-wasi");
        }
        cmd
    }
}

/// Why a runner process did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {name}: {source}")]
pub struct StartError {
    name: &'static str,
    source: process::SpawnError,
}

/// Starts a runner with its stdout read line by line and its stderr's tail kept.
pub(super) fn start(name: &'static str, cmd: Command) -> Result<LineChild, StartError> {
    LineChild::spawn(name, cmd, StderrMode::Tail(STDERR_TAIL)).map_err(|source| StartError { name, source })
}

/// How a runner ended, for a crash message: `what` happened, its exit status and the end
/// of its stderr.
#[derive(Debug, thiserror::Error)]
#[error("{what} ({status}){}", last_words(stderr))]
pub struct Death {
    what: String,
    status: String,
    stderr: String,
}

fn last_words(stderr: &str) -> String {
    if stderr.is_empty() {
        ", nothing on its stderr".to_owned()
    } else {
        format!("; its stderr ends with:\n{stderr}")
    }
}

/// Kills and reaps a runner (it may still be alive, e.g. after closing its stdout) and
/// describes its death.
pub(super) fn death(runner: &mut LineChild, what: String) -> Death {
    let status = match runner.kill() {
        Ok(s) => s.to_string(),
        Err(e) => format!("status unknown: {e}"),
    };
    Death { what, status, stderr: runner.stderr_tail() }
}

#[cfg(test)]
mod tests {
    use super::super::{Binary, StdioMode};
    use super::*;

    #[test]
    fn a_missing_runtime_says_how_to_install_it() {
        let spec = Spec {
            name: "nosuch",
            binary: Binary {
                env: "WASI_CONFORM_NOSUCH_BIN",
                bundled: Some("node_modules/nosuch/bin/nosuch"),
                exe: "wasi-conform-nosuch-runtime",
                install: "installs nosuch",
            },
            version_args: &["--version"],
            version: process::first_line,
            env: &[],
            command: |_, _| {},
            stdio: StdioMode::Descriptors,
            close_through_wasi: false,
            max_runs_per_worker: 1,
            unreachable_dirs: &[],
            missing_imports: &[],
        };
        let e = probe(&spec).err().expect("not found").to_string();
        assert_eq!(
            e,
            "nosuch not found: set WASI_CONFORM_NOSUCH_BIN, run `npm ci` at the repository root (installs nosuch), \
             or put wasi-conform-nosuch-runtime on PATH"
        );
    }
}
