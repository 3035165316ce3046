//! Runtimes driven as a command line: [`wasmedge`], [`iwasm`] and any runtime a user
//! describes in `runtimes.toml` ([`configured`]). An adapter is a [`Spec`] — where the
//! binary is, how it says its version, a [`Template`] for its command line, and the
//! [`TrapRule`]s that tell a trap from an exit — and everything else is here, once: the
//! template language in [`template`], the process itself in [`crate::process`].
//!
//! # One run
//! 1. The module is [`TestCase::module_stderr_trace`]: a CLI's guest memory cannot be read
//!    after the run, so the module also writes its trace to fd 2 in frames, and
//!    [`extract_frames`] takes them out of stdout and stderr afterwards (see
//!    [`wasi_conform_suite::compile::TraceSink`]).
//! 2. It is written to a fresh temporary directory of its own (outside the sandbox, whose
//!    every file outside the preopens is a canary), named after `argv[0]` when
//!    `case.fixture.args[0]` is a plain file name ([`module_file_name`]), else
//!    [`FALLBACK_MODULE_NAME`]. The process runs in that directory and is given the bare
//!    file name, so a CLI that passes the module path as the guest's `argv[0]` (iwasm, the
//!    Wasmtime CLI) passes exactly `args[0]`. The guest's other arguments are
//!    `args[1..]`. When `args` is empty or `args[0]` is not a plain file name, the guest
//!    sees what its CLI makes of `module.wasm` as `argv[0]`; each adapter says what
//!    its CLI does to the name (WasmEdge, for one, replaces its extension with `.wasm`).
//! 3. The command line is the spec's [`Template`], expanded with the module's file name,
//!    the guest arguments, one mount per preopen (guest name, host directory) in fixture
//!    order, and one environment entry per `case.fixture.env` string, split at its first
//!    `=` (an entry with no `=` is passed as `KEY=`).
//! 4. The process starts with an **empty environment** (`env_clear`): the guest's
//!    environment is exactly what the template's environment flags pass, and nothing of
//!    the host's leaks in. It is the leader of a new process group; stdin is a pipe fed
//!    `case.fixture.stdin` (then closed), stdout and stderr are pipes drained by threads
//!    (each kept up to [`OUTPUT_CAP`] bytes; the rest is read and dropped so the process
//!    never blocks on a full pipe).
//! 5. Limits: after `case.limits.timeout` the whole process group is killed (`SIGKILL`) and
//!    the run is a [`Ending::Timeout`]. Memory: `RLIMIT_DATA` is set to
//!    `case.limits.memory_bytes` in the child before `exec` (unless the spec opts out).
//!    `RLIMIT_DATA` and not `RLIMIT_AS`: on Linux ≥ 4.7 it counts private writable
//!    mappings (heap, `mmap`ed linear memory once it is made accessible), while WAMR and
//!    WasmEdge, like every engine with guard-page bounds checks, *reserve* several GiB of
//!    inaccessible address space per linear memory, which `RLIMIT_AS` would refuse at
//!    once.
//!
//! # Endings
//! In this order:
//! - killed by the adapter at the time limit → `Timeout`;
//! - killed by a signal → `Crash("killed by signal N (NAME)")`: the runtime itself died
//!   (no runtime here turns a guest's `proc_raise` into a real host signal);
//! - a [`TrapRule`] matches (its exit code, and its pattern in stdout or stderr) →
//!   `Trap`, classified from the runtime's message (`unreachable` → `Unreachable`, "out of
//!   bounds" → `MemoryOutOfBounds`, anything else → `Other`). The runtime's diagnostic —
//!   from the start of the match to the end of that stream — is removed from the stream,
//!   since it is not guest output;
//! - a non-zero exit and no trace frame at all → `Crash` with the tail of the output:
//!   the runtime refused its arguments or the module before `_start` reached the first
//!   step (every scenario module writes a frame before its first call);
//! - otherwise → `Exit(code)`, the process exit status. A CLI can only say `proc_exit`'s
//!   code modulo 256: the `u32` a guest passes is truncated by the operating system.

pub mod configured;
pub mod iwasm;
pub mod template;
pub mod wasmedge;

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use regex::Regex;
use wasi_conform_case::frames::extract_frames;
use wasi_conform_case::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_case::test_case::TestCase;

use crate::process::{find_program, probe, signal_name, spawn_and_wait, Ended, FindError, ProbeError};
pub use crate::process::{first_line, Program, OUTPUT_CAP};
use crate::{Availability, Execution, Runtime, Sandbox};
pub use template::{Template, TemplateError};

/// The module's file name when `args[0]` cannot be one.
pub const FALLBACK_MODULE_NAME: &str = "module.wasm";
/// Bytes of output quoted in a crash message.
const TAIL: usize = 2048;

/// Everything that differs between command-line runtimes.
pub struct Spec {
    /// [`Runtime::name`].
    pub name: &'static str,
    /// Where the binary is.
    pub program: Program,
    /// How the runtime says its version.
    pub version: Version,
    /// The command line after the binary.
    pub template: Template,
    /// What marks a trap (any rule matching is enough).
    pub traps: Vec<TrapRule>,
    /// Whether to set `RLIMIT_DATA` to `case.limits.memory_bytes` in the child.
    pub limit_memory: bool,
}

/// How a runtime says its version.
pub enum Version {
    /// Run the binary with these arguments and read the output (stdout, else stderr) with
    /// the function.
    Args(&'static [&'static str], fn(&str) -> String),
    /// Run this command (its first word found like [`Program::exe`]); the version is the
    /// first non-empty line of its output.
    Command(Vec<String>),
    /// The runtime has no way to say it.
    Unknown,
}

/// A runtime diagnostic that means the guest trapped.
pub struct TrapRule {
    /// The exit status it comes with, if it always comes with one.
    pub exit_code: Option<i32>,
    /// Where the diagnostic is written.
    pub stream: Stream,
    /// The diagnostic; it and everything after it in the stream are the runtime's, not the
    /// guest's. `None`: the exit code alone marks a trap.
    pub pattern: Option<Regex>,
}

/// stdout or stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The binary and its version.
#[derive(Debug, Clone)]
struct Probe {
    bin: PathBuf,
    version: String,
}

/// Why a command-line runtime is not available: its binary, or its version command, is
/// missing or does not run.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

/// A command-line runtime described by a [`Spec`].
pub struct CliRuntime {
    spec: Spec,
    probe: OnceLock<Result<Probe, Unavailable>>,
}

impl CliRuntime {
    pub fn new(spec: Spec) -> Self {
        CliRuntime { spec, probe: OnceLock::new() }
    }

    /// The spec this adapter runs.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    fn probe(&self) -> &Result<Probe, Unavailable> {
        const NO_ENV: [(OsString, OsString); 0] = [];
        self.probe.get_or_init(|| {
            let bin = find_program(&self.spec.program)?;
            let version = match &self.spec.version {
                Version::Args(args, parse) => parse(probe(&bin, args.iter(), NO_ENV)?.text()),
                Version::Command(cmd) => {
                    let program =
                        Program { env: None, exe: cmd[0].clone(), install: self.spec.program.install.clone() };
                    let vbin = find_program(&program)?;
                    first_line(probe(&vbin, &cmd[1..], NO_ENV)?.text())
                }
                Version::Unknown => "unknown".to_owned(),
            };
            Ok(Probe { bin, version })
        })
    }
}

impl Runtime for CliRuntime {
    fn name(&self) -> &'static str {
        self.spec.name
    }

    fn exit_width(&self) -> wasi_conform_case::outcome::ExitWidth {
        wasi_conform_case::outcome::ExitWidth::LowByte
    }

    fn version(&self) -> String {
        match self.probe() {
            Ok(p) => p.version.clone(),
            Err(_) => "not installed".to_owned(),
        }
    }

    fn availability(&self) -> Availability {
        Availability::of(self.probe().as_ref())
    }

    fn run(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        let bin = match self.probe() {
            Ok(p) => p.bin.clone(),
            Err(e) => return Execution::crash(format!("not available: {e}")),
        };
        run_cli(&self.spec, &bin, case, sandbox.preopens())
    }
}

/// The module's file name for a guest `argv`: `args[0]` when it is a plain file name (not
/// empty, not `.` or `..`, no `/` or NUL, not starting with `-`, which a CLI would read as
/// an option, at most 255 bytes), else [`FALLBACK_MODULE_NAME`].
pub fn module_file_name(args: &[String]) -> &str {
    match args.first() {
        Some(a)
            if !a.is_empty()
                && a != "."
                && a != ".."
                && !a.contains(['/', '\0'])
                && !a.starts_with('-')
                && a.len() <= 255 =>
        {
            a
        }
        _ => FALLBACK_MODULE_NAME,
    }
}

/// Runs one case: see the module docs.
pub fn run_cli(spec: &Spec, bin: &Path, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
    let dir = match tempfile::Builder::new().prefix("wasi-conform-cli-").tempdir() {
        Ok(d) => d,
        Err(e) => return Execution::crash(format!("cannot create the module directory: {e}")),
    };
    let name = module_file_name(&case.fixture.args);
    if let Err(e) = std::fs::write(dir.path().join(name), case.module_stderr_trace.as_slice()) {
        return Execution::crash(format!("cannot write the module: {e}"));
    }
    let guest_args = case.fixture.args.get(1..).unwrap_or_default();
    let words = spec.template.expand(name, guest_args, preopens, &case.fixture.env);
    let mut cmd = Command::new(bin);
    cmd.args(&words).current_dir(dir.path()).env_clear();
    let limit = spec.limit_memory.then_some(case.limits.memory_bytes);
    let out = match spawn_and_wait(cmd, &case.fixture.stdin, case.limits.timeout, limit) {
        Ok(o) => o,
        Err(e) => return Execution::crash(format!("cannot run {}: {e}", bin.display())),
    };
    let (stdout, stderr, memory) = extract_frames(&out.stdout, &out.stderr);
    let mut streams = [stdout, stderr];
    // A module that writes no trace (`capture_len` 0: a wasi-testsuite test) has no frames
    // to prove it ran; its exit code is its own.
    let ending = classify(spec, &out.status, &mut streams, memory.is_some() || case.capture_len == 0);
    let [stdout, stderr] = streams;
    Execution { ending, stdout, stderr, memory, own_sandbox: None }
}

/// The ending of a run from its status and output; strips a matched trap diagnostic.
fn classify(spec: &Spec, status: &Ended, streams: &mut [Vec<u8>; 2], framed: bool) -> Ending {
    let status = match status {
        Ended::TimedOut => return Ending::Timeout,
        Ended::Exited(s) => *s,
    };
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => {
            let name = signal_name(sig).unwrap_or("signal");
            return Ending::Crash(format!("killed by signal {sig} ({name}){}", tails(streams)));
        }
        (None, None) => return Ending::Crash(format!("ended with status {status:?}")),
    };
    for rule in &spec.traps {
        if rule.exit_code.is_some_and(|c| c != code) {
            continue;
        }
        let stream = &mut streams[match rule.stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }];
        let message = match &rule.pattern {
            None => format!("exit status {code}"),
            Some(re) => {
                let text = String::from_utf8_lossy(stream).into_owned();
                let Some(m) = re.find(&text) else { continue };
                // Byte offsets of the lossy text equal the original's up to the first
                // invalid sequence; cut the original at the same place when it is valid.
                let at = if std::str::from_utf8(stream).is_ok() { m.start() } else { cut_point(stream, m.as_str()) };
                stream.truncate(at);
                m.as_str().trim().to_owned()
            }
        };
        return Ending::Trap(TrapKind { class: trap_class(&message), message });
    }
    if code != 0 && !framed {
        return Ending::Crash(format!("exit status {code} before the guest reached its first step{}", tails(streams)));
    }
    Ending::Exit(code as u32)
}

/// Where a diagnostic found in the lossy text starts in the raw stream.
fn cut_point(stream: &[u8], found: &str) -> usize {
    let needle = found.as_bytes();
    (0..stream.len()).rev().find(|&i| stream[i..].starts_with(needle)).unwrap_or(stream.len())
}

fn trap_class(message: &str) -> TrapClass {
    let m = message.to_ascii_lowercase();
    if m.contains("unreachable") {
        TrapClass::Unreachable
    } else if m.contains("out of bounds") {
        TrapClass::MemoryOutOfBounds
    } else {
        TrapClass::Other
    }
}

fn tails(streams: &[Vec<u8>; 2]) -> String {
    let tail = |b: &[u8]| String::from_utf8_lossy(&b[b.len().saturating_sub(TAIL)..]).trim().to_owned();
    let (o, e) = (tail(&streams[0]), tail(&streams[1]));
    let mut s = String::new();
    if !o.is_empty() {
        s.push_str(&format!("; stdout: {o}"));
    }
    if !e.is_empty() {
        s.push_str(&format!("; stderr: {e}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        let name = |a: &[&str]| module_file_name(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).to_owned();
        assert_eq!(name(&["scenario.wasm", "x"]), "scenario.wasm");
        assert_eq!(name(&["x"]), "x");
        for bad in ["", ".", "..", "a/b", "/abs", "-flag"] {
            assert_eq!(name(&[bad]), FALLBACK_MODULE_NAME, "{bad:?}");
        }
        assert_eq!(name(&[]), FALLBACK_MODULE_NAME);
    }

    fn sh(script: &str) -> crate::process::Finished {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).env_clear();
        spawn_and_wait(cmd, b"", std::time::Duration::from_secs(10), None).unwrap()
    }

    #[test]
    fn signals_are_crashes_and_trap_rules_strip_the_diagnostic() {
        let spec = Spec {
            name: "t",
            program: Program { env: None, exe: "sh".into(), install: String::new() },
            version: Version::Unknown,
            template: Template::parse(
                &["{module}", "{mounts}", "{envs}", "{args}"],
                &["{host}{guest}"],
                &["{key}{value}"],
            )
            .unwrap(),
            traps: vec![TrapRule {
                exit_code: Some(1),
                stream: Stream::Stdout,
                pattern: Some(Regex::new(r"Exception: [^\n]*\n?\z").unwrap()),
            }],
            limit_memory: true,
        };
        let f = sh("kill -SEGV $$");
        let mut streams = [f.stdout, f.stderr];
        assert!(matches!(classify(&spec, &f.status, &mut streams, true), Ending::Crash(m) if m.contains("SIGSEGV")));

        let f = sh("printf 'guest outException: unreachable\\n'; exit 1");
        let mut streams = [f.stdout, f.stderr];
        match classify(&spec, &f.status, &mut streams, true) {
            Ending::Trap(k) => assert_eq!(k.class, TrapClass::Unreachable),
            e => panic!("{e:?}"),
        }
        assert_eq!(streams[0], b"guest out");

        // The same text with another exit code is the guest's own output.
        let f = sh("printf 'Exception: unreachable\\n'; exit 2");
        let mut streams = [f.stdout, f.stderr];
        assert_eq!(classify(&spec, &f.status, &mut streams, true), Ending::Exit(2));

        // No frame and a failure: the runtime refused the run.
        let f = sh("echo 'cannot load' >&2; exit 1");
        let mut streams = [f.stdout, f.stderr];
        assert!(
            matches!(classify(&spec, &f.status, &mut streams, false), Ending::Crash(m) if m.contains("cannot load"))
        );
    }
}
