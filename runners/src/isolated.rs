//! Crash isolation for in-process adapters: the runtime runs in a worker process, so a
//! runtime that dies on a signal (a segfault in its native code, an abort) costs one run,
//! not the harness.
//!
//! In-process adapters are fast because nothing crosses a process boundary; they are also
//! unprotected: `catch_unwind` stops a Rust panic, but not `SIGSEGV`. Wasmer 7.4's
//! `poll_oneoff` reads subscriptions with unknown event tags through an invalid enum value
//! (undefined behaviour; observed as garbage errnos, hangs and a segfault of the whole
//! harness), so Wasmer runs isolated by default.
//!
//! How it works:
//! - A program that can host workers calls [`serve_if_worker`] first thing in `main` (the CLI
//!   and the scenario harness do). That call marks the program as a worker host and, when
//!   the process was started as a worker (`WASI_CONFORM_WORKER=<runtime>`), serves runs
//!   until its stdin closes and exits without returning.
//! - [`Isolated`] wraps an [`InProcess`] adapter. Each run takes an idle worker (the same
//!   executable, re-run with `WASI_CONFORM_WORKER`) or starts one, sends the case as one
//!   JSON line on the worker's stdin and reads the execution back as one JSON line.
//!   Workers are long-lived: a run costs a round trip, not a process start.
//! - The worker's own stdout is the protocol channel; the worker points fd 1 at its stderr
//!   before serving, so nothing a runtime prints can corrupt a reply. Its stderr is the
//!   harness's.
//! - Endings: the adapter's own limits work as in-process (its watchdog reports a timeout;
//!   the worker is then replaced, since a guest it could not stop may still be running).
//!   If no reply comes within the case's timeout plus [`GRACE`], the worker is killed and the
//!   run is a timeout. If the worker dies, the run is a crash naming the signal
//!   (`the wasmer worker process died: killed by signal 11 (SIGSEGV)`), and the next run
//!   starts a fresh worker.
//! - A program that did not call [`serve_if_worker`] (a unit test binary) cannot be re-run
//!   as a worker: there [`Isolated`] runs the adapter in-process, as before.
//!
//! Which adapters are isolated: `WASI_CONFORM_ISOLATE` is a comma-separated list of runtime
//! names (`all` for every in-process adapter, `none` to isolate nothing); default: `wasmer`.
//! The reference is never isolated: it is plain safe Rust with its own in-memory file system.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use wasi_conform_suite::case::{Limits, TestCase};
use wasi_conform_suite::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_suite::scenario::{Fixture, Preopen, Tree};

use crate::{Availability, Execution, Runtime, Sandbox};

/// Environment variable that makes a worker host serve runs of this runtime.
pub const WORKER_ENV: &str = "WASI_CONFORM_WORKER";
/// Environment variable choosing which in-process adapters run isolated.
pub const ISOLATE_ENV: &str = "WASI_CONFORM_ISOLATE";
/// Adapters isolated when [`ISOLATE_ENV`] is not set.
const DEFAULT_ISOLATED: &[&str] = &["wasmer"];
/// First line a worker writes: protocol version and the runtime it serves.
const HELLO: &str = "wasi-conform-worker/1";
/// Time a reply may take beyond the case's own timeout (the adapter's watchdog and its
/// grace period come first) before the worker is killed.
pub const GRACE: Duration = Duration::from_secs(10);
/// Time a new worker has to say hello.
const STARTUP: Duration = Duration::from_secs(60);

static HOST_SERVES: AtomicBool = AtomicBool::new(false);

/// An adapter that runs guests inside this process with host directories as preopens: the
/// kind [`Isolated`] can move into a worker process.
pub trait InProcess: Runtime {
    /// Runs a case with explicit (guest name, host directory) preopens.
    fn run_in(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution;
}

impl InProcess for crate::wasmtime::Wasmtime {
    fn run_in(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
        self.run_with_preopens(case, preopens)
    }
}

impl InProcess for crate::wasmi::Wasmi {
    fn run_in(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
        self.run_with_preopens(case, preopens)
    }
}

impl InProcess for crate::wasmer::Wasmer {
    fn run_in(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
        self.run_with_preopens(case, preopens)
    }
}

/// The in-process adapter of this name, for a worker to serve.
fn in_process(name: &str) -> Option<Box<dyn InProcess>> {
    match name {
        "wasmtime" => Some(Box::new(crate::wasmtime::Wasmtime::new())),
        "wasmi" => Some(Box::new(crate::wasmi::Wasmi::new())),
        "wasmer" => Some(Box::new(crate::wasmer::Wasmer::new())),
        _ => None,
    }
}

/// Marks this program as a worker host; when it was started as a worker, serves runs on
/// stdin/stdout until stdin closes and exits. Call it first thing in `main`.
pub fn serve_if_worker() {
    HOST_SERVES.store(true, Ordering::SeqCst);
    if let Some(name) = std::env::var_os(WORKER_ENV) {
        let name = name.to_string_lossy().into_owned();
        std::process::exit(match serve(&name) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("wasi-conform worker ({name}): {e}");
                2
            }
        });
    }
}

/// Whether this program can be re-run as a worker (it called [`serve_if_worker`]).
pub fn host_serves_workers() -> bool {
    HOST_SERVES.load(Ordering::SeqCst)
}

/// `rt` wrapped in [`Isolated`] when [`ISOLATE_ENV`] (or the default) names it.
pub fn isolate_if_configured(rt: Box<dyn InProcess>) -> Box<dyn Runtime> {
    let setting = std::env::var(ISOLATE_ENV).ok();
    let isolate = match setting.as_deref() {
        None => DEFAULT_ISOLATED.contains(&rt.name()),
        Some(list) => list.split(',').map(str::trim).any(|n| n == "all" || n == rt.name()),
    };
    if isolate {
        Box::new(Isolated::new(rt))
    } else {
        rt
    }
}

/// An in-process adapter run in worker processes (see the module docs).
pub struct Isolated {
    inner: Box<dyn InProcess>,
    idle: Mutex<Vec<Worker>>,
    /// Process ids of the live workers (idle or busy).
    live: Arc<Mutex<Vec<u32>>>,
}

impl Isolated {
    pub fn new(inner: Box<dyn InProcess>) -> Self {
        Isolated { inner, idle: Mutex::new(Vec::new()), live: Arc::default() }
    }

    /// Process ids of the live worker processes (for diagnostics and the isolation tests).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.live.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn take_worker(&self) -> Result<Worker, String> {
        if let Some(w) = self.idle.lock().map_err(|_| "worker pool lock poisoned")?.pop() {
            return Ok(w);
        }
        Worker::start(self.inner.name(), self.live.clone())
    }

    fn run_isolated(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
        let name = self.inner.name();
        let mut worker = match self.take_worker() {
            Ok(w) => w,
            Err(e) => return Execution::crash(format!("cannot start the {name} worker process: {e}")),
        };
        let line = match serde_json::to_string(&Request::new(case, preopens)) {
            Ok(l) => l,
            Err(e) => return Execution::crash(format!("cannot encode the case: {e}")),
        };
        if worker.send(&line).is_err() {
            return Execution::crash(worker.died(name));
        }
        match worker.replies.recv_timeout(case.limits.timeout + GRACE) {
            Ok(reply) => match serde_json::from_str::<Reply>(&reply) {
                Ok(r) => {
                    let exec = r.into_execution();
                    // A timed-out run may leave a guest thread spinning in the worker: a
                    // fresh worker is cheaper than the CPU it would burn.
                    if exec.ending == Ending::Timeout {
                        worker.kill();
                    } else if let Ok(mut idle) = self.idle.lock() {
                        idle.push(worker);
                    }
                    exec
                }
                Err(e) => Execution::crash(format!("unreadable reply from the {name} worker: {e}")),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                worker.kill();
                Execution { ending: Ending::Timeout, stdout: vec![], stderr: vec![], memory: None, own_sandbox: None }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Execution::crash(worker.died(name)),
        }
    }
}

impl Runtime for Isolated {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn version(&self) -> String {
        self.inner.version()
    }

    fn availability(&self) -> Availability {
        self.inner.availability()
    }

    fn run(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        if host_serves_workers() {
            self.run_isolated(case, sandbox.preopens())
        } else {
            self.inner.run_in(case, sandbox.preopens())
        }
    }

    fn bench_notes(&self) -> Vec<(String, String)> {
        let mode = if host_serves_workers() { "worker process (crash-isolated)" } else { "in-process" };
        vec![("isolation".to_owned(), mode.to_owned())]
    }
}

/// One worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<String>,
    live: Arc<Mutex<Vec<u32>>>,
}

impl Worker {
    fn start(name: &str, live: Arc<Mutex<Vec<u32>>>) -> Result<Worker, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
        let mut child = Command::new(exe)
            .env(WORKER_ENV, name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| e.to_string())?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err("no pipes to the worker".into());
        };
        let (tx, replies) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("{name}-worker-reader"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        if let Ok(mut l) = live.lock() {
            l.push(child.id());
        }
        let mut w = Worker { child, stdin, replies, live };
        match w.replies.recv_timeout(STARTUP) {
            Ok(hello) if hello == format!("{HELLO} {name}") => Ok(w),
            Ok(other) => {
                w.kill();
                Err(format!("unexpected greeting {other:?} (is the executable a worker host?)"))
            }
            Err(_) => Err(w.died(name)),
        }
    }

    fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.stdin.write_all(line.as_bytes())?;
        self.stdin.write_all(b"\n")?;
        self.stdin.flush()
    }

    /// Kills the worker and waits for it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.forget();
    }

    /// Why the worker is gone (waiting for it to be reaped).
    fn died(&mut self, name: &str) -> String {
        let status = self.child.wait();
        self.forget();
        let how = match status {
            Ok(s) => match (s.code(), s.signal()) {
                (_, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
                (Some(code), None) => format!("exited with status {code}"),
                (None, None) => "ended".to_owned(),
            },
            Err(e) => format!("state unknown: {e}"),
        };
        format!("the {name} worker process died: {how}")
    }

    fn forget(&self) {
        let pid = self.child.id();
        if let Ok(mut l) = self.live.lock() {
            l.retain(|p| *p != pid);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing stdin ends the serve loop; kill in case a run is stuck.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.forget();
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        _ => "other signal",
    }
}

/// Serves runs of one runtime: one request line in, one reply line out.
fn serve(name: &str) -> Result<(), String> {
    let rt = in_process(name).ok_or_else(|| format!("no in-process runtime named `{name}`"))?;
    // A runtime's panics are caught by its adapter and reported in the run's verdict, with
    // their message; printing them (with backtraces) as well would only be noise.
    std::panic::set_hook(Box::new(|_| {}));
    // The protocol gets its own copy of fd 1; fd 1 itself then points at stderr, so that
    // nothing a runtime prints can reach the channel.
    // SAFETY: dup/dup2 on the process's own standard descriptors, before any other thread
    // of this worker writes to them; the new descriptor is owned by `out` alone.
    let mut out = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(format!("redirecting stdout: {}", std::io::Error::last_os_error()));
        }
        std::fs::File::from_raw_fd(fd)
    };
    let reply = |out: &mut std::fs::File, line: String| -> Result<(), String> {
        writeln!(out, "{line}").and_then(|_| out.flush()).map_err(|e| format!("writing a reply: {e}"))
    };
    reply(&mut out, format!("{HELLO} {name}"))?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading a request: {e}"))?;
        let exec = match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (case, preopens) = req.into_case()?;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.run_in(&case, &preopens)))
                    .unwrap_or_else(|_| Execution::crash("adapter panicked in the worker"))
            }
            Err(e) => Execution::crash(format!("unreadable request: {e}")),
        };
        let text = serde_json::to_string(&Reply::from_execution(exec)).map_err(|e| e.to_string())?;
        reply(&mut out, text)?;
    }
    Ok(())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| e.to_string())
}

/// What a worker needs of a case: the module, the invocation, limits and the preopens'
/// host directories (the trees are already laid out by the parent's sandbox).
#[derive(Serialize, Deserialize)]
struct Request {
    id: String,
    module: String,
    args: Vec<String>,
    env: Vec<String>,
    stdin: String,
    preopens: Vec<(String, PathBuf)>,
    capture_len: u32,
    timeout_ms: u64,
    memory_bytes: u64,
}

impl Request {
    fn new(case: &TestCase, preopens: &[(String, PathBuf)]) -> Request {
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
        }
    }

    fn into_case(self) -> Result<(TestCase, Vec<(String, PathBuf)>), String> {
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
        Ok((case, self.preopens))
    }
}

/// An [`Execution`] on the wire. In-process adapters use host directories, so there is no
/// own sandbox to carry.
#[derive(Serialize, Deserialize)]
struct Reply {
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
    fn from_execution(e: Execution) -> Reply {
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

    fn into_execution(self) -> Execution {
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
