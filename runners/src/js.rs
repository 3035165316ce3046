//! What the three JavaScript runtimes share: `runners/js/runner.mjs` run by the runtime's
//! own `node:wasi`, in a pool of long-lived worker processes speaking JSON lines. An adapter
//! ([`node`](crate::node), [`bun`](crate::bun), [`deno`](crate::deno)) is a [`Spec`]: its
//! name, where its binary is, how it says its version, its command line, and how the guest's
//! stdio reach `node:wasi`. Everything else is here, once: finding the binary, the pool, the
//! protocol, the stdio pipes, time limits, crashes, the bench notes and the adapter tests.
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
//!   (`DRAIN_TIMEOUT`) after the run otherwise (held by another process, or `/proc`
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

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use wasi_conform_suite::case::TestCase;
use wasi_conform_suite::outcome::{Ending, TrapClass, TrapKind};

use crate::{Availability, Execution, OwnSandbox, Runtime, Sandbox};

/// The JS runner, shared by every `node:wasi`-style runtime.
pub const RUNNER_JS: &str = include_str!("../js/runner.mjs");
/// How long a fresh worker may take to say it is ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Bytes of a dead worker's stderr kept for the crash message.
const STDERR_TAIL: usize = 4096;
/// Compiled modules a worker keeps before it is told to forget them all.
const MAX_CACHED_MODULES: usize = 1024;
/// Smallest heap limit handed to a spec, in MiB.
const MIN_HEAP_MB: u64 = 64;
/// Runs per mode in [`Runtime::bench_notes`].
const BENCH_RUNS: u32 = 20;

/// Everything that differs between the JS runtimes.
pub struct Spec {
    /// [`Runtime::name`].
    pub name: &'static str,
    /// Where the binary is looked for.
    pub binary: Binary,
    /// Arguments that make the binary print its version, and how to read that output.
    pub version_args: &'static [&'static str],
    pub version: fn(&str) -> String,
    /// Environment of every process started (the version probe included), beyond `PATH`.
    pub env: &'static [(&'static str, &'static str)],
    /// The command line between the binary and the runner script (runtime flags), and any
    /// environment that depends on the launch.
    pub command: fn(&mut Command, &Launch<'_>),
    /// How the guest's stdio reach `node:wasi` (the runner's `--stdio`).
    pub stdio: StdioMode,
    /// The runtime's `WASI` keeps duplicates of the stdio descriptors (and the guest's files)
    /// until it is closed or garbage-collected: the runner closes them after every run
    /// through the instance's own `fd_close` (`--close-through-wasi`, see `runner.mjs`).
    pub close_through_wasi: bool,
    /// Runs after which a worker is replaced (a backstop against leaks in the runtime).
    pub max_runs_per_worker: u32,
    /// Host directories (prefixes such as `/dev/`) the runtime may not use under the
    /// permissions it is given. A sandbox under one of them (`/dev/shm`, the default place)
    /// is copied for the run to the adapter's own directory, the runtime works on the copy,
    /// and the copy's final trees and canaries are reported (`Execution::own_sandbox`).
    pub unreachable_dirs: &'static [&'static str],
}

/// Where a runtime's binary is looked for, in this order.
pub struct Binary {
    /// An environment variable naming the binary (`NODE_BIN`).
    pub env: &'static str,
    /// The copy `npm ci` installs, relative to the repository root.
    pub bundled: Option<&'static str>,
    /// The executable's name on `PATH`.
    pub exe: &'static str,
    /// How to install it, for the not-available message.
    pub install: &'static str,
}

/// What a [`Spec::command`] may depend on.
pub struct Launch<'a> {
    /// `case.limits.memory_bytes` in MiB (at least 64), for a heap-size flag.
    pub heap_mb: u64,
    /// A directory owned by the adapter, removed with it: the place for a runtime's caches.
    pub state_dir: &'a Path,
}

/// How the guest's stdin, stdout and stderr (named pipes) reach `node:wasi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioMode {
    /// Opened by the runner and passed as `new WASI({stdin, stdout, stderr})`.
    Descriptors,
    /// For a `node:wasi` that ignores those options and always uses descriptors 0, 1 and 2:
    /// the runner opens the pipes *as* 0, 1 and 2 for the run and carries the protocol on
    /// other descriptors.
    Takeover,
}

impl StdioMode {
    fn flag(self) -> &'static str {
        match self {
            StdioMode::Descriptors => "--stdio=descriptors",
            StdioMode::Takeover => "--stdio=takeover",
        }
    }
}

/// A JS runtime: its [`Spec`].
pub trait Flavor: Send + Sync + 'static {
    const SPEC: &'static Spec;
}

/// The first line of a version output, trimmed.
pub fn first_line(out: &str) -> String {
    out.lines().next().unwrap_or("").trim().to_owned()
}

/// The adapter for the runtime `F`.
pub struct JsRuntime<F: Flavor> {
    probe: OnceLock<Result<Probe, String>>,
    script: OnceLock<Result<Script, String>>,
    idle: Mutex<Vec<Worker>>,
    max_idle: usize,
    next_id: AtomicU64,
    /// Workers retired because they still held a guest pipe after answering.
    retired_holding_pipes: AtomicU64,
    flavor: PhantomData<fn() -> F>,
}

/// Whether a worker keeps the modules it compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModuleCache {
    /// Bytes sent once per worker, the compiled module kept (what [`Runtime::run`] does).
    Keep,
    /// Bytes sent and compiled on every run (only to measure what `Keep` saves).
    SendEveryRun,
}

/// The binary and its version.
struct Probe {
    bin: PathBuf,
    version: String,
}

/// The runner script, written out, in the adapter's directory.
struct Script {
    dir: tempfile::TempDir,
    path: PathBuf,
    state: PathBuf,
}

impl<F: Flavor> Default for JsRuntime<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Flavor> JsRuntime<F> {
    /// Nothing is probed or started until it is needed.
    pub fn new() -> Self {
        JsRuntime {
            probe: OnceLock::new(),
            script: OnceLock::new(),
            idle: Mutex::new(Vec::new()),
            max_idle: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            next_id: AtomicU64::new(1),
            retired_holding_pipes: AtomicU64::new(0),
            flavor: PhantomData,
        }
    }

    fn spec(&self) -> &'static Spec {
        F::SPEC
    }

    fn probe(&self) -> Result<&Probe, String> {
        self.probe.get_or_init(|| probe(self.spec())).as_ref().map_err(Clone::clone)
    }

    fn script(&self) -> Result<&Script, String> {
        self.script
            .get_or_init(|| {
                let dir = tempfile::Builder::new()
                    .prefix(&format!("wasi-conform-{}-", self.spec().name))
                    .tempdir()
                    .map_err(|e| format!("cannot create a directory for the runner script: {e}"))?;
                let path = dir.path().join("runner.mjs");
                std::fs::write(&path, RUNNER_JS).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                let state = dir.path().join("state");
                std::fs::create_dir(&state).map_err(|e| format!("cannot create {}: {e}", state.display()))?;
                Ok(Script { dir, path, state })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn launcher(&self, heap_mb: u64) -> Result<Launcher<'_>, String> {
        let probe = self.probe()?;
        let script = self.script()?;
        Ok(Launcher { spec: self.spec(), bin: &probe.bin, script, heap_mb })
    }

    /// An idle worker for this heap size that is still alive, if any.
    fn take_worker(&self, heap_mb: u64) -> Option<Worker> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(i) = idle.iter().rposition(|w| w.heap_mb == heap_mb) {
            let mut w = idle.swap_remove(i);
            if matches!(w.proc.child.try_wait(), Ok(None)) {
                return Some(w);
            }
            // Died while idle: dropped (and reaped) here, the next one is tried.
        }
        None
    }

    fn give_back(&self, worker: Worker) {
        if worker.runs >= self.spec().max_runs_per_worker {
            return;
        }
        let surplus = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.max_idle {
                idle.push(worker);
                None
            } else {
                Some(worker)
            }
        };
        drop(surplus);
    }

    /// Runs a case with `run` in the sandbox, or in a copy of it where the runtime cannot
    /// reach the sandbox (see [`Spec::unreachable_dirs`]).
    fn in_reachable_sandbox(
        &self,
        sandbox: &Sandbox,
        run: impl FnOnce(&[(String, PathBuf)]) -> Execution,
    ) -> Execution {
        let at = std::fs::canonicalize(sandbox.path()).unwrap_or_else(|_| sandbox.path().to_path_buf());
        if !self.spec().unreachable_dirs.iter().any(|d| at.starts_with(d)) {
            return run(sandbox.preopens());
        }
        let copy = match self.script().and_then(|s| {
            sandbox.copy_in(&s.state).map_err(|e| format!("cannot copy the sandbox for {}: {e}", self.spec().name))
        }) {
            Ok(c) => c,
            Err(e) => return Execution::crash(e),
        };
        let mut exec = run(copy.preopens());
        exec.own_sandbox = Some(OwnSandbox { trees: copy.final_trees(), canaries: copy.check_canaries() });
        exec
    }

    /// Runs a case in a pooled worker.
    fn run_in_worker(&self, case: &TestCase, sandbox: &Sandbox, modules: ModuleCache) -> Execution {
        self.in_reachable_sandbox(sandbox, |preopens| self.run_in_worker_at(case, preopens, modules))
    }

    fn run_in_worker_at(&self, case: &TestCase, preopens: &[(String, PathBuf)], modules: ModuleCache) -> Execution {
        let name = self.spec().name;
        let heap_mb = heap_mb(case);
        let launcher = match self.launcher(heap_mb) {
            Ok(l) => l,
            Err(e) => return Execution::crash(e),
        };
        let mut worker = match self.take_worker(heap_mb) {
            Some(w) => w,
            None => match Worker::spawn(&launcher) {
                Ok(w) => w,
                Err(e) => return Execution::crash(e),
            },
        };
        let stdio = match GuestStdio::create(name, &case.fixture.stdin) {
            Ok(s) => s,
            Err(e) => {
                self.give_back(worker);
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
        let request = request(id, key.as_deref(), send_bytes, flush, case, preopens, &stdio);
        worker.runs += 1;
        if let Err(e) = worker.send(&request) {
            let why = worker.proc.death(&format!("cannot send the request to the {name} worker: {e}"));
            return stdio.finish(Ending::Crash(why), None);
        }
        worker.cached.extend(key);
        let (ending, memory) = match worker.proc.lines.recv_timeout(case.limits.timeout) {
            Ok(line) => match parse_response(name, &line, id) {
                Ok((ending, memory)) => {
                    // The runner closed its descriptors of the pipes before answering, and
                    // every write of the guest is done: one still open in the worker is held
                    // by its runtime. Killing the worker releases it (see `GuestStdio`).
                    if stdio.held_by(worker.proc.child.id()) {
                        self.retired_holding_pipes.fetch_add(1, Ordering::Relaxed);
                        drop(worker);
                    } else {
                        self.give_back(worker);
                    }
                    (ending, memory)
                }
                // The worker said something unexpected: it is not trusted with another run.
                Err(e) => {
                    drop(worker);
                    (Ending::Crash(e), None)
                }
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                drop(worker); // kills it
                (Ending::Timeout, None)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let why = worker.proc.death(&format!("the {name} worker died during the run"));
                drop(worker);
                (Ending::Crash(why), None)
            }
        };
        // Here the worker is back in the pool (done with the pipes) or dead.
        stdio.finish(ending, memory)
    }

    /// Runs a case in a process of its own (`runner.mjs --once`).
    fn run_once(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        self.in_reachable_sandbox(sandbox, |preopens| self.run_once_at(case, preopens))
    }

    fn run_once_at(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
        let name = self.spec().name;
        let launcher = match self.launcher(heap_mb(case)) {
            Ok(l) => l,
            Err(e) => return Execution::crash(e),
        };
        let stdio = match GuestStdio::create(name, &case.fixture.stdin) {
            Ok(s) => s,
            Err(e) => return Execution::crash(format!("cannot prepare the stdio pipes: {e}")),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req_path = stdio.dir.path().join("request.json");
        if let Err(e) = std::fs::write(&req_path, request(id, None, true, false, case, preopens, &stdio)) {
            return stdio.finish(Ending::Crash(format!("cannot write the request: {e}")), None);
        }
        let mut cmd = launcher.command();
        cmd.arg("--once").arg(&req_path).stdin(Stdio::null());
        let mut proc = match Proc::spawn(name, cmd) {
            Ok(p) => p,
            Err(e) => return stdio.finish(Ending::Crash(e), None),
        };
        let (ending, memory) = match proc.lines.recv_timeout(case.limits.timeout) {
            Ok(line) => match parse_response(name, &line, id) {
                Ok(r) => r,
                Err(e) => (Ending::Crash(e), None),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => (Ending::Timeout, None),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                (Ending::Crash(proc.death(&format!("{name} exited without a response"))), None)
            }
        };
        drop(proc);
        stdio.finish(ending, memory)
    }

    /// ms/run of `run` over [`BENCH_RUNS`] runs of a small case, each in a fresh sandbox
    /// (whose setup is not timed).
    fn time_runs(&self, case: &TestCase, run: impl Fn(&TestCase, &Sandbox) -> Execution) -> Result<f64, String> {
        let mut total = Duration::ZERO;
        for _ in 0..BENCH_RUNS {
            let sandbox = Sandbox::create(&case.fixture).map_err(|e| format!("sandbox: {e}"))?;
            let started = Instant::now();
            let exec = run(case, &sandbox);
            total += started.elapsed();
            if exec.ending != Ending::Exit(0) {
                return Err(format!("the bench case ended with {}", exec.ending));
            }
        }
        Ok(total.as_secs_f64() * 1e3 / f64::from(BENCH_RUNS))
    }
}

impl<F: Flavor> Runtime for JsRuntime<F> {
    fn name(&self) -> &'static str {
        self.spec().name
    }

    fn version(&self) -> String {
        match self.probe() {
            Ok(p) => p.version.clone(),
            Err(_) => "-".to_owned(),
        }
    }

    fn availability(&self) -> Availability {
        match self.probe() {
            Ok(_) => Availability::Available,
            Err(e) => Availability::NotAvailable(e),
        }
    }

    fn run(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        self.run_in_worker(case, sandbox, ModuleCache::Keep)
    }

    fn bench_notes(&self) -> Vec<(String, String)> {
        let name = self.spec().name;
        if self.probe().is_err() {
            return Vec::new();
        }
        let case = match bench_case() {
            Ok(c) => c,
            Err(e) => return vec![(format!("{name} bench"), e)],
        };
        let fmt = |r: Result<f64, String>, what: &str| match r {
            Ok(ms) => format!("{ms:.2} ms/run ({BENCH_RUNS} runs, {what})"),
            Err(e) => format!("failed: {e}"),
        };
        let once = self.time_runs(&case, |c, s| self.run_once(c, s));
        // Warm-up: a worker started and the module compiled once.
        if let Ok(s) = Sandbox::create(&case.fixture) {
            self.run(&case, &s);
        }
        let cached = self.time_runs(&case, |c, s| self.run_in_worker(c, s, ModuleCache::Keep));
        let resent = self.time_runs(&case, |c, s| self.run_in_worker(c, s, ModuleCache::SendEveryRun));
        let retired = self.retired_holding_pipes.load(Ordering::Relaxed);
        vec![
            (
                "process per run".to_owned(),
                fmt(once, &format!("a new {name} process each, module sent and compiled each time")),
            ),
            ("worker".to_owned(), fmt(cached, "module compiled once and kept in the worker")),
            ("worker, no module cache".to_owned(), fmt(resent, "module sent as base64 and compiled every run")),
            (
                "workers retired".to_owned(),
                format!("{retired} still holding a guest pipe after answering (expected 0)"),
            ),
        ]
    }
}

/// The small case `bench_notes` times: one preopen, one write to stdout.
fn bench_case() -> Result<TestCase, String> {
    const TEXT: &str = "id: fd_write/js-bench\nsummary: bench\nspec: none\nstrength: must\n\
        fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a.txt: {file: a}\n\
        steps:\n  - fd_write: {fd: 1, iovs: [\"hello\\n\"]}\n    expect: {errno: success, nwritten: 6}\n\
        stdout: \"hello\\n\"\n";
    let s = wasi_conform_suite::load::load_str(TEXT, Path::new("fd_write/js-bench.yaml")).map_err(|e| e.to_string())?;
    Ok(wasi_conform_suite::compile::compile(&s).map_err(|e| e.to_string())?.case)
}

fn heap_mb(case: &TestCase) -> u64 {
    (case.limits.memory_bytes >> 20).max(MIN_HEAP_MB)
}

fn module_key(module: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    module.hash(&mut h);
    format!("{:016x}-{}", h.finish(), module.len())
}

/// The repository root (where `package.json` pins the runtimes `npm ci` installs).
fn repo_root() -> PathBuf {
    let runners = Path::new(env!("CARGO_MANIFEST_DIR"));
    runners.parent().unwrap_or(runners).to_path_buf()
}

/// Finds the binary (see [`Binary`]) and asks it its version.
fn probe(spec: &Spec) -> Result<Probe, String> {
    let b = &spec.binary;
    let how = match b.bundled {
        Some(_) => {
            format!("set {}, run `npm ci` at the repository root ({}), or put {} on PATH", b.env, b.install, b.exe)
        }
        None => format!("set {} or put {} on PATH; {}", b.env, b.exe, b.install),
    };
    let bin = std::env::var_os(b.env)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| b.bundled.map(|rel| repo_root().join(rel)).filter(|p| is_executable(p)))
        .or_else(|| find_on_path(b.exe))
        .ok_or_else(|| format!("{} not found: {how}", spec.name))?;
    let mut cmd = Command::new(&bin);
    cmd.args(spec.version_args).env_clear().envs(spec.env.iter().copied()).stdin(Stdio::null()).stderr(Stdio::null());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e} ({how})", bin.display()))?;
    if !out.status.success() {
        return Err(format!("`{} {}` failed ({})", bin.display(), spec.version_args.join(" "), out.status));
    }
    let version = (spec.version)(&String::from_utf8_lossy(&out.stdout));
    Ok(Probe { bin, version })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

/// How to start the runner.
struct Launcher<'a> {
    spec: &'static Spec,
    bin: &'a Path,
    script: &'a Script,
    heap_mb: u64,
}

impl Launcher<'_> {
    /// `<bin> <spec flags> runner.mjs --stdio=MODE`, with an empty environment but `PATH`
    /// and the spec's variables; the caller adds the mode.
    fn command(&self) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.env_clear().envs(self.spec.env.iter().copied()).current_dir(self.script.dir.path());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        (self.spec.command)(&mut cmd, &Launch { heap_mb: self.heap_mb, state_dir: &self.script.state });
        cmd.arg(&self.script.path).arg(self.spec.stdio.flag());
        if self.spec.close_through_wasi {
            cmd.arg("--close-through-wasi");
        }
        cmd
    }
}

/// A runner process with its stdout read line by line and its stderr's tail kept.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command) -> Result<Proc, String> {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cannot start {name}: no stdout/stderr pipe"));
        };
        let (tx, lines) = mpsc::channel();
        let spawned = std::thread::Builder::new().name(format!("{name}-stdout")).spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let tail = Arc::new(Mutex::new(Vec::new()));
        let tail2 = Arc::clone(&tail);
        let stderr_reader = spawned.and_then(|_| {
            std::thread::Builder::new().name(format!("{name}-stderr")).spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stderr.read(&mut buf) {
                    let mut t = tail2.lock().unwrap_or_else(|p| p.into_inner());
                    t.extend_from_slice(&buf[..n]);
                    if t.len() > STDERR_TAIL {
                        let cut = t.len() - STDERR_TAIL;
                        t.drain(..cut);
                    }
                }
            })
        });
        match stderr_reader {
            Ok(h) => Ok(Proc { child, lines, stderr: tail, stderr_reader: Some(h) }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("cannot start a reader thread: {e}"))
            }
        }
    }

    /// Reaps the process and describes its death: `what`, exit status, stderr tail.
    fn death(&mut self, what: &str) -> String {
        // The process may still be alive (e.g. it closed its stdout): make sure it is not.
        let _ = self.child.kill();
        let status = match self.child.wait() {
            Ok(s) => s.to_string(),
            Err(e) => format!("status unknown: {e}"),
        };
        if let Some(h) = self.stderr_reader.take() {
            let _ = h.join();
        }
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let tail = String::from_utf8_lossy(&tail);
        let tail = tail.trim();
        if tail.is_empty() {
            format!("{what} ({status}), nothing on its stderr")
        } else {
            format!("{what} ({status}); its stderr ends with:\n{tail}")
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A long-lived `runner.mjs --worker`.
struct Worker {
    proc: Proc,
    stdin: ChildStdin,
    heap_mb: u64,
    /// Keys of the modules this worker has compiled and kept.
    cached: HashSet<String>,
    runs: u32,
}

impl Worker {
    /// Starts a worker and waits for its `ready` line.
    fn spawn(launcher: &Launcher<'_>) -> Result<Worker, String> {
        let name = launcher.spec.name;
        let mut cmd = launcher.command();
        cmd.arg("--worker").stdin(Stdio::piped());
        let mut proc = Proc::spawn(name, cmd)?;
        let Some(stdin) = proc.child.stdin.take() else {
            return Err(format!("cannot start {name}: no stdin pipe"));
        };
        match proc.lines.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) if line.contains("\"ready\":true") => {
                Ok(Worker { proc, stdin, heap_mb: launcher.heap_mb, cached: HashSet::new(), runs: 0 })
            }
            Ok(line) => Err(proc.death(&format!("the {name} worker did not start (it said `{}`)", line.trim()))),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(proc.death(&format!("the {name} worker was not ready within {STARTUP_TIMEOUT:?}")))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(proc.death(&format!("the {name} worker did not start"))),
        }
    }

    fn send(&mut self, request: &str) -> std::io::Result<()> {
        self.stdin.write_all(request.as_bytes())?;
        self.stdin.write_all(b"\n")?;
        self.stdin.flush()
    }
}

/// The guest's stdin, stdout and stderr: three named pipes (FIFOs) in a directory of their
/// own, so that the guest sees pipes, as it would under `node run.js | …`, and not files
/// (a file would make `fd_seek` on stdout succeed where a pipe gives `spipe`).
///
/// - stdout/stderr: the adapter holds each FIFO open read-write (which never blocks on
///   Linux) so that the runner's `open(O_WRONLY)` does not block and the reading end sees
///   no end-of-file before the run is over; a thread drains each into memory. The drain
///   ends when the last writer is closed: [`GuestStdio::held_by`] tells whether the worker
///   still has one after answering (see the module doc, "End of the guest's output").
/// - stdin: a thread opens it write-only (rendezvous with the runner's `open(O_RDONLY)`),
///   writes the fixture's bytes and closes it, so the guest reads them and then EOF.
struct GuestStdio {
    dir: tempfile::TempDir,
    stdin: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    /// The three paths as `/proc/<pid>/fd` names them (symlinks resolved).
    resolved: [PathBuf; 3],
    stdin_writer: Option<JoinHandle<()>>,
    outputs: Vec<Capture>,
}

/// One output pipe being drained.
struct Capture {
    /// Our own read-write handle; dropped when the run is over.
    keep_open: Option<std::fs::File>,
    bytes: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

/// How long the output threads may take to see end-of-file once the runner is done (and no
/// longer holds a pipe, see [`GuestStdio::held_by`]).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

impl GuestStdio {
    fn create(name: &str, stdin: &[u8]) -> std::io::Result<GuestStdio> {
        let dir = tempfile::Builder::new().prefix(&format!("wasi-conform-{name}-stdio-")).tempdir()?;
        let [stdin_path, stdout, stderr] = ["stdin", "stdout", "stderr"].map(|n| dir.path().join(n));
        for p in [&stdin_path, &stdout, &stderr] {
            mkfifo(p)?;
        }
        let resolved = [&stdin_path, &stdout, &stderr].map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()));
        let mut outputs = Vec::new();
        for p in [&stdout, &stderr] {
            let keep_open = std::fs::OpenOptions::new().read(true).write(true).open(p)?;
            let mut reader = std::fs::File::open(p)?;
            let (tx, bytes) = mpsc::channel();
            std::thread::Builder::new().name("js-guest-output".into()).spawn(move || {
                let mut buf = Vec::new();
                let _ = tx.send(reader.read_to_end(&mut buf).map(|_| buf));
            })?;
            outputs.push(Capture { keep_open: Some(keep_open), bytes });
        }
        let data = stdin.to_vec();
        let path = stdin_path.clone();
        let stdin_writer = std::thread::Builder::new().name("js-guest-stdin".into()).spawn(move || {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
                // EPIPE when the guest's side is closed before it read everything: fine.
                let _ = f.write_all(&data);
            }
        })?;
        Ok(GuestStdio { dir, stdin: stdin_path, stdout, stderr, resolved, stdin_writer: Some(stdin_writer), outputs })
    }

    /// Whether process `pid` has one of the three pipes open, by its `/proc/<pid>/fd`; false
    /// when that cannot be read (the caller then waits for the end of the output as usual).
    fn held_by(&self, pid: u32) -> bool {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
        fds.flatten().any(|e| std::fs::read_link(e.path()).is_ok_and(|target| self.resolved.contains(&target)))
    }

    /// Once the runner is done with the pipes (it answered, or it is dead): the execution
    /// with what the guest wrote. An output that cannot be read turns an exit or a trap into
    /// a crash (what the guest wrote is unknown).
    fn finish(mut self, ending: Ending, memory: Option<Vec<u8>>) -> Execution {
        self.release_stdin_writer();
        let mut outs = Vec::new();
        let mut failure = None;
        for c in &mut self.outputs {
            drop(c.keep_open.take());
            match c.bytes.recv_timeout(DRAIN_TIMEOUT) {
                Ok(Ok(b)) => outs.push(b),
                Ok(Err(e)) => {
                    failure.get_or_insert(format!("cannot read the guest's output: {e}"));
                    outs.push(Vec::new());
                }
                Err(_) => {
                    failure.get_or_insert("the guest's output pipe was still open after the run".to_owned());
                    outs.push(Vec::new());
                }
            }
        }
        let ending = match (failure, ending) {
            (Some(f), Ending::Exit(_) | Ending::Trap(_)) => Ending::Crash(f),
            (_, other) => other,
        };
        let stderr = outs.pop().unwrap_or_default();
        let stdout = outs.pop().unwrap_or_default();
        Execution { ending, stdout, stderr, memory, own_sandbox: None }
    }

    /// The stdin thread is blocked in `open` when the runner never opened stdin (it failed
    /// or died first): give it a reader for a moment, which also makes a pending write fail.
    fn release_stdin_writer(&mut self) {
        let Some(writer) = self.stdin_writer.take() else { return };
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while !writer.is_finished() && Instant::now() < deadline {
            use std::os::unix::fs::OpenOptionsExt;
            let reader = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&self.stdin);
            std::thread::sleep(Duration::from_millis(1));
            drop(reader);
        }
        if writer.is_finished() {
            let _ = writer.join();
        }
    }
}

impl Drop for GuestStdio {
    /// Never leaves a thread blocked on a pipe, whichever way the run went.
    fn drop(&mut self) {
        self.release_stdin_writer();
        for c in &mut self.outputs {
            drop(c.keep_open.take());
        }
    }
}

/// `mkfifo(path, 0600)`.
fn mkfifo(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in a path"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One request line (see the header of `runner.mjs`).
fn request(
    id: u64,
    key: Option<&str>,
    send_bytes: bool,
    flush: bool,
    case: &TestCase,
    preopens: &[(String, PathBuf)],
    stdio: &GuestStdio,
) -> String {
    let env: Vec<(&str, &str)> =
        case.fixture.env.iter().map(|kv| kv.split_once('=').unwrap_or((kv.as_str(), ""))).collect();
    let preopens: Vec<(&str, String)> =
        preopens.iter().map(|(guest, host)| (guest.as_str(), host.to_string_lossy().into_owned())).collect();
    let module = send_bytes.then(|| base64::engine::general_purpose::STANDARD.encode(case.module.as_slice()));
    serde_json::json!({
        "id": id,
        "key": key,
        "module": module,
        "flush": flush,
        "args": case.fixture.args,
        "env": env,
        "preopens": preopens,
        "stdin": stdio.stdin.to_string_lossy(),
        "stdout": stdio.stdout.to_string_lossy(),
        "stderr": stdio.stderr.to_string_lossy(),
        "capture_len": case.capture_len,
    })
    .to_string()
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

/// A response line → the ending and the captured memory.
fn parse_response(name: &str, line: &str, id: u64) -> Result<(Ending, Option<Vec<u8>>), String> {
    let r: Response = serde_json::from_str(line)
        .map_err(|e| format!("unreadable response from the {name} runner ({e}): {}", truncate(line, 300)))?;
    if let Some(e) = r.error {
        return Err(format!("the {name} runner failed: {e}"));
    }
    if r.id != Some(id) {
        return Err(format!("the {name} runner answered request {:?} instead of {id}", r.id));
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
        None => return Err(format!("the {name} runner's response has no ending: {}", truncate(line, 300))),
    };
    let memory = match r.memory {
        None => None,
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("the {name} runner sent undecodable memory: {e}"))?,
        ),
    };
    Ok((ending, memory))
}

fn truncate(s: &str, max: usize) -> &str {
    let s = s.trim_end();
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The adapter tests, run for every JS runtime that is installed (a runtime that is not is
/// skipped with a note on stderr).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute;
    use wasi_conform_suite::case::Limits;
    use wasi_conform_suite::scenario::Fixture;

    fn runtime<F: Flavor>() -> Option<JsRuntime<F>> {
        let rt = JsRuntime::<F>::new();
        match rt.availability() {
            Availability::Available => Some(rt),
            Availability::NotAvailable(why) => {
                eprintln!("skipped: {why}");
                None
            }
        }
    }

    fn scenario_case(text: &str, file: &str, limits: Limits) -> TestCase {
        let s = wasi_conform_suite::load::load_str(text, Path::new(file)).expect("scenario loads");
        wasi_conform_suite::compile::compile_with(&s, limits).expect("scenario compiles").case
    }

    /// A hand-assembled module: memory (1 page) with "abc" at 0, `_start` running `body`.
    fn raw_case(body: &[u8]) -> TestCase {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type: () -> ()
        m.extend_from_slice(&[3, 2, 1, 0]); // function 0: type 0
        m.extend_from_slice(&[5, 3, 1, 0, 1]); // memory: min 1
        m.extend_from_slice(&[7, 19, 2, 6]);
        m.extend_from_slice(b"memory\x02\x00\x06_start\x00\x00");
        let func_len = body.len() as u8 + 2;
        m.extend_from_slice(&[10, func_len + 2, 1, func_len, 0]);
        m.extend_from_slice(body);
        m.push(0x0b);
        m.extend_from_slice(&[11, 9, 1, 0, 0x41, 0, 0x0b, 3]);
        m.extend_from_slice(b"abc");
        let m = Arc::new(m);
        TestCase {
            id: "raw/module".into(),
            module: m.clone(),
            // No trace to frame: the module writes nothing.
            module_stderr_trace: m,
            fixture: Fixture { args: vec!["raw.wasm".into()], ..Fixture::default() },
            capture_len: 16,
            limits: Limits::default(),
        }
    }

    const HEAD: &str = "summary: s\nspec: none\nstrength: must\n";

    fn sleep_case(seconds: u64, limits: Limits) -> TestCase {
        let text = format!(
            "id: poll_oneoff/sleep\n{HEAD}steps:\n  - poll_oneoff:\n      in:\n        - {{userdata: 1, clock: {{id: monotonic, timeout: {seconds}000000000, precision: 0}}}}\n    expect: {{errno: success}}\n"
        );
        scenario_case(&text, "poll_oneoff/sleep.yaml", limits)
    }

    fn readme_case() -> TestCase {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../suite/README.yaml")).expect("README");
        scenario_case(&text, "README.yaml", Limits::default())
    }

    fn readme_example_exits_and_returns_its_trace<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let case = readme_case();
        let out = execute(&rt, &case);
        assert_eq!(out.ending, Ending::Exit(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, b"done\n");
        let memory = out.memory.expect("memory captured");
        assert_eq!(memory.len(), case.capture_len as usize);
        let at = wasi_conform_suite::compile::TRACE_BASE as usize;
        assert_eq!(memory[at..at + 4], wasi_conform_suite::compile::TRACE_MAGIC.to_le_bytes());
        assert_eq!(out.canaries, wasi_conform_suite::outcome::Canaries::Intact);
    }

    fn a_blocked_guest_times_out_and_the_next_run_works<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let case = sleep_case(60, Limits { timeout: Duration::from_millis(500), ..Limits::default() });
        let started = Instant::now();
        let out = execute(&rt, &case);
        assert_eq!(out.ending, Ending::Timeout);
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        let out = execute(&rt, &raw_case(&[]));
        assert_eq!(out.ending, Ending::Exit(0));
    }

    fn traps_are_classified_and_memory_survives_them<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let out = execute(&rt, &raw_case(&[0x00])); // unreachable
        match &out.ending {
            Ending::Trap(k) => assert_eq!(k.class, TrapClass::Unreachable, "{k}"),
            e => panic!("expected a trap, got {e}"),
        }
        assert_eq!(&out.memory.expect("memory after a trap")[..3], b"abc");
        // i32.const -1; i32.load; drop
        let out = execute(&rt, &raw_case(&[0x41, 0x7f, 0x28, 0x02, 0x00, 0x1a]));
        match &out.ending {
            Ending::Trap(k) => assert_eq!(k.class, TrapClass::MemoryOutOfBounds, "{k}"),
            e => panic!("expected a trap, got {e}"),
        }
    }

    fn a_bad_guest_pointer_to_the_host_ends_in_a_defined_way<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let text =
            format!("id: fd_write/bad-iovs\n{HEAD}steps:\n  - fd_write: {{fd: 1, iovs: {{ptr: 4294967288, len: 1}}}}\n    expect: {{errno: fault}}\n");
        let case = scenario_case(&text, "fd_write/bad-iovs.yaml", Limits::default());
        let out = execute(&rt, &case);
        // An errno (the run exits) or a trap (host error included): a normal ending, never a
        // crash or a timeout, and the worker survives it.
        assert!(matches!(out.ending, Ending::Exit(0) | Ending::Trap(_)), "{}", out.ending);
        assert!(out.memory.is_some());
        assert_eq!(execute(&rt, &raw_case(&[])).ending, Ending::Exit(0));
    }

    fn proc_exit_code_and_memory_are_reported<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let text = format!("id: proc_exit/seven\n{HEAD}steps:\n  - proc_exit: {{rval: 7}}\nend: {{exit: 7}}\n");
        let case = scenario_case(&text, "proc_exit/seven.yaml", Limits::default());
        // Twice: the worker survives proc_exit.
        for _ in 0..2 {
            let out = execute(&rt, &case);
            assert_eq!(out.ending, Ending::Exit(7));
            assert!(out.memory.is_some());
        }
    }

    fn a_worker_that_dies_is_a_crash_and_is_replaced<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        assert_eq!(execute(&rt, &raw_case(&[])).ending, Ending::Exit(0));
        // The one idle worker will take the next run: kill it in the middle of that run,
        // the way the OOM killer would.
        let pid = rt.idle.lock().expect("pool").last().expect("an idle worker").proc.child.id();
        let case = sleep_case(3, Limits::default());
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            Command::new("kill").arg("-9").arg(pid.to_string()).status()
        });
        let out = execute(&rt, &case);
        assert!(killer.join().expect("killer").expect("kill runs").success());
        match &out.ending {
            Ending::Crash(m) => assert!(m.contains("died") && m.contains("signal: 9"), "{m}"),
            e => panic!("expected a crash, got {e}"),
        }
        // The next run gets a fresh worker.
        assert_eq!(execute(&rt, &raw_case(&[])).ending, Ending::Exit(0));
    }

    fn runs_from_several_threads_at_once<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let case = readme_case();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        let out = execute(&rt, &case);
                        assert_eq!(out.ending, Ending::Exit(0));
                        assert_eq!(out.stdout, b"done\n");
                    }
                });
            }
        });
    }

    fn the_environment_is_exactly_the_fixtures<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let text = format!(
            "id: environ_get/exact\n{HEAD}fixture:\n  env: [A=1, B=x=y, __proto__=p]\nsteps:\n  - environ_get: {{environ: 4096, environ_buf: 4096}}\n    expect: {{errno: success, environ: [A=1, B=x=y, __proto__=p]}}\n"
        );
        let s = wasi_conform_suite::load::load_str(&text, Path::new("environ_get/exact.yaml")).expect("loads");
        let compiled = wasi_conform_suite::compile::compile(&s).expect("compiles");
        let out = execute(&rt, &compiled.case);
        let v = wasi_conform_suite::verdict::judge(&s, &compiled.layout, &out);
        assert!(matches!(v, wasi_conform_suite::verdict::Verdict::Pass), "{}", v.message());
    }

    /// 200 KiB of stdin (more than a pipe holds) of which the guest reads 5 bytes; then
    /// 100 KiB to stdout; then `fd_seek` on stdout, whose errno must be `seek` (an errno, or
    /// a `one-of`).
    fn stdin_is_fed_and_stdout_is_a_pipe<F: Flavor>(seek: &str) {
        let Some(rt) = runtime::<F>() else { return };
        let text = format!(
            "id: fd_read/stdin\n{HEAD}fixture:\n  stdin: {{repeat: abcde, times: 40960}}\nsteps:\n  - fd_read: {{fd: 0, iovs: [5]}}\n    expect: {{errno: success, nread: 5, read: abcde}}\n  - fd_write: {{fd: 1, iovs: [{{repeat: x, times: 102400}}]}}\n    expect: {{errno: success}}\n  - fd_seek: {{fd: 1, offset: 0, whence: cur}}\n    expect: {{errno: {seek}}}\n"
        );
        let s = wasi_conform_suite::load::load_str(&text, Path::new("fd_read/stdin.yaml")).expect("loads");
        let compiled = wasi_conform_suite::compile::compile(&s).expect("compiles");
        // Twice, so that a worker that reuses its descriptors 0-2 (Bun) is checked too.
        for _ in 0..2 {
            let out = execute(&rt, &compiled.case);
            assert_eq!(out.ending, Ending::Exit(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.stdout.len(), 102400);
            let v = wasi_conform_suite::verdict::judge(&s, &compiled.layout, &out);
            assert!(matches!(v, wasi_conform_suite::verdict::Verdict::Pass), "{}", v.message());
        }
    }

    /// A guest that closes its stdout and stderr does not take the worker's with it.
    fn closing_stdio_leaves_the_worker_usable<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let text = format!(
            "id: fd_close/stdio\n{HEAD}steps:\n  - fd_close: {{fd: 1}}\n    expect: {{errno: success}}\n  - fd_close: {{fd: 2}}\n    expect: {{errno: success}}\n  - fd_close: {{fd: 0}}\n    expect: {{errno: success}}\n"
        );
        let case = scenario_case(&text, "fd_close/stdio.yaml", Limits::default());
        for _ in 0..2 {
            assert_eq!(execute(&rt, &case).ending, Ending::Exit(0));
            let out = execute(&rt, &readme_case());
            assert_eq!(out.ending, Ending::Exit(0));
            assert_eq!(out.stdout, b"done\n");
        }
    }

    fn process_per_run_mode_gives_the_same_outcome<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let case = raw_case(&[0x00]);
        let sandbox = Sandbox::create(&case.fixture).expect("sandbox");
        let exec = rt.run_once(&case, &sandbox);
        assert!(matches!(&exec.ending, Ending::Trap(k) if k.class == TrapClass::Unreachable), "{}", exec.ending);
        assert_eq!(&exec.memory.expect("memory")[..3], b"abc");
        let case = readme_case();
        let sandbox = Sandbox::create(&case.fixture).expect("sandbox");
        let exec = rt.run_once(&case, &sandbox);
        assert_eq!(exec.ending, Ending::Exit(0));
        assert_eq!(exec.stdout, b"done\n");
    }

    /// A worker does not keep descriptors of past runs' sandboxes open.
    fn no_descriptors_pile_up_in_a_worker<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let case = readme_case();
        let open = |rt: &JsRuntime<F>| {
            let pid = rt.idle.lock().expect("pool").last().expect("an idle worker").proc.child.id();
            let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc");
            fds.flatten()
                .map(|e| std::fs::read_link(e.path()).unwrap_or_default().display().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(execute(&rt, &case).ending, Ending::Exit(0));
        let first = open(&rt);
        for _ in 0..30 {
            assert_eq!(execute(&rt, &case).ending, Ending::Exit(0));
        }
        let later = open(&rt);
        assert!(
            later.len() <= first.len() + 8,
            "{} descriptors after one run, {} after 31: {later:?}",
            first.len(),
            later.len()
        );
    }

    /// After each answer no worker holds a guest pipe (so none is retired for it), whatever
    /// the guest left open or renumbered within the runner's reach.
    fn no_pipe_outlives_a_run<F: Flavor>() {
        let Some(rt) = runtime::<F>() else { return };
        let text = format!(
            "id: fd_renumber/leftovers\n{HEAD}fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a.txt: {{file: a}}\nsteps:\n  - path_open: {{fd: $sandbox, path: a.txt, fs_rights_base: [fd_read]}}\n    bind: f\n    expect: {{errno: success}}\n  - fd_write: {{fd: 1, iovs: [\"out\\n\"]}}\n    expect: {{errno: success}}\n  - fd_write: {{fd: 2, iovs: [\"err\\n\"]}}\n    expect: {{errno: success}}\n  - fd_renumber: {{fd: 1, to: $f}}\n    expect: {{errno: {{one-of: [success, badf], because: not what is tested}}}}\n"
        );
        let leftovers = scenario_case(&text, "fd_renumber/leftovers.yaml", Limits::default());
        for _ in 0..10 {
            let out = execute(&rt, &readme_case());
            assert_eq!((out.ending, out.stdout.as_slice()), (Ending::Exit(0), &b"done\n"[..]));
            let out = execute(&rt, &leftovers);
            assert!(matches!(out.ending, Ending::Exit(0) | Ending::Trap(_)), "{}", out.ending);
            assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
        }
        assert_eq!(rt.retired_holding_pipes.load(Ordering::Relaxed), 0);
    }

    /// Deno keeps a stdout renumbered beyond the runner's `fd_close` sweep open in the worker:
    /// the adapter sees that in `/proc`, retires the worker and gets the whole output at once.
    #[test]
    fn deno_a_stdout_renumbered_out_of_reach_is_released_by_retiring_the_worker() {
        let Some(rt) = runtime::<crate::deno::DenoJs>() else { return };
        let text = format!(
            "id: fd_renumber/far\n{HEAD}steps:\n  - fd_write: {{fd: 1, iovs: [\"before\\n\"]}}\n    expect: {{errno: success}}\n  - fd_renumber: {{fd: 1, to: 5000}}\n    expect: {{errno: success}}\n  - fd_write: {{fd: 5000, iovs: [\"after\\n\"]}}\n    expect: {{errno: success}}\n"
        );
        let case = scenario_case(&text, "fd_renumber/far.yaml", Limits::default());
        let started = Instant::now();
        let out = execute(&rt, &case);
        assert_eq!(out.ending, Ending::Exit(0));
        assert_eq!(out.stdout, b"before\nafter\n");
        assert!(started.elapsed() < DRAIN_TIMEOUT, "took {:?}", started.elapsed());
        let out = execute(&rt, &readme_case());
        assert_eq!((out.ending, out.stdout.as_slice()), (Ending::Exit(0), &b"done\n"[..]));
    }

    #[test]
    fn the_bench_case_compiles() {
        bench_case().expect("bench case");
    }

    #[test]
    fn a_sandbox_copy_is_faithful_and_sees_what_changed() {
        use std::os::unix::fs::MetadataExt;
        use wasi_conform_suite::outcome::Canaries;
        let text = format!(
            "id: path_open/mirror\n{HEAD}fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a.txt: {{file: a}}\n        d/b.txt: {{file: b}}\n        hard: {{hardlink: a.txt}}\n        link: {{symlink: ../outside/secret}}\nsteps:\n  - fd_close: {{fd: 99}}\n    expect: {{errno: badf}}\n"
        );
        let case = scenario_case(&text, "path_open/mirror.yaml", Limits::default());
        let sandbox = Sandbox::create(&case.fixture).expect("sandbox");
        let parent = tempfile::tempdir().expect("tempdir");
        let copy = sandbox.copy_in(parent.path()).expect("copy");
        let host = &copy.preopens()[0].1;
        assert!(host.starts_with(parent.path()));
        assert_eq!(copy.preopens()[0].0, "/sandbox");
        assert_eq!(std::fs::read_link(host.join("link")).expect("symlink").to_string_lossy(), "../outside/secret");
        let (a, hard) = (std::fs::metadata(host.join("a.txt")).unwrap(), std::fs::metadata(host.join("hard")).unwrap());
        assert_eq!((a.ino(), a.nlink()), (hard.ino(), 2));
        assert_eq!(
            std::fs::read(host.join("link")).expect("canary through the link"),
            std::fs::read(sandbox.path().join("root/outside/secret")).unwrap()
        );
        // A change inside the preopen is a tree change; one outside is a canary change.
        std::fs::write(host.join("new.txt"), "n").unwrap();
        std::fs::write(host.join("link"), "escaped").unwrap();
        assert!(copy.final_trees()["/sandbox"].contains_key("new.txt"));
        assert_eq!(copy.check_canaries(), Canaries::Changed(vec!["root/outside/secret (modified)".into()]));
        assert_eq!(sandbox.check_canaries(), Canaries::Intact, "the original is untouched");
    }

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
            version: first_line,
            env: &[],
            command: |_, _| {},
            stdio: StdioMode::Descriptors,
            close_through_wasi: false,
            max_runs_per_worker: 1,
            unreachable_dirs: &[],
        };
        let e = probe(&spec).err().expect("not found");
        assert!(e.contains("WASI_CONFORM_NOSUCH_BIN") && e.contains("npm ci"), "{e}");
    }

    /// One module of tests per runtime; `seek` is what `fd_seek` on a stdout pipe gives.
    macro_rules! runtime_tests {
        ($m:ident, $flavor:ty, seek: $seek:literal) => {
            mod $m {
                type F = $flavor;
                #[test]
                fn readme_example_exits_and_returns_its_trace() {
                    super::readme_example_exits_and_returns_its_trace::<F>()
                }
                #[test]
                fn a_blocked_guest_times_out_and_the_next_run_works() {
                    super::a_blocked_guest_times_out_and_the_next_run_works::<F>()
                }
                #[test]
                fn traps_are_classified_and_memory_survives_them() {
                    super::traps_are_classified_and_memory_survives_them::<F>()
                }
                #[test]
                fn a_bad_guest_pointer_to_the_host_ends_in_a_defined_way() {
                    super::a_bad_guest_pointer_to_the_host_ends_in_a_defined_way::<F>()
                }
                #[test]
                fn proc_exit_code_and_memory_are_reported() {
                    super::proc_exit_code_and_memory_are_reported::<F>()
                }
                #[test]
                fn a_worker_that_dies_is_a_crash_and_is_replaced() {
                    super::a_worker_that_dies_is_a_crash_and_is_replaced::<F>()
                }
                #[test]
                fn runs_from_several_threads_at_once() {
                    super::runs_from_several_threads_at_once::<F>()
                }
                #[test]
                fn the_environment_is_exactly_the_fixtures() {
                    super::the_environment_is_exactly_the_fixtures::<F>()
                }
                #[test]
                fn stdin_is_fed_and_stdout_is_a_pipe() {
                    super::stdin_is_fed_and_stdout_is_a_pipe::<F>($seek)
                }
                #[test]
                fn closing_stdio_leaves_the_worker_usable() {
                    super::closing_stdio_leaves_the_worker_usable::<F>()
                }
                #[test]
                fn process_per_run_mode_gives_the_same_outcome() {
                    super::process_per_run_mode_gives_the_same_outcome::<F>()
                }
                #[test]
                fn no_descriptors_pile_up_in_a_worker() {
                    super::no_descriptors_pile_up_in_a_worker::<F>()
                }
                #[test]
                fn no_pipe_outlives_a_run() {
                    super::no_pipe_outlives_a_run::<F>()
                }
            }
        };
    }

    runtime_tests!(node, crate::node::NodeJs, seek: "{one-of: [spipe, notcapable], because: a pipe}");
    // Bun's stdio entries lack the fd_seek right, so it answers perm before looking.
    runtime_tests!(bun, crate::bun::BunJs, seek: "perm");
    // Deno's stdio entries are not seekable descriptors to it at all.
    runtime_tests!(deno, crate::deno::DenoJs, seek: "badf");
}
