//! Node.js, through `node:wasi` (`version: 'preview1'`, `returnOnExit: true`), driven by
//! `runners/js/runner.mjs` in long-lived worker processes.
//!
//! - The runner script is embedded in the binary and written once to a temporary directory
//!   owned by the adapter, so the CLI works from any directory and never runs a script out
//!   of step with the adapter.
//! - Workers: `node --no-warnings --max-old-space-size=N runner.mjs --worker`, one JSON
//!   request per line on its stdin, one JSON response per line on its stdout (protocol in
//!   the script's header). Idle workers wait in a pool behind a mutex (at most one per CPU),
//!   so [`Runtime::run`] may be called from several threads at once; each run takes a worker
//!   of its own or starts one. A worker is started with an empty environment plus `PATH`,
//!   in the adapter's temporary directory, and is replaced after `MAX_RUNS_PER_WORKER`
//!   runs.
//! - Modules: each worker keeps the `WebAssembly.Module`s it compiled, keyed by a hash of
//!   the bytes; the adapter remembers which keys each worker holds and sends the bytes
//!   (base64) only the first time (`wasi-conform bench` prints what that saves).
//! - Per run: the guest's stdin, stdout and stderr are three named pipes in a temporary
//!   directory of the adapter's (not in the sandbox, whose every file outside the preopens
//!   is a canary), opened by the worker and passed to `WASI` as descriptors; the adapter
//!   writes stdin and drains stdout/stderr with threads (see `GuestStdio`). They are pipes,
//!   not files, because a guest may look: `fd_seek` on a file succeeds, on a pipe it fails.
//!   argv is exactly `case.fixture.args`; env is `case.fixture.env` split at the first `=`
//!   into an object (so a later duplicate key replaces an earlier one, and integer-like keys
//!   come first: JavaScript property order); preopens are `{guest name: host path}`.
//!   `node:wasi` never closes the host descriptors behind an instance (preopens, files the
//!   guest left open), so the worker closes whatever file descriptors a run left behind.
//! - Limits: time by the adapter — no response within `case.limits.timeout` of sending the
//!   request (which includes compiling a module the worker has not seen, a few ms) and the
//!   worker is killed, the run reported as a timeout and the next run gets a fresh worker.
//!   Memory: `--max-old-space-size` is `case.limits.memory_bytes` in MiB (at least 64);
//!   it bounds the JS heap, not linear memory, which the compiled modules fix in size.
//! - `process per run` mode (`runner.mjs --once REQUEST.json`) exists only for
//!   [`Runtime::bench_notes`].
//!
//! Normalisation of endings: `wasi.start()` returning a number (the `proc_exit` code under
//! `returnOnExit`, or 0 when `_start` returned) → `Exit(code)`; a
//! `WebAssembly.RuntimeError` → `Trap`, classified by message: `unreachable` →
//! `Unreachable`, `memory access out of bounds` → `MemoryOutOfBounds`, anything else →
//! `Other`; a `RangeError` about the call stack (stack exhaustion) → `Other`; any other
//! error thrown out of `start()` → `HostError` (what node:wasi throws when it refuses its
//! arguments; note that it answers a guest pointer out of bounds with errno `overflow`,
//! not a trap); a module that fails to compile or instantiate, a `WASI` that
//! cannot be set up, or a worker that dies → `Crash` (with the tail of its stderr); no
//! response in time → `Timeout`. Guest memory `[0, capture_len)` is read after every run
//! that got as far as an instance, whether it exited, called `proc_exit` or trapped.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use wasi_conform_suite::case::TestCase;
use wasi_conform_suite::outcome::{Ending, TrapClass, TrapKind};

use crate::{Availability, Execution, Runtime, Sandbox};

/// The JS runner, shared by every `node:wasi`-style runtime.
pub const RUNNER_JS: &str = include_str!("../js/runner.mjs");
/// How long a fresh worker may take to say it is ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Bytes of a dead worker's stderr kept for the crash message.
const STDERR_TAIL: usize = 4096;
/// Runs after which a worker is replaced (a backstop against leaks inside `node:wasi`).
const MAX_RUNS_PER_WORKER: u32 = 2000;
/// Compiled modules a worker keeps before it is told to forget them all.
const MAX_CACHED_MODULES: usize = 1024;
/// Smallest `--max-old-space-size`, in MiB.
const MIN_HEAP_MB: u64 = 64;
/// Runs per mode in [`Runtime::bench_notes`].
const BENCH_RUNS: u32 = 20;

/// The Node.js adapter.
pub struct Node {
    probe: OnceLock<Result<Probe, String>>,
    script: OnceLock<Result<Script, String>>,
    idle: Mutex<Vec<Worker>>,
    max_idle: usize,
    next_id: AtomicU64,
}

/// Whether a worker keeps the modules it compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModuleCache {
    /// Bytes sent once per worker, the compiled module kept (what [`Runtime::run`] does).
    Keep,
    /// Bytes sent and compiled on every run (only to measure what `Keep` saves).
    SendEveryRun,
}

/// The node binary and its version.
struct Probe {
    bin: PathBuf,
    version: String,
}

/// The runner script, written out.
struct Script {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl Default for Node {
    fn default() -> Self {
        Self::new()
    }
}

impl Node {
    /// Nothing is probed or started until it is needed.
    pub fn new() -> Self {
        Node {
            probe: OnceLock::new(),
            script: OnceLock::new(),
            idle: Mutex::new(Vec::new()),
            max_idle: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            next_id: AtomicU64::new(1),
        }
    }

    fn probe(&self) -> Result<&Probe, String> {
        self.probe.get_or_init(probe_node).as_ref().map_err(Clone::clone)
    }

    fn script(&self) -> Result<&Script, String> {
        self.script
            .get_or_init(|| {
                let dir = tempfile::Builder::new()
                    .prefix("wasi-conform-node-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a directory for the runner script: {e}"))?;
                let path = dir.path().join("runner.mjs");
                std::fs::write(&path, RUNNER_JS).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(Script { dir, path })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn launcher(&self, heap_mb: u64) -> Result<Launcher<'_>, String> {
        let probe = self.probe()?;
        let script = self.script()?;
        Ok(Launcher { bin: &probe.bin, script: &script.path, cwd: script.dir.path(), heap_mb })
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
        if worker.runs >= MAX_RUNS_PER_WORKER {
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

    /// Runs a case in a pooled worker.
    fn run_in_worker(&self, case: &TestCase, sandbox: &Sandbox, modules: ModuleCache) -> Execution {
        let heap_mb = heap_mb(case);
        let launcher = match self.launcher(heap_mb) {
            Ok(l) => l,
            Err(e) => return crash(e),
        };
        let mut worker = match self.take_worker(heap_mb) {
            Some(w) => w,
            None => match Worker::spawn(&launcher) {
                Ok(w) => w,
                Err(e) => return crash(e),
            },
        };
        let stdio = match GuestStdio::create(&case.fixture.stdin) {
            Ok(s) => s,
            Err(e) => {
                self.give_back(worker);
                return crash(format!("cannot prepare the stdio pipes: {e}"));
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
        let request = request(id, key.as_deref(), send_bytes, flush, case, sandbox, &stdio);
        worker.runs += 1;
        if let Err(e) = worker.send(&request) {
            let why = worker.proc.death(&format!("cannot send the request: {e}"));
            return stdio.finish(Ending::Crash(why), None);
        }
        worker.cached.extend(key);
        let (ending, memory) = match worker.proc.lines.recv_timeout(case.limits.timeout) {
            Ok(line) => match parse_response(&line, id) {
                Ok((ending, memory)) => {
                    self.give_back(worker);
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
                let why = worker.proc.death("the node worker died during the run");
                drop(worker);
                (Ending::Crash(why), None)
            }
        };
        // Here the worker is back in the pool (done with the pipes) or dead.
        stdio.finish(ending, memory)
    }

    /// Runs a case in a node process of its own (`runner.mjs --once`).
    fn run_once(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        let launcher = match self.launcher(heap_mb(case)) {
            Ok(l) => l,
            Err(e) => return crash(e),
        };
        let stdio = match GuestStdio::create(&case.fixture.stdin) {
            Ok(s) => s,
            Err(e) => return crash(format!("cannot prepare the stdio pipes: {e}")),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req_path = stdio.dir.path().join("request.json");
        if let Err(e) = std::fs::write(&req_path, request(id, None, true, false, case, sandbox, &stdio)) {
            return stdio.finish(Ending::Crash(format!("cannot write the request: {e}")), None);
        }
        let mut cmd = launcher.command();
        cmd.arg("--once").arg(&req_path).stdin(Stdio::null());
        let mut proc = match Proc::spawn(cmd) {
            Ok(p) => p,
            Err(e) => return stdio.finish(Ending::Crash(e), None),
        };
        let (ending, memory) = match proc.lines.recv_timeout(case.limits.timeout) {
            Ok(line) => match parse_response(&line, id) {
                Ok(r) => r,
                Err(e) => (Ending::Crash(e), None),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => (Ending::Timeout, None),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                (Ending::Crash(proc.death("node exited without a response")), None)
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

impl Runtime for Node {
    fn name(&self) -> &'static str {
        "node"
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
        if self.probe().is_err() {
            return Vec::new();
        }
        let case = match bench_case() {
            Ok(c) => c,
            Err(e) => return vec![("node bench".to_owned(), e)],
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
        vec![
            ("process per run".to_owned(), fmt(once, "a new node process each, module sent and compiled each time")),
            ("worker".to_owned(), fmt(cached, "module compiled once and kept in the worker")),
            ("worker, no module cache".to_owned(), fmt(resent, "module sent as base64 and compiled every run")),
        ]
    }
}

/// The small case `bench_notes` times: one preopen, one write to stdout.
fn bench_case() -> Result<TestCase, String> {
    const TEXT: &str = "id: fd_write/node-bench\nsummary: bench\nspec: none\nstrength: must\n\
        fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a.txt: {file: a}\n\
        steps:\n  - fd_write: {fd: 1, iovs: [\"hello\\n\"]}\n    expect: {errno: success, nwritten: 6}\n\
        stdout: \"hello\\n\"\n";
    let s =
        wasi_conform_suite::load::load_str(TEXT, Path::new("fd_write/node-bench.yaml")).map_err(|e| e.to_string())?;
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

fn crash(message: String) -> Execution {
    Execution::crash(message)
}

/// Finds node: `NODE_BIN`, else `node` on `PATH`; asks it its version.
fn probe_node() -> Result<Probe, String> {
    let bin = match std::env::var_os("NODE_BIN").filter(|v| !v.is_empty()) {
        Some(b) => PathBuf::from(b),
        None => find_on_path("node").ok_or_else(|| "node not found (set NODE_BIN or put node on PATH)".to_owned())?,
    };
    let mut cmd = Command::new(&bin);
    cmd.arg("--version").env_clear().stdin(Stdio::null()).stderr(Stdio::null());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let out =
        cmd.output().map_err(|e| format!("cannot run {}: {e} (set NODE_BIN or put node on PATH)", bin.display()))?;
    if !out.status.success() {
        return Err(format!("`{} --version` failed ({})", bin.display(), out.status));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(Probe { bin, version })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false))
}

/// How to start the runner.
struct Launcher<'a> {
    bin: &'a Path,
    script: &'a Path,
    cwd: &'a Path,
    heap_mb: u64,
}

impl Launcher<'_> {
    /// `node --no-warnings --max-old-space-size=N runner.mjs`, with an empty environment
    /// but `PATH`; the caller adds the mode.
    fn command(&self) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.arg("--no-warnings")
            .arg(format!("--max-old-space-size={}", self.heap_mb))
            .arg(self.script)
            .env_clear()
            .current_dir(self.cwd);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
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
    fn spawn(mut cmd: Command) -> Result<Proc, String> {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot start node: {e}"))?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("cannot start node: no stdout/stderr pipe".to_owned());
        };
        let (tx, lines) = mpsc::channel();
        let spawned = std::thread::Builder::new().name("node-stdout".into()).spawn(move || {
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
            std::thread::Builder::new().name("node-stderr".into()).spawn(move || {
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
        let mut cmd = launcher.command();
        cmd.arg("--worker").stdin(Stdio::piped());
        let mut proc = Proc::spawn(cmd)?;
        let Some(stdin) = proc.child.stdin.take() else {
            return Err("cannot start node: no stdin pipe".to_owned());
        };
        match proc.lines.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) if line.contains("\"ready\":true") => {
                Ok(Worker { proc, stdin, heap_mb: launcher.heap_mb, cached: HashSet::new(), runs: 0 })
            }
            Ok(line) => Err(proc.death(&format!("the node worker did not start (it said `{}`)", line.trim()))),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(proc.death(&format!("the node worker was not ready within {STARTUP_TIMEOUT:?}")))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(proc.death("the node worker did not start")),
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
///   no end-of-file before the run is over; a thread drains each into memory.
/// - stdin: a thread opens it write-only (rendezvous with the runner's `open(O_RDONLY)`),
///   writes the fixture's bytes and closes it, so the guest reads them and then EOF.
struct GuestStdio {
    dir: tempfile::TempDir,
    stdin: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    stdin_writer: Option<JoinHandle<()>>,
    outputs: Vec<Capture>,
}

/// One output pipe being drained.
struct Capture {
    /// Our own read-write handle; dropped when the run is over.
    keep_open: Option<std::fs::File>,
    bytes: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

/// How long the output threads may take to see end-of-file once the runner is done.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

impl GuestStdio {
    fn create(stdin: &[u8]) -> std::io::Result<GuestStdio> {
        let dir = tempfile::Builder::new().prefix("wasi-conform-node-stdio-").tempdir()?;
        let [stdin_path, stdout, stderr] = ["stdin", "stdout", "stderr"].map(|n| dir.path().join(n));
        for p in [&stdin_path, &stdout, &stderr] {
            mkfifo(p)?;
        }
        let mut outputs = Vec::new();
        for p in [&stdout, &stderr] {
            let keep_open = std::fs::OpenOptions::new().read(true).write(true).open(p)?;
            let mut reader = std::fs::File::open(p)?;
            let (tx, bytes) = mpsc::channel();
            std::thread::Builder::new().name("node-guest-output".into()).spawn(move || {
                let mut buf = Vec::new();
                let _ = tx.send(reader.read_to_end(&mut buf).map(|_| buf));
            })?;
            outputs.push(Capture { keep_open: Some(keep_open), bytes });
        }
        let data = stdin.to_vec();
        let path = stdin_path.clone();
        let stdin_writer = std::thread::Builder::new().name("node-guest-stdin".into()).spawn(move || {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
                // EPIPE when the guest's side is closed before it read everything: fine.
                let _ = f.write_all(&data);
            }
        })?;
        Ok(GuestStdio { dir, stdin: stdin_path, stdout, stderr, stdin_writer: Some(stdin_writer), outputs })
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
    sandbox: &Sandbox,
    stdio: &GuestStdio,
) -> String {
    let env: Vec<(&str, &str)> =
        case.fixture.env.iter().map(|kv| kv.split_once('=').unwrap_or((kv.as_str(), ""))).collect();
    let preopens: Vec<(&str, String)> =
        sandbox.preopens().iter().map(|(guest, host)| (guest.as_str(), host.to_string_lossy().into_owned())).collect();
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
fn parse_response(line: &str, id: u64) -> Result<(Ending, Option<Vec<u8>>), String> {
    let r: Response = serde_json::from_str(line)
        .map_err(|e| format!("unreadable response from the node runner ({e}): {}", truncate(line, 300)))?;
    if let Some(e) = r.error {
        return Err(format!("the node runner failed: {e}"));
    }
    if r.id != Some(id) {
        return Err(format!("the node runner answered request {:?} instead of {id}", r.id));
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
        None => return Err(format!("the node runner's response has no ending: {}", truncate(line, 300))),
    };
    let memory = match r.memory {
        None => None,
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("the node runner sent undecodable memory: {e}"))?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute;
    use wasi_conform_suite::case::Limits;
    use wasi_conform_suite::scenario::Fixture;

    fn node() -> Option<Node> {
        let n = Node::new();
        match n.availability() {
            Availability::Available => Some(n),
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
        TestCase {
            id: "raw/module".into(),
            module: Arc::new(m),
            fixture: Fixture { args: vec!["raw.wasm".into()], ..Fixture::default() },
            capture_len: 16,
            limits: Limits::default(),
        }
    }

    const HEAD: &str = "summary: s\nspec: none\nstrength: must\n";

    #[test]
    fn readme_example_exits_and_returns_its_trace() {
        let Some(node) = node() else { return };
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../suite/README.yaml")).expect("README");
        let case = scenario_case(&text, "README.yaml", Limits::default());
        let out = execute(&node, &case);
        assert_eq!(out.ending, Ending::Exit(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, b"done\n");
        let memory = out.memory.expect("memory captured");
        assert_eq!(memory.len(), case.capture_len as usize);
        let at = wasi_conform_suite::compile::TRACE_BASE as usize;
        assert_eq!(memory[at..at + 4], wasi_conform_suite::compile::TRACE_MAGIC.to_le_bytes());
        assert_eq!(out.canaries, wasi_conform_suite::outcome::Canaries::Intact);
    }

    #[test]
    fn a_blocked_guest_times_out_and_the_next_run_works() {
        let Some(node) = node() else { return };
        let text = format!(
            "id: poll_oneoff/sleep\n{HEAD}steps:\n  - poll_oneoff:\n      in:\n        - {{userdata: 1, clock: {{id: monotonic, timeout: 60000000000, precision: 0}}}}\n    expect: {{errno: success}}\n"
        );
        let limits = Limits { timeout: Duration::from_millis(500), ..Limits::default() };
        let case = scenario_case(&text, "poll_oneoff/sleep.yaml", limits);
        let started = Instant::now();
        let out = execute(&node, &case);
        assert_eq!(out.ending, Ending::Timeout);
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        let out = execute(&node, &raw_case(&[]));
        assert_eq!(out.ending, Ending::Exit(0));
    }

    #[test]
    fn traps_are_classified_and_memory_survives_them() {
        let Some(node) = node() else { return };
        let out = execute(&node, &raw_case(&[0x00])); // unreachable
        match &out.ending {
            Ending::Trap(k) => assert_eq!(k.class, TrapClass::Unreachable, "{k}"),
            e => panic!("expected a trap, got {e}"),
        }
        assert_eq!(&out.memory.expect("memory after a trap")[..3], b"abc");
        // i32.const -1; i32.load; drop
        let out = execute(&node, &raw_case(&[0x41, 0x7f, 0x28, 0x02, 0x00, 0x1a]));
        match &out.ending {
            Ending::Trap(k) => assert_eq!(k.class, TrapClass::MemoryOutOfBounds, "{k}"),
            e => panic!("expected a trap, got {e}"),
        }
    }

    #[test]
    fn a_bad_guest_pointer_to_the_host_ends_in_a_defined_way() {
        let Some(node) = node() else { return };
        let text =
            format!("id: fd_write/bad-iovs\n{HEAD}steps:\n  - fd_write: {{fd: 1, iovs: {{ptr: 4294967288, len: 1}}}}\n    expect: {{errno: fault}}\n");
        let case = scenario_case(&text, "fd_write/bad-iovs.yaml", Limits::default());
        let out = execute(&node, &case);
        // Node answers with an errno (the run exits) where Wasmtime traps: either is a
        // normal ending, never a crash or a timeout.
        assert!(matches!(out.ending, Ending::Exit(0) | Ending::Trap(_)), "{}", out.ending);
        assert!(out.memory.is_some());
    }

    #[test]
    fn proc_exit_code_and_memory_are_reported() {
        let Some(node) = node() else { return };
        let text = format!("id: proc_exit/seven\n{HEAD}steps:\n  - proc_exit: {{rval: 7}}\nend: {{exit: 7}}\n");
        let case = scenario_case(&text, "proc_exit/seven.yaml", Limits::default());
        let out = execute(&node, &case);
        assert_eq!(out.ending, Ending::Exit(7));
        assert!(out.memory.is_some());
    }

    #[test]
    fn a_worker_that_dies_is_a_crash_and_is_replaced() {
        let Some(node) = node() else { return };
        assert_eq!(execute(&node, &raw_case(&[])).ending, Ending::Exit(0));
        // The one idle worker will take the next run: kill it in the middle of that run,
        // the way the OOM killer would.
        let pid = node.idle.lock().expect("pool").last().expect("an idle worker").proc.child.id();
        let text = format!(
            "id: poll_oneoff/sleep\n{HEAD}steps:\n  - poll_oneoff:\n      in:\n        - {{userdata: 1, clock: {{id: monotonic, timeout: 3000000000, precision: 0}}}}\n    expect: {{errno: success}}\n"
        );
        let case = scenario_case(&text, "poll_oneoff/sleep.yaml", Limits::default());
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            Command::new("kill").arg("-9").arg(pid.to_string()).status()
        });
        let out = execute(&node, &case);
        assert!(killer.join().expect("killer").expect("kill runs").success());
        match &out.ending {
            Ending::Crash(m) => assert!(m.contains("died") && m.contains("signal: 9"), "{m}"),
            e => panic!("expected a crash, got {e}"),
        }
        // The next run gets a fresh worker.
        assert_eq!(execute(&node, &raw_case(&[])).ending, Ending::Exit(0));
    }

    #[test]
    fn runs_from_several_threads_at_once() {
        let Some(node) = node() else { return };
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../suite/README.yaml")).expect("README");
        let case = scenario_case(&text, "README.yaml", Limits::default());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        let out = execute(&node, &case);
                        assert_eq!(out.ending, Ending::Exit(0));
                        assert_eq!(out.stdout, b"done\n");
                    }
                });
            }
        });
    }

    #[test]
    fn the_environment_is_exactly_the_fixtures() {
        let Some(node) = node() else { return };
        let text = format!(
            "id: environ_get/exact\n{HEAD}fixture:\n  env: [A=1, B=x=y, __proto__=p]\nsteps:\n  - environ_get: {{environ: 4096, environ_buf: 4096}}\n    expect: {{errno: success, environ: [A=1, B=x=y, __proto__=p]}}\n"
        );
        let s = wasi_conform_suite::load::load_str(&text, Path::new("environ_get/exact.yaml")).expect("loads");
        let compiled = wasi_conform_suite::compile::compile(&s).expect("compiles");
        let out = execute(&node, &compiled.case);
        let v = wasi_conform_suite::verdict::judge(&s, &compiled.layout, &out);
        assert!(matches!(v, wasi_conform_suite::verdict::Verdict::Pass), "{}", v.message());
    }

    #[test]
    fn stdin_is_fed_and_stdio_are_pipes() {
        let Some(node) = node() else { return };
        // 200 KiB of stdin (more than a pipe holds) of which the guest reads 5 bytes; then
        // 100 KiB to stdout, then stdout is not seekable.
        let text = format!(
            "id: fd_read/stdin\n{HEAD}fixture:\n  stdin: {{repeat: abcde, times: 40960}}\nsteps:\n  - fd_read: {{fd: 0, iovs: [5]}}\n    expect: {{errno: success, nread: 5, read: abcde}}\n  - fd_write: {{fd: 1, iovs: [{{repeat: x, times: 102400}}]}}\n    expect: {{errno: success}}\n  - fd_seek: {{fd: 1, offset: 0, whence: cur}}\n    expect: {{errno: {{one-of: [spipe, notcapable], because: pipe}}}}\n"
        );
        let s = wasi_conform_suite::load::load_str(&text, Path::new("fd_read/stdin.yaml")).expect("loads");
        let compiled = wasi_conform_suite::compile::compile(&s).expect("compiles");
        let out = execute(&node, &compiled.case);
        assert_eq!(out.ending, Ending::Exit(0));
        assert_eq!(out.stdout.len(), 102400);
        let v = wasi_conform_suite::verdict::judge(&s, &compiled.layout, &out);
        assert!(matches!(v, wasi_conform_suite::verdict::Verdict::Pass), "{}", v.message());
    }

    #[test]
    fn process_per_run_mode_gives_the_same_outcome() {
        let Some(node) = node() else { return };
        let case = raw_case(&[0x00]);
        let sandbox = Sandbox::create(&case.fixture).expect("sandbox");
        let exec = node.run_once(&case, &sandbox);
        assert!(matches!(&exec.ending, Ending::Trap(k) if k.class == TrapClass::Unreachable), "{}", exec.ending);
        assert_eq!(&exec.memory.expect("memory")[..3], b"abc");
    }

    #[test]
    fn the_bench_case_compiles() {
        bench_case().expect("bench case");
    }
}
