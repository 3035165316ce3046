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
//! - A program that can host workers calls [`crate::registry::serve_if_worker`] first thing
//!   in `main` (the CLI and the scenario harness do). That call marks the program as a worker
//!   host ([`become_host`]) and, when the process was started as a worker
//!   (`WASI_CONFORM_WORKER=<runtime>`), serves runs until its stdin closes ([`serve`]) and
//!   gives `main` the exit code to return.
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
//! - A program that did not call it (a unit test binary) cannot be re-run as a worker:
//!   there [`Isolated`] runs the adapter in-process, as before.
//! - The wire format is in `wire.rs`; the worker processes are [`LineChild`]ren.
//!
//! Which adapters are isolated is the registry's policy ([`crate::registry`],
//! `WASI_CONFORM_ISOLATE`).

mod wire;

use std::io::{BufRead, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use wasi_conform_case::outcome::Ending;
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;

use crate::process::{signal_name, LineChild, SpawnError, StderrMode};
use crate::{Availability, Execution, Runtime, Sandbox};
use wire::{Reply, Request};

/// Environment variable that makes a worker host serve runs of this runtime.
pub const WORKER_ENV: &str = "WASI_CONFORM_WORKER";
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
    /// Runs a case with explicit (guest name, host directory) preopens, and `preload`
    /// written into guest memory before `_start` when given ([`Runtime::run_preloaded`]).
    fn run_in(&self, case: &TestCase, preopens: &[(String, PathBuf)], preload: Option<&Preload>) -> Execution;
}

/// Marks this program as a worker host; when it was started as a worker, the name of the
/// runtime it is to serve.
pub fn become_host() -> Option<String> {
    HOST_SERVES.store(true, Ordering::SeqCst);
    std::env::var_os(WORKER_ENV).map(|name| name.to_string_lossy().into_owned())
}

/// Whether this program can be re-run as a worker (it called [`become_host`]).
pub fn host_serves_workers() -> bool {
    HOST_SERVES.load(Ordering::SeqCst)
}

/// Why a worker stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no in-process runtime named `{0}`")]
    UnknownRuntime(String),
    #[error("redirecting stdout: {0}")]
    Redirect(std::io::Error),
    #[error("writing a reply: {0}")]
    Reply(std::io::Error),
    #[error("reading a request: {0}")]
    Request(std::io::Error),
    #[error("{0}")]
    Decode(#[from] base64::DecodeError),
    #[error("{0}")]
    Encode(#[from] serde_json::Error),
}

/// A worker's `main`: serves runs of `rt` (the runtime called `name`, `None` when there
/// is no such in-process runtime) until stdin closes, and says how the process should exit
/// (0, or 2 after printing why it stopped).
pub fn serve(name: &str, rt: Option<Box<dyn InProcess>>) -> ExitCode {
    let served = match rt {
        Some(rt) => serve_runs(name, rt.as_ref()),
        None => Err(ServeError::UnknownRuntime(name.to_owned())),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasi-conform worker ({name}): {e}");
            ExitCode::from(2)
        }
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

    fn take_worker(&self) -> Result<Worker, StartError> {
        if let Some(w) = self.idle.lock().map_err(|_| StartError::Poisoned)?.pop() {
            return Ok(w);
        }
        Worker::start(self.inner.name(), self.live.clone())
    }

    fn run_isolated(&self, case: &TestCase, preopens: &[(String, PathBuf)], preload: Option<&Preload>) -> Execution {
        let name = self.inner.name();
        let mut worker = match self.take_worker() {
            Ok(w) => w,
            Err(e) => return Execution::crash(format!("cannot start the {name} worker process: {e}")),
        };
        let line = match serde_json::to_string(&Request::new(case, preopens, preload)) {
            Ok(l) => l,
            Err(e) => return Execution::crash(format!("cannot encode the case: {e}")),
        };
        if worker.proc.send(&line).is_err() {
            return Execution::crash(worker.died(name).to_string());
        }
        match worker.proc.recv_timeout(case.limits.timeout + GRACE) {
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
            Err(mpsc::RecvTimeoutError::Disconnected) => Execution::crash(worker.died(name).to_string()),
        }
    }
}

impl Isolated {
    fn run_maybe_preloaded(&self, case: &TestCase, sandbox: &Sandbox, preload: Option<&Preload>) -> Execution {
        if host_serves_workers() {
            self.run_isolated(case, sandbox.preopens(), preload)
        } else {
            self.inner.run_in(case, sandbox.preopens(), preload)
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
        self.run_maybe_preloaded(case, sandbox, None)
    }

    fn takes_preload(&self) -> bool {
        self.inner.takes_preload()
    }

    fn run_preloaded(&self, case: &TestCase, preload: &Preload, sandbox: &Sandbox) -> Execution {
        self.run_maybe_preloaded(case, sandbox, Some(preload))
    }

    fn bench_notes(&self) -> Vec<(String, String)> {
        let mode = if host_serves_workers() { "worker process (crash-isolated)" } else { "in-process" };
        vec![("isolation".to_owned(), mode.to_owned())]
    }
}

/// Why a worker did not start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("worker pool lock poisoned")]
    Poisoned,
    #[error("current executable: {0}")]
    CurrentExe(std::io::Error),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error("unexpected greeting {0:?} (is the executable a worker host?)")]
    Greeting(String),
    #[error(transparent)]
    Died(#[from] Died),
}

/// A worker that is gone, and how it went.
#[derive(Debug, thiserror::Error)]
#[error("the {name} worker process died: {how}")]
struct Died {
    name: String,
    how: String,
}

/// One worker process.
struct Worker {
    proc: LineChild,
    live: Arc<Mutex<Vec<u32>>>,
}

impl Worker {
    fn start(name: &str, live: Arc<Mutex<Vec<u32>>>) -> Result<Worker, StartError> {
        let exe = std::env::current_exe().map_err(StartError::CurrentExe)?;
        let mut cmd = Command::new(exe);
        cmd.env(WORKER_ENV, name).stdin(Stdio::piped());
        let proc = LineChild::spawn(&format!("{name}-worker"), cmd, StderrMode::Inherit)?;
        if let Ok(mut l) = live.lock() {
            l.push(proc.id());
        }
        let mut w = Worker { proc, live };
        match w.proc.recv_timeout(STARTUP) {
            Ok(hello) if hello == format!("{HELLO} {name}") => Ok(w),
            Ok(other) => {
                w.kill();
                Err(StartError::Greeting(other))
            }
            Err(_) => Err(w.died(name).into()),
        }
    }

    /// Kills the worker and waits for it.
    fn kill(&mut self) {
        let _ = self.proc.kill();
        self.forget();
    }

    /// Why the worker is gone (waiting for it to be reaped).
    fn died(&mut self, name: &str) -> Died {
        let status = self.proc.wait();
        self.forget();
        let how = match status {
            Ok(s) => match (s.code(), s.signal()) {
                (_, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig).unwrap_or("other signal")),
                (Some(code), None) => format!("exited with status {code}"),
                (None, None) => "ended".to_owned(),
            },
            Err(e) => format!("state unknown: {e}"),
        };
        Died { name: name.to_owned(), how }
    }

    fn forget(&self) {
        let pid = self.proc.id();
        if let Ok(mut l) = self.live.lock() {
            l.retain(|p| *p != pid);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing stdin ends the serve loop; the process is killed (in case a run is stuck)
        // and reaped when `proc` is dropped.
        self.forget();
    }
}

/// Serves runs of one runtime: one request line in, one reply line out.
fn serve_runs(name: &str, rt: &dyn InProcess) -> Result<(), ServeError> {
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
            return Err(ServeError::Redirect(std::io::Error::last_os_error()));
        }
        std::fs::File::from_raw_fd(fd)
    };
    let reply = |out: &mut std::fs::File, line: String| -> Result<(), ServeError> {
        writeln!(out, "{line}").and_then(|_| out.flush()).map_err(ServeError::Reply)
    };
    reply(&mut out, format!("{HELLO} {name}"))?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(ServeError::Request)?;
        let exec = match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (case, preopens, preload) = req.into_case()?;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.run_in(&case, &preopens, preload.as_ref())))
                    .unwrap_or_else(|_| Execution::crash("adapter panicked in the worker"))
            }
            Err(e) => Execution::crash(format!("unreadable request: {e}")),
        };
        let text = serde_json::to_string(&Reply::from_execution(exec))?;
        reply(&mut out, text)?;
    }
    Ok(())
}
