//! Runtimes driven as a command line: [`wasmedge`](crate::wasmedge),
//! [`iwasm`](crate::iwasm) and any runtime a user describes in `runtimes.toml`
//! ([`configured`](crate::configured)). An adapter is a [`Spec`] — where the binary is,
//! how it says its version, a [`Template`] for its command line, and the [`TrapRule`]s
//! that tell a trap from an exit — and everything else is here, once.
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

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use regex::Regex;
use wasi_conform_suite::case::TestCase;
use wasi_conform_suite::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_suite::trace::extract_frames;

use crate::{Availability, Execution, Runtime, Sandbox};

/// Bytes of stdout and of stderr kept per run.
pub const OUTPUT_CAP: usize = 64 << 20;
/// The module's file name when `args[0]` cannot be one.
pub const FALLBACK_MODULE_NAME: &str = "module.wasm";
/// How long the version probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the output threads may take to finish once the process is gone (a grandchild
/// that left the process group could keep a pipe open forever).
const DRAIN_GRACE: Duration = Duration::from_secs(2);
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

/// Where a runtime's binary is looked for.
#[derive(Debug, Clone)]
pub struct Program {
    /// An environment variable naming the binary (`WASMEDGE_BIN`), tried first.
    pub env: Option<String>,
    /// A name looked up on `PATH`, or a path (containing `/`) used as it is.
    pub exe: String,
    /// What to do when it is missing, for the not-available message (`set IWASM_BIN …`).
    pub install: String,
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

/// The first line of a version output, trimmed.
pub fn first_line(out: &str) -> String {
    out.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned()
}

// ----------------------------------------------------------------------------------------
// Templates

/// A value substituted inside one word of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `{module}`: the module's file name (the process runs in its directory).
    Module,
    /// `{host}`: a preopen's host directory (absolute).
    Host,
    /// `{guest}`: a preopen's guest name.
    Guest,
    /// `{key}`: an environment variable's name.
    Key,
    /// `{value}`: an environment variable's value.
    Value,
}

impl Slot {
    fn name(self) -> &'static str {
        match self {
            Slot::Module => "module",
            Slot::Host => "host",
            Slot::Guest => "guest",
            Slot::Key => "key",
            Slot::Value => "value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(Slot),
}

/// One word of a command line: text and [`Slot`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word(Vec<Piece>);

/// One element of a [`Template::command`]: a word, or a placeholder that expands to zero
/// or more words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Word(Word),
    /// `{mounts}`: [`Template::mount`] once per preopen.
    Mounts,
    /// `{envs}`: [`Template::env`] once per environment entry.
    Envs,
    /// `{args}`: the guest's arguments after `argv[0]`, one word each.
    Args,
}

/// A command line with placeholders.
///
/// Syntax, shared by the built-in adapters and `runtimes.toml`: each word is literal text
/// with `{name}` placeholders; `{{` and `}}` stand for literal braces. `command` holds
/// `{module}` (inside a word, e.g. `--module={module}` or alone) and each of the list
/// placeholders `{mounts}`, `{envs}` and `{args}` exactly once, each alone in its word.
/// `mount` is the word(s) repeated per preopen, with `{host}` and `{guest}`; `env` the
/// word(s) repeated per environment entry, with `{key}` and `{value}`. Any other
/// placeholder, an unmatched brace, or a placeholder used where it has no value is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub command: Vec<Element>,
    pub mount: Vec<Word>,
    pub env: Vec<Word>,
}

/// Where a template is wrong: which list (`command`, `mount`, `env`), which word, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub field: &'static str,
    /// Index of the word in its list; `None` for a problem of the whole list.
    pub index: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{i}]: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl Template {
    /// Parses the three lists (`command` without the binary).
    pub fn parse<S: AsRef<str>>(command: &[S], mount: &[S], env: &[S]) -> Result<Template, TemplateError> {
        let err = |field, index, message: String| TemplateError { field, index, message };
        let mut elements = Vec::new();
        let (mut modules, mut mounts, mut envs, mut args) = (0, 0, 0, 0);
        for (i, w) in command.iter().enumerate() {
            let w = w.as_ref();
            let element = match w {
                "{mounts}" => {
                    mounts += 1;
                    Element::Mounts
                }
                "{envs}" => {
                    envs += 1;
                    Element::Envs
                }
                "{args}" => {
                    args += 1;
                    Element::Args
                }
                _ => {
                    let word = parse_word(w, &[Slot::Module])
                        .map_err(|m| err("command", Some(i), format!("{m} (in {w:?})")))?;
                    modules += word.0.iter().filter(|p| **p == Piece::Slot(Slot::Module)).count();
                    Element::Word(word)
                }
            };
            elements.push(element);
        }
        for (name, count) in [("{module}", modules), ("{mounts}", mounts), ("{envs}", envs), ("{args}", args)] {
            if count != 1 {
                return Err(err("command", None, format!("must use {name} exactly once (it is used {count} times)")));
            }
        }
        let words = |field: &'static str, list: &[S], slots: &[Slot]| -> Result<Vec<Word>, TemplateError> {
            if list.is_empty() {
                return Err(err(field, None, "must have at least one word".into()));
            }
            let words = list
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    parse_word(w.as_ref(), slots).map_err(|m| err(field, Some(i), format!("{m} (in {:?})", w.as_ref())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for s in slots {
                if !words.iter().any(|w| w.0.contains(&Piece::Slot(*s))) {
                    return Err(err(field, None, format!("must use {{{}}}", s.name())));
                }
            }
            Ok(words)
        };
        Ok(Template {
            command: elements,
            mount: words("mount", mount, &[Slot::Host, Slot::Guest])?,
            env: words("env", env, &[Slot::Key, Slot::Value])?,
        })
    }

    /// The words after the binary for one run.
    pub fn expand(
        &self,
        module: &str,
        args: &[String],
        preopens: &[(String, PathBuf)],
        env: &[String],
    ) -> Vec<OsString> {
        let mut out = Vec::new();
        for e in &self.command {
            match e {
                Element::Word(w) => out.push(w.render(|s| (s == Slot::Module).then(|| OsStr::new(module)))),
                Element::Args => out.extend(args.iter().map(OsString::from)),
                Element::Mounts => {
                    for (guest, host) in preopens {
                        for w in &self.mount {
                            out.push(w.render(|s| match s {
                                Slot::Host => Some(host.as_os_str()),
                                Slot::Guest => Some(OsStr::new(guest.as_str())),
                                _ => None,
                            }));
                        }
                    }
                }
                Element::Envs => {
                    for entry in env {
                        let (k, v) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
                        for w in &self.env {
                            out.push(w.render(|s| match s {
                                Slot::Key => Some(OsStr::new(k)),
                                Slot::Value => Some(OsStr::new(v)),
                                _ => None,
                            }));
                        }
                    }
                }
            }
        }
        out
    }
}

impl Word {
    fn render<'a>(&self, value: impl Fn(Slot) -> Option<&'a OsStr>) -> OsString {
        let mut s = OsString::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => s.push(t),
                // Parsing admits only the slots the caller fills.
                Piece::Slot(slot) => s.push(value(*slot).unwrap_or_default()),
            }
        }
        s
    }
}

/// Parses one word, admitting only `allowed` slots.
fn parse_word(w: &str, allowed: &[Slot]) -> Result<Word, String> {
    const ALL: [Slot; 5] = [Slot::Module, Slot::Host, Slot::Guest, Slot::Key, Slot::Value];
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = w.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err("unmatched `}` (write `}}` for a literal brace)".into()),
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err("unclosed `{` (write `{{` for a literal brace)".into()),
                    }
                }
                let slot = match ALL.iter().find(|s| s.name() == name) {
                    Some(s) => *s,
                    None if ["mounts", "envs", "args"].contains(&name.as_str()) => {
                        return Err(format!("{{{name}}} must be a whole element of `command`, alone"))
                    }
                    None => return Err(format!("unknown placeholder {{{name}}}")),
                };
                if !allowed.contains(&slot) {
                    let names: Vec<String> = allowed.iter().map(|s| format!("{{{}}}", s.name())).collect();
                    return Err(format!("{{{name}}} cannot be used here (allowed: {})", names.join(", ")));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Slot(slot));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Word(pieces))
}

// ----------------------------------------------------------------------------------------
// The adapter

/// The binary and its version.
#[derive(Debug, Clone)]
struct Probe {
    bin: PathBuf,
    version: String,
}

/// A command-line runtime described by a [`Spec`].
pub struct CliRuntime {
    spec: Spec,
    probe: OnceLock<Result<Probe, String>>,
}

impl CliRuntime {
    pub fn new(spec: Spec) -> Self {
        CliRuntime { spec, probe: OnceLock::new() }
    }

    /// The spec this adapter runs.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    fn probe(&self) -> &Result<Probe, String> {
        self.probe.get_or_init(|| {
            let bin = find_program(&self.spec.program)?;
            let version = match &self.spec.version {
                Version::Args(args, parse) => {
                    let out = capture(&bin, args.iter().map(OsString::from).collect())?;
                    parse(&out)
                }
                Version::Command(cmd) => {
                    let program =
                        Program { env: None, exe: cmd[0].clone(), install: self.spec.program.install.clone() };
                    let vbin = find_program(&program)?;
                    first_line(&capture(&vbin, cmd[1..].iter().map(OsString::from).collect())?)
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

    fn exit_width(&self) -> wasi_conform_suite::outcome::ExitWidth {
        wasi_conform_suite::outcome::ExitWidth::LowByte
    }

    fn version(&self) -> String {
        match self.probe() {
            Ok(p) => p.version.clone(),
            Err(_) => "not installed".to_owned(),
        }
    }

    fn availability(&self) -> Availability {
        match self.probe() {
            Ok(_) => Availability::Available,
            Err(e) => Availability::NotAvailable(e.clone()),
        }
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
    cmd.args(&words).current_dir(dir.path());
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

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Killed by the adapter at the time limit.
    TimedOut,
    Exited(ExitStatus),
}

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    pub status: Status,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The ending of a run from its status and output; strips a matched trap diagnostic.
fn classify(spec: &Spec, status: &Status, streams: &mut [Vec<u8>; 2], framed: bool) -> Ending {
    let status = match status {
        Status::TimedOut => return Ending::Timeout,
        Status::Exited(s) => *s,
    };
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => {
            return Ending::Crash(format!("killed by signal {sig} ({}){}", signal_name(sig), tails(streams)))
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

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGXCPU => "SIGXCPU",
        _ => "signal",
    }
}

// ----------------------------------------------------------------------------------------
// Processes

/// Finds a program: the variable, else a path as given, else a name on `PATH`.
pub fn find_program(p: &Program) -> Result<PathBuf, String> {
    if let Some(var) = &p.env {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(&v);
            return if is_executable(&path) {
                Ok(path)
            } else {
                Err(format!("{var}={} is not an executable file", path.display()))
            };
        }
    }
    let unset = p.env.as_ref().map(|v| format!(" and {v} is not set")).unwrap_or_default();
    if p.exe.contains('/') {
        let path = PathBuf::from(&p.exe);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!("{} is not an executable file{unset}; {}", p.exe, p.install))
        };
    }
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|d| d.join(&p.exe)).find(|c| is_executable(c)))
        .unwrap_or_default();
    found.ok_or_else(|| format!("`{}` is not on PATH{unset}; {}", p.exe, p.install))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs a short command (a version probe) and returns its stdout, else its stderr.
fn capture(bin: &Path, args: Vec<OsString>) -> Result<String, String> {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    let out =
        spawn_and_wait(cmd, &[], PROBE_TIMEOUT, None).map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
    match out.status {
        Status::Exited(s) if s.success() => {
            let o = text(&out.stdout);
            Ok(if o.is_empty() { text(&out.stderr) } else { o })
        }
        Status::Exited(s) => Err(format!("{} failed ({s}): {}", bin.display(), text(&out.stderr))),
        Status::TimedOut => Err(format!("{} did not answer within {PROBE_TIMEOUT:?}", bin.display())),
    }
}

/// Spawns `cmd` with an empty environment in a new process group (and `RLIMIT_DATA` when
/// given), feeds `stdin`, drains stdout and stderr, and kills the group at `timeout`.
pub fn spawn_and_wait(
    mut cmd: Command,
    stdin: &[u8],
    timeout: Duration,
    memory_limit: Option<u64>,
) -> std::io::Result<Finished> {
    cmd.env_clear().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    if let Some(bytes) = memory_limit {
        // SAFETY: the closure runs between fork and exec and only calls setrlimit(2), which
        // is async-signal-safe; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The guest may never read (or close stdin): a broken pipe is not an error.
        let _ = input.write_all(&stdin);
    });
    let (out_tx, out_rx) = mpsc::channel();
    let drains: Vec<JoinHandle<()>> = [
        (0usize, Box::new(child.stdout.take().expect("stdout is piped")) as Box<dyn Read + Send>),
        (1, Box::new(child.stderr.take().expect("stderr is piped"))),
    ]
    .into_iter()
    .map(|(i, r)| {
        let tx = out_tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send((i, drain(r)));
        })
    })
    .collect();
    drop(out_tx);
    let (status_tx, status_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = status_tx.send(child.wait());
    });
    let status = match status_rx.recv_timeout(timeout) {
        Ok(s) => Status::Exited(s?),
        Err(_) => {
            // SAFETY: killpg(2) with the group this child leads; the child is not reaped
            // yet (its waiter has not returned), so the id cannot have been reused.
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = status_rx.recv();
            Status::TimedOut
        }
    };
    let _ = waiter.join();
    let mut streams = [Vec::new(), Vec::new()];
    let deadline = std::time::Instant::now() + DRAIN_GRACE;
    for _ in 0..2 {
        match out_rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok((i, bytes)) => streams[i] = bytes,
            Err(_) => break,
        }
    }
    // Threads still blocked (a pipe held open by a process that left the group) are
    // detached by dropping their handles.
    drop((drains, feeder));
    let [stdout, stderr] = streams;
    Ok(Finished { status, stdout, stderr })
}

/// Reads a stream to its end, keeping at most [`OUTPUT_CAP`] bytes.
fn drain(mut r: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(command: &[&str]) -> Result<Template, TemplateError> {
        Template::parse(command, &["--dir", "{guest}:{host}"], &["--env={key}={value}"])
    }

    #[test]
    fn a_template_expands_in_order() {
        let tpl = t(&["run", "{mounts}", "{envs}", "--", "{module}", "{args}"]).unwrap();
        let words = tpl.expand(
            "scenario.wasm",
            &["a".into(), "".into()],
            &[("/sandbox".into(), "/h/s".into()), ("/b".into(), "/h/b".into())],
            &["A=1".into(), "EQ=a=b".into(), "NOEQ".into()],
        );
        let words: Vec<&str> = words.iter().map(|w| w.to_str().unwrap()).collect();
        assert_eq!(
            words,
            [
                "run",
                "--dir",
                "/sandbox:/h/s",
                "--dir",
                "/b:/h/b",
                "--env=A=1",
                "--env=EQ=a=b",
                "--env=NOEQ=",
                "--",
                "scenario.wasm",
                "a",
                ""
            ]
        );
    }

    #[test]
    fn braces_escape_and_module_inside_a_word() {
        let tpl = t(&["--module={module}", "{{literal}}", "{mounts}", "{envs}", "{args}"]).unwrap();
        let words = tpl.expand("m.wasm", &[], &[], &[]);
        assert_eq!(words, [OsString::from("--module=m.wasm"), OsString::from("{literal}")]);
    }

    #[test]
    fn bad_templates_are_refused() {
        let msg = |c: &[&str]| t(c).unwrap_err().to_string();
        assert!(msg(&["{mounts}", "{envs}", "{args}"]).contains("{module} exactly once"));
        assert!(msg(&["{module}", "{module}", "{mounts}", "{envs}", "{args}"]).contains("2 times"));
        assert!(msg(&["{module}", "{mounts}", "{envs}", "{args}", "{modul}"]).contains("unknown placeholder {modul}"));
        assert!(msg(&["{module}", "-x{mounts}", "{envs}", "{args}"]).contains("alone"));
        assert!(msg(&["{module}", "{mounts}", "{envs}", "{args}", "{host}"]).contains("cannot be used here"));
        assert!(msg(&["{module", "{mounts}", "{envs}", "{args}"]).contains("unclosed"));
        assert!(msg(&["{module}}", "{mounts}", "{envs}", "{args}"]).starts_with("command[0]"));
        let e = Template::parse(&["{module}", "{mounts}", "{envs}", "{args}"], &["{host}"], &["{key}={value}"]);
        assert_eq!(e.unwrap_err().to_string(), "mount: must use {guest}");
    }

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

    fn sh(script: &str, stdin: &[u8], timeout: Duration) -> Finished {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script);
        spawn_and_wait(cmd, stdin, timeout, Some(256 << 20)).unwrap()
    }

    #[test]
    fn a_process_gets_stdin_an_empty_environment_and_its_streams() {
        let f = sh(
            "cat; env | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_=' >&2; exit 3",
            b"in",
            Duration::from_secs(10),
        );
        assert_eq!(f.stdout, b"in");
        assert_eq!(String::from_utf8_lossy(&f.stderr), "");
        assert!(matches!(f.status, Status::Exited(s) if s.code() == Some(3)));
    }

    #[test]
    fn a_hanging_process_group_is_killed_at_the_limit() {
        let started = std::time::Instant::now();
        // A grandchild holding stdout open: the group kill must reach it too.
        let f = sh("sleep 30 & sleep 30", b"", Duration::from_millis(300));
        assert_eq!(f.status, Status::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn signals_are_crashes_and_trap_rules_strip_the_diagnostic() {
        let spec = Spec {
            name: "t",
            program: Program { env: None, exe: "sh".into(), install: String::new() },
            version: Version::Unknown,
            template: t(&["{module}", "{mounts}", "{envs}", "{args}"]).unwrap(),
            traps: vec![TrapRule {
                exit_code: Some(1),
                stream: Stream::Stdout,
                pattern: Some(Regex::new(r"Exception: [^\n]*\n?\z").unwrap()),
            }],
            limit_memory: true,
        };
        let f = sh("kill -SEGV $$", b"", Duration::from_secs(10));
        let mut streams = [f.stdout, f.stderr];
        assert!(matches!(classify(&spec, &f.status, &mut streams, true), Ending::Crash(m) if m.contains("SIGSEGV")));

        let f = sh("printf 'guest outException: unreachable\\n'; exit 1", b"", Duration::from_secs(10));
        let mut streams = [f.stdout, f.stderr];
        match classify(&spec, &f.status, &mut streams, true) {
            Ending::Trap(k) => assert_eq!(k.class, TrapClass::Unreachable),
            e => panic!("{e:?}"),
        }
        assert_eq!(streams[0], b"guest out");

        // The same text with another exit code is the guest's own output.
        let f = sh("printf 'Exception: unreachable\\n'; exit 2", b"", Duration::from_secs(10));
        let mut streams = [f.stdout, f.stderr];
        assert_eq!(classify(&spec, &f.status, &mut streams, true), Ending::Exit(2));

        // No frame and a failure: the runtime refused the run.
        let f = sh("echo 'cannot load' >&2; exit 1", b"", Duration::from_secs(10));
        let mut streams = [f.stdout, f.stderr];
        assert!(
            matches!(classify(&spec, &f.status, &mut streams, false), Ending::Crash(m) if m.contains("cannot load"))
        );
    }
}
