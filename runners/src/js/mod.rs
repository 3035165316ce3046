//! What the three JavaScript runtimes share: `runners/js/runner.mjs` run by the runtime's
//! own `node:wasi`, in a pool of long-lived worker processes speaking JSON lines. An adapter
//! ([`node`], [`bun`], [`deno`]) is a [`Spec`]: its name, where its binary is, how it says
//! its version, its command line, and how the guest's stdio reach `node:wasi`. Everything
//! else is here, once: a run (this file), finding the binary and starting a runner
//! ([`launch`]), the worker pool (`pool.rs`), the stdio pipes ([`stdio`]), the wire protocol
//! ([`protocol`]) and the bench notes ([`bench`](mod@bench)); the adapter tests are
//! `runners/tests/js.rs`.
//!
//! - The runner script is embedded in the binary and written once to a temporary directory
//!   owned by the adapter (also the workers' working directory and the home of any state a
//!   runtime keeps, e.g. Deno's cache), so the CLI works from any directory and never runs a
//!   script out of step with the adapter.
//! - Binary: the spec's `*_BIN` variable, else the copy `npm ci` installs under
//!   `<repo>/node_modules/` (pinned by `package.json`/`package-lock.json` at the repository
//!   root) when the spec names one, else the executable on `PATH`; otherwise the runtime is
//!   not available, with a message saying how to install it.
//! - Workers: `<binary> <spec flags> runner.mjs --stdio=MODE --worker`, one JSON request per
//!   line on its stdin, one JSON response per line on its stdout (protocol in the script's
//!   header). Idle workers wait in a pool behind a mutex (at most one per CPU), so
//!   [`Runtime::run`] may be called from several threads at once; each run takes a worker of
//!   its own or starts one. A worker is started with an empty environment plus `PATH` and the
//!   spec's variables, in the adapter's temporary directory, and is replaced after the spec's
//!   `max_runs_per_worker` runs.
//! - Modules: each worker keeps the `WebAssembly.Module`s it compiled, keyed by a hash of
//!   the bytes; the adapter remembers which keys each worker holds and sends the bytes
//!   (base64) only the first time (`wasi-conform bench` prints what that saves).
//! - Per run: the guest's stdin, stdout and stderr are three named pipes in a temporary
//!   directory of the adapter's (not in the sandbox, whose every file outside the preopens
//!   is a canary); the adapter writes stdin and drains stdout/stderr with threads (see
//!   `GuestStdio`). They are pipes, not files, because a guest may look: `fd_seek` on a file
//!   succeeds, on a pipe it fails. How they reach the guest is the spec's [`StdioMode`].
//!   argv is exactly `case.fixture.args`; env is `case.fixture.env` split at the first `=`
//!   into an object (so a later duplicate key replaces an earlier one, and integer-like keys
//!   come first: JavaScript property order); preopens are `{guest name: host path}`.
//!   After each run the worker closes the descriptors the run left open inside the preopens
//!   (where it may read `/proc/self/fd`), since no `node:wasi` closes them, and, for a
//!   runtime whose `WASI` keeps its own duplicates ([`Spec::close_through_wasi`], Deno),
//!   every descriptor of the instance through the instance's own `fd_close`.
//! - End of the guest's output: the runner closes its descriptors of the pipes before it
//!   answers, and every write of the guest is over by then (all `node:wasi` calls are
//!   synchronous), so after the answer the adapter reads the worker's `/proc/<pid>/fd` (a
//!   few dozen links, no visible cost in `bench`): a worker still holding one of the pipes holds it for its runtime (Deno's
//!   duplicates, which only `fd_close` or the garbage collector closes), and is retired —
//!   killed, which closes it — instead of going back to the pool; the output is complete
//!   and the run's ending stands. `bench_notes` counts those retirements (0 in the suite;
//!   the adapter tests require 0 for ordinary runs). A pipe still open 5 s
//!   ([`DRAIN_TIMEOUT`]) after the run otherwise (held by another process, or `/proc`
//!   unreadable) turns an exit or a trap into a crash, as before: a leak is never waited on
//!   for longer than that.
//! - Sandbox: a runtime whose permissions cannot reach the sandbox's directory (Deno and
//!   `/dev/shm`) runs on a faithful copy of it, whose final trees and canaries are reported
//!   instead (`Spec::unreachable_dirs`, `Sandbox::copy_in`).
//! - Limits: time by the adapter — no response within `case.limits.timeout` of sending the
//!   request (which includes compiling a module the worker has not seen, a few ms) and the
//!   worker is killed, the run reported as a timeout and the next run gets a fresh worker.
//!   Memory: the spec's command line may bound the JS heap with `Launch::heap_mb`
//!   (`case.limits.memory_bytes` in MiB, at least 64); linear memory is fixed in size by
//!   the compiled modules.
//! - `process per run` mode (`runner.mjs --once REQUEST.json`) exists only for
//!   [`Runtime::bench_notes`].
//!
//! Endings, as the runner reports them (each spec adds what is particular to its runtime):
//! `wasi.start()` returning (the `proc_exit` code under `returnOnExit`, or 0 when `_start`
//! returned) or `proc_exit` through `process.exit` → `Exit(code)`; a
//! `WebAssembly.RuntimeError` → `Trap`, classified by message (`unreachable` →
//! `Unreachable`, out-of-bounds memory → `MemoryOutOfBounds`, else `Other`); a `RangeError`
//! about the call stack → `Trap(Other)`; any other error thrown out of `start()` →
//! `Trap(HostError)`; a module that fails to compile or instantiate, a `WASI` that cannot be
//! set up, a worker that dies or says something unreadable → `Crash` (with the tail of its
//! stderr); no response in time → `Timeout`. Guest memory `[0, capture_len)` is read after
//! every run that got as far as an instance, whether it exited, called `proc_exit` or
//! trapped.

pub mod bench;
pub mod bun;
pub mod deno;
pub mod launch;
pub mod node;
mod pool;
pub mod protocol;
mod spec;
pub mod stdio;

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};

use wasi_conform_case::outcome::Ending;
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;

pub use crate::process::first_line;
use crate::{Availability, Execution, OwnSandbox, Runtime, Sandbox};
pub use launch::RUNNER_JS;
use launch::{death, start, BinaryError, Launcher, Probe, Script, ScriptError};
use pool::{Pool, Worker};
use protocol::{parse_response, Request};
pub use spec::{Binary, Launch, Spec, StdioMode};
use stdio::GuestStdio;
pub use stdio::DRAIN_TIMEOUT;

/// Compiled modules a worker keeps before it is told to forget them all.
const MAX_CACHED_MODULES: usize = 1024;
/// Smallest heap limit handed to a spec, in MiB.
const MIN_HEAP_MB: u64 = 64;

/// A JS runtime described by a [`Spec`].
pub struct JsRuntime {
    spec: &'static Spec,
    probe: OnceLock<Result<Probe, BinaryError>>,
    script: OnceLock<Result<Script, ScriptError>>,
    pool: Pool,
    next_id: AtomicU64,
    /// Workers retired because they still held a guest pipe after answering.
    retired_holding_pipes: AtomicU64,
}

/// Whether a worker keeps the modules it compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModuleCache {
    /// Bytes sent once per worker, the compiled module kept (what [`Runtime::run`] does).
    Keep,
    /// Bytes sent and compiled on every run (only to measure what `Keep` saves).
    SendEveryRun,
}

/// Why a runner could not be started: the binary, or the runner script.
#[derive(Debug, thiserror::Error)]
pub enum SetupError<'a> {
    #[error(transparent)]
    Binary(&'a BinaryError),
    #[error(transparent)]
    Script(&'a ScriptError),
}

impl JsRuntime {
    /// Nothing is probed or started until it is needed.
    pub fn new(spec: &'static Spec) -> Self {
        JsRuntime {
            spec,
            probe: OnceLock::new(),
            script: OnceLock::new(),
            pool: Pool::new(spec.max_runs_per_worker),
            next_id: AtomicU64::new(1),
            retired_holding_pipes: AtomicU64::new(0),
        }
    }

    /// The spec this adapter runs.
    pub fn spec(&self) -> &'static Spec {
        self.spec
    }

    /// Process ids of the idle workers, the one the next run takes last (for the adapter
    /// tests).
    pub fn idle_worker_pids(&self) -> Vec<u32> {
        self.pool.idle_pids()
    }

    /// Workers retired so far because they still held a guest pipe after answering.
    pub fn retired_holding_pipes(&self) -> u64 {
        self.retired_holding_pipes.load(Ordering::Relaxed)
    }

    fn probe(&self) -> Result<&Probe, &BinaryError> {
        self.probe.get_or_init(|| launch::probe(self.spec)).as_ref()
    }

    fn script(&self) -> Result<&Script, &ScriptError> {
        self.script.get_or_init(|| Script::write(self.spec.name)).as_ref()
    }

    fn launcher(&self, heap_mb: u64) -> Result<Launcher<'_>, SetupError<'_>> {
        let probe = self.probe().map_err(SetupError::Binary)?;
        let script = self.script().map_err(SetupError::Script)?;
        Ok(Launcher { spec: self.spec, bin: &probe.bin, script, heap_mb })
    }

    /// Runs a case with `run` in the sandbox, or in a copy of it where the runtime cannot
    /// reach the sandbox (see [`Spec::unreachable_dirs`]).
    fn in_reachable_sandbox(
        &self,
        sandbox: &Sandbox,
        run: impl FnOnce(&[(String, PathBuf)]) -> Execution,
    ) -> Execution {
        let at = std::fs::canonicalize(sandbox.path()).unwrap_or_else(|_| sandbox.path().to_path_buf());
        if !self.spec.unreachable_dirs.iter().any(|d| at.starts_with(d)) {
            return run(sandbox.preopens());
        }
        let copy = match self.script().map(|s| sandbox.copy_in(&s.state)) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Execution::crash(format!("cannot copy the sandbox for {}: {e}", self.spec.name)),
            Err(e) => return Execution::crash(e.to_string()),
        };
        let mut exec = run(copy.preopens());
        exec.own_sandbox = Some(OwnSandbox { trees: copy.final_trees(), canaries: copy.check_canaries() });
        exec
    }

    /// Runs a case in a pooled worker, with `preload` written into guest memory first.
    fn run_in_worker(
        &self,
        case: &TestCase,
        sandbox: &Sandbox,
        modules: ModuleCache,
        preload: Option<&Preload>,
    ) -> Execution {
        self.in_reachable_sandbox(sandbox, |preopens| self.run_in_worker_at(case, preopens, modules, preload))
    }

    fn run_in_worker_at(
        &self,
        case: &TestCase,
        preopens: &[(String, PathBuf)],
        modules: ModuleCache,
        preload: Option<&Preload>,
    ) -> Execution {
        let name = self.spec.name;
        let heap_mb = heap_mb(case);
        let launcher = match self.launcher(heap_mb) {
            Ok(l) => l,
            Err(e) => return Execution::crash(e.to_string()),
        };
        let mut worker = match self.pool.take(heap_mb) {
            Some(w) => w,
            None => match Worker::spawn(&launcher) {
                Ok(w) => w,
                Err(e) => return Execution::crash(e.to_string()),
            },
        };
        let stdio = match GuestStdio::create(name, &case.fixture.stdin) {
            Ok(s) => s,
            Err(e) => {
                self.pool.give_back(worker);
                return Execution::crash(format!("cannot prepare the stdio pipes: {e}"));
            }
        };
        let key = module_key(&case.module);
        let (key, send_bytes, flush) = match modules {
            ModuleCache::Keep => {
                let send = !worker.cached.contains(&key);
                (Some(key), send, send && worker.cached.len() >= MAX_CACHED_MODULES)
            }
            ModuleCache::SendEveryRun => (None, true, false),
        };
        if flush {
            worker.cached.clear();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Request { id, key: key.as_deref(), send_bytes, flush, preload }.line(case, preopens, &stdio);
        worker.runs += 1;
        if let Err(e) = worker.proc.send(&request) {
            let why = death(&mut worker.proc, format!("cannot send the request to the {name} worker: {e}"));
            return stdio.finish(Ending::Crash(why.to_string()), None);
        }
        worker.cached.extend(key);
        let (ending, memory) = match worker.proc.recv_timeout(case.limits.timeout) {
            Ok(line) => match parse_response(name, &line, id) {
                Ok((ending, memory)) => {
                    // The runner closed its descriptors of the pipes before answering, and
                    // every write of the guest is done: one still open in the worker is held
                    // by its runtime. Killing the worker releases it (see `GuestStdio`).
                    if stdio.held_by(worker.proc.id()) {
                        self.retired_holding_pipes.fetch_add(1, Ordering::Relaxed);
                        drop(worker);
                    } else {
                        self.pool.give_back(worker);
                    }
                    (ending, memory)
                }
                // The worker said something unexpected: it is not trusted with another run.
                Err(e) => {
                    drop(worker);
                    (Ending::Crash(e.to_string()), None)
                }
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                drop(worker); // kills it
                (Ending::Timeout, None)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let why = death(&mut worker.proc, format!("the {name} worker died during the run"));
                drop(worker);
                (Ending::Crash(why.to_string()), None)
            }
        };
        // Here the worker is back in the pool (done with the pipes) or dead.
        stdio.finish(ending, memory)
    }

    /// Runs a case in a process of its own (`runner.mjs --once`), as `wasi-conform bench`
    /// compares with a worker.
    pub fn run_once(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        self.in_reachable_sandbox(sandbox, |preopens| self.run_once_at(case, preopens))
    }

    fn run_once_at(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
        let name = self.spec.name;
        let launcher = match self.launcher(heap_mb(case)) {
            Ok(l) => l,
            Err(e) => return Execution::crash(e.to_string()),
        };
        let stdio = match GuestStdio::create(name, &case.fixture.stdin) {
            Ok(s) => s,
            Err(e) => return Execution::crash(format!("cannot prepare the stdio pipes: {e}")),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req_path = stdio.dir().join("request.json");
        let request =
            Request { id, key: None, send_bytes: true, flush: false, preload: None }.line(case, preopens, &stdio);
        if let Err(e) = std::fs::write(&req_path, request) {
            return stdio.finish(Ending::Crash(format!("cannot write the request: {e}")), None);
        }
        let mut cmd = launcher.command();
        cmd.arg("--once").arg(&req_path).stdin(Stdio::null());
        let mut proc = match start(name, cmd) {
            Ok(p) => p,
            Err(e) => return stdio.finish(Ending::Crash(e.to_string()), None),
        };
        let (ending, memory) = match proc.recv_timeout(case.limits.timeout) {
            Ok(line) => match parse_response(name, &line, id) {
                Ok(r) => r,
                Err(e) => (Ending::Crash(e.to_string()), None),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => (Ending::Timeout, None),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                (Ending::Crash(death(&mut proc, format!("{name} exited without a response")).to_string()), None)
            }
        };
        drop(proc);
        stdio.finish(ending, memory)
    }
}

impl Runtime for JsRuntime {
    fn name(&self) -> &'static str {
        self.spec.name
    }

    fn version(&self) -> String {
        match self.probe() {
            Ok(p) => p.version.clone(),
            Err(_) => "-".to_owned(),
        }
    }

    fn availability(&self) -> Availability {
        Availability::of(self.probe())
    }

    fn run(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        self.run_in_worker(case, sandbox, ModuleCache::Keep, None)
    }

    fn takes_preload(&self) -> bool {
        true
    }

    fn missing_imports(&self) -> &'static [&'static str] {
        self.spec.missing_imports
    }

    fn run_preloaded(&self, case: &TestCase, preload: &Preload, sandbox: &Sandbox) -> Execution {
        self.run_in_worker(case, sandbox, ModuleCache::Keep, Some(preload))
    }

    fn bench_notes(&self) -> Vec<(String, String)> {
        self.bench()
    }
}

fn heap_mb(case: &TestCase) -> u64 {
    (case.limits.memory_bytes >> 20).max(MIN_HEAP_MB)
}

fn module_key(module: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    module.hash(&mut h);
    format!("{:016x}-{}", h.finish(), module.len())
}
