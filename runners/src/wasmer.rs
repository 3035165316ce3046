//! Wasmer 7.4.2, in-process, through `wasmer-wasix` 0.704.2 (Wasmer's WASI/WASIX host,
//! whose `wasi_snapshot_preview1` imports are what the guest calls), compiled with the
//! Singlepass backend (Cranelift cannot be resolved beside Wasmtime 48; LLVM and V8 need
//! toolchains or downloads).
//!
//! - One engine, one Tokio runtime and one `wasmer_wasix` runtime (its task manager) for the
//!   adapter; each distinct module is compiled once and kept, keyed like
//!   [`crate::engine::ModuleCache`] by scenario id and module hash.
//! - Per run, on a thread of its own: a new `Store` and `WasiEnv` with exactly the case's
//!   argv (no program name is prepended) and env (nothing from the host; each entry is split
//!   at its first `=`, and Wasmer gives the guest `KEY=VALUE` back), stdin from
//!   `case.fixture.stdin` (an in-memory pipe closed after the bytes, so the guest reads EOF),
//!   stdout/stderr captured in memory by a `VirtualFile` that otherwise behaves like
//!   Wasmer's own host `Stdout`/`Stderr` (reads and seeks fail). Each preopen is a
//!   host-backed file system (`virtual_fs::host_fs::FileSystem` rooted at the preopen's
//!   sandbox directory) mounted at `/<binding>` in a `MountFileSystem` and mapped
//!   (`map_dir`) to the preopen's guest name, read-write; nothing else of the host is
//!   mounted.
//! - Limits. Time: the calling thread is a watchdog. It waits `case.limits.timeout` for the
//!   run, then stops it, repeating every 50 ms for a grace period of 500 ms: it interrupts
//!   the store (`Store::interrupter`, Wasmer's `experimental-host-interrupt` feature: a
//!   signal to the run's thread makes running wasm code trap with `HostInterrupt`, which
//!   stops a guest looping forever) and sends `SIGKILL` to the guest's wasix process (which
//!   wakes a host call blocked in wasix's async machinery, e.g. a `poll_oneoff` sleep, and
//!   makes it exit). A run that ends in the grace period is a timeout with its memory; one
//!   that does not (blocked somewhere neither reaches) is a timeout without memory and its
//!   thread is abandoned. Memory: Wasmer's `Tunables` create every linear memory, and they
//!   belong to the engine, so each run's `Store` gets a clone of the adapter's engine (a
//!   clone shares the compiled code, hence the module cache; only its tunables differ)
//!   whose tunables (`MemoryLimit`) give each memory the maximum
//!   `min(declared maximum, limit)` in whole pages, the limit if none is declared (most
//!   modules compiled from Rust or C declare none). `memory.grow` past it returns -1 to the
//!   guest, as in Wasmtime and wasmi. A memory whose *minimum* exceeds the limit cannot be
//!   created: an exported or imported one is refused before the run with its name, any
//!   other when the instance is made (both `Crash`). The memory style (bounds checks and
//!   guard pages) is fixed when the module is compiled and does not depend on the maximum
//!   (`Static` for every memory in Wasmer 7.4), so capping it changes no compiled code.
//! - Debug builds: Wasmer turns a misaligned guest pointer into a misaligned Rust reference,
//!   which debug assertions make a non-unwinding panic (an abort of the whole harness), so
//!   the workspace manifest turns debug assertions off for the Wasmer crates in the dev
//!   profile: `cargo test` and release runs see the same Wasmer.
//!
//! # What the guest sees that other runtimes do not show: Wasmer's virtual root at fd 3
//!
//! `wasmer-wasix` always creates a preopen for its virtual root `/` at fd 3
//! (`WasiFs::create_rootfd`, called unconditionally while the file system is built, before
//! any builder option applies), and the configured preopens follow from fd 4. This cannot be
//! configured away: there is no builder option for it; the `setup_fs` hook gets the
//! `WasiFs` but it has no public way to remove a descriptor; `fd_close(3)` (like closing any
//! preopen) is a silent no-op that returns success; and `WasiFs::get_fd_inode` answers fd 3
//! with the root inode whatever the descriptor table holds (`fd_prestat_get` goes through
//! it). So the guest's preopen scan finds `fd 3 = "/"` (a
//! directory whose entries are the mapped preopens, e.g. `sandbox`; absolute paths given to
//! any `path_*` call resolve from it), then `fd 4 = "sandbox"`: Wasmer also strips the
//! leading `/` from a mapped name (`PreopenDirBuilder::alias`), so `/sandbox` is reported as
//! `sandbox` (name length 7). The compiled modules find preopens by name, ignoring a leading
//! `/`, so every scenario still binds `$sandbox` to the right fd; a scenario that enumerates
//! the preopens, or checks the preopen's name as written, sees both differences
//! (`fd_prestat_get/preopen-reports-dir-and-name-length` and
//! `fd_prestat_dir_name/writes-name-without-nul` are expected failures for the name).
//!
//! # Endings
//! `_start` returning → `Exit(0)`; `proc_exit(n)` → `WasiError::Exit(code)` → `Exit(code)`
//! (Wasmer keeps exit codes as `u16` reduced modulo 256, so `proc_exit(256)` is `Exit(0)`);
//! any other `WasiError` (thread exit, deep sleep: not reachable from preview1) → `Trap` of
//! class `HostError`. A trap with a code: `UnreachableCodeReached` → `Unreachable`,
//! `HeapAccessOutOfBounds` → `MemoryOutOfBounds`, `HostInterrupt` → `Timeout`, any other code
//! (stack overflow, division by zero, bad indirect call…) → `Other`. An error without a trap
//! code (a host function that failed with a `RuntimeError` of its own) → `HostError`. Note
//! that wasmer-wasix answers a bad guest pointer with errno 78 (WASIX's `memviolation`), not a
//! trap. Anything that ends after the limit (the watchdog's interrupt or `SIGKILL`, or no end
//! at all) → `Timeout`. A module that fails to compile, a memory whose minimum is over the
//! limit, a `WasiEnv` that cannot be built or instantiated, a panic inside Wasmer on the
//! run's thread (caught there), or a run thread that dies without answering → `Crash`. A
//! `memory.grow` past the limit is no ending: the guest gets -1 and carries on. Guest memory
//! `[0, capture_len)` is read after every run that got an instance — returned, exited,
//! trapped or stopped by the watchdog — but not after an abandoned one.

use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::ptr::NonNull;
use wasi_conform_case::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;

use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, TrapCode, VMConfig, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, NativeEngineExt, Tunables};
use wasmer::{Engine, ExternType, MemoryType, Module, Pages, RuntimeError, Store, TableType};
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::virtual_fs::{
    host_fs, AsyncRead, AsyncSeek, AsyncWrite, FsError, MountFileSystem, Pipe, ReadBuf, VirtualFile,
};
use wasmer_wasix::wasmer_wasix_types::wasi::Signal;
use wasmer_wasix::{PluggableRuntime, WasiEnv, WasiError, WasiProcess};

use crate::compile_cache::CompileCache;
use crate::process::panic_text;
use crate::{Availability, Execution, Runtime, Sandbox};

/// How long the watchdog keeps stopping a run that passed its limit before giving up on
/// its thread.
const GRACE: Duration = Duration::from_millis(500);
/// How often the watchdog repeats the stop (a signal can miss a thread that is just
/// entering wasm code).
const INTERRUPT_EVERY: Duration = Duration::from_millis(50);
/// Wasm page size.
const PAGE: u64 = 65536;

/// The Wasmer adapter.
pub struct Wasmer {
    /// Drives `wasmer-wasix`'s async internals (file I/O, sleeps, `block_on`). An `Option`
    /// only so that `Drop` can shut it down without waiting for an abandoned run.
    tokio: Option<tokio::runtime::Runtime>,
    engine: Engine,
    runtime: Arc<PluggableRuntime>,
    cache: CompileCache<Module>,
}

impl Default for Wasmer {
    fn default() -> Self {
        Self::new()
    }
}

impl Wasmer {
    pub fn new() -> Self {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wasmer-tokio")
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let engine = Engine::from(wasmer::sys::Singlepass::default());
        let mut runtime = PluggableRuntime::new(Arc::new(TokioTaskManager::new(tokio.handle().clone())));
        runtime.set_engine(engine.clone());
        Wasmer { tokio: Some(tokio), engine, runtime: Arc::new(runtime), cache: CompileCache::default() }
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.tokio.as_ref().expect("the runtime lives until drop").handle().clone()
    }

    /// The compiled module of a case, compiling it on first use.
    fn module(&self, case: &TestCase) -> Result<Module, SetupError> {
        self.cache.get_or_compile(case, |bytes| Module::new(&self.engine, bytes).map_err(SetupError::Compile))
    }
}

impl Drop for Wasmer {
    fn drop(&mut self) {
        if let Some(rt) = self.tokio.take() {
            rt.shutdown_background();
        }
    }
}

impl Runtime for Wasmer {
    fn name(&self) -> &'static str {
        "wasmer"
    }

    fn version(&self) -> String {
        // The crate version pinned in the workspace manifest (wasmer-wasix 0.704.2).
        "7.4.2".to_owned()
    }

    fn availability(&self) -> Availability {
        Availability::Available
    }

    fn run(&self, case: &TestCase, sandbox: &Sandbox) -> Execution {
        self.run_with_preopens(case, sandbox.preopens())
    }

    fn takes_preload(&self) -> bool {
        true
    }

    fn run_preloaded(&self, case: &TestCase, preload: &Preload, sandbox: &Sandbox) -> Execution {
        self.run_inner(case, sandbox.preopens(), Some(preload))
    }
}

/// What the run's thread reports.
type Report = (Ending, Option<Vec<u8>>);

impl crate::isolated::InProcess for Wasmer {
    fn run_in(
        &self,
        case: &TestCase,
        preopens: &[(String, std::path::PathBuf)],
        preload: Option<&Preload>,
    ) -> Execution {
        self.run_inner(case, preopens, preload)
    }
}

impl Wasmer {
    /// Runs a case with explicit (guest name, host directory) preopens.
    pub fn run_with_preopens(&self, case: &TestCase, preopens: &[(String, PathBuf)]) -> Execution {
        self.run_inner(case, preopens, None)
    }

    fn run_inner(&self, case: &TestCase, preopens: &[(String, PathBuf)], preload: Option<&Preload>) -> Execution {
        let preload = preload.cloned();
        let module = match self.module(case) {
            Ok(m) => m,
            Err(e) => return Execution::crash(e.to_string()),
        };
        if let Err(e) = check_minimum(&module, case.limits.memory_bytes) {
            return Execution::crash(e.to_string());
        }
        let stdout = Capture::new("stdout");
        let stderr = Capture::new("stderr");
        let builder = match self.builder(case, preopens, &stdout, &stderr) {
            Ok(b) => b,
            Err(e) => return Execution::crash(e.to_string()),
        };
        let capture = case.capture_len as usize;
        let handle = self.handle();
        // A clone shares the compiled code (and so the module cache) but has tunables of
        // its own: this run's limit.
        let mut engine = self.engine.clone();
        engine.set_tunables(MemoryLimit::new(case.limits.memory_bytes));
        let (stopper_tx, stopper_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel::<Report>();
        let worker = std::thread::Builder::new().name(format!("wasmer:{}", case.id)).spawn(move || {
            let _tokio = handle.enter();
            let report = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut store = Store::new(engine);
                let (instance, env) = match builder.instantiate(module, &mut store) {
                    Ok(x) => x,
                    Err(e) => return (Ending::Crash(format!("instantiate: {e}")), None),
                };
                if let Some(p) = &preload {
                    let written = match instance.exports.get_memory("memory") {
                        Ok(m) => {
                            let view = m.view(&store);
                            // Bounds first, so that nothing is written when a segment does not fit.
                            let size = view.data_size();
                            match p.segments.iter().find(|(at, b)| *at as u64 + b.len() as u64 > size) {
                                Some((at, b)) => Err(format!(
                                    "preload segment of {} bytes at {at} does not fit in {size} bytes of memory",
                                    b.len()
                                )),
                                None => p
                                    .segments
                                    .iter()
                                    .try_for_each(|(at, b)| view.write(*at as u64, b))
                                    .map_err(|e| e.to_string()),
                            }
                        }
                        Err(e) => Err(format!("preload: {e}")),
                    };
                    if let Err(e) = written {
                        env.on_exit(&mut store, Some(1.into()));
                        return (Ending::Crash(e), None);
                    }
                }
                let process = env.data(&store).process.clone();
                let _ = stopper_tx.send(Stopper { interrupter: store.interrupter(), process });
                let result =
                    instance.exports.get_function("_start").map(|start| start.call(&mut store, &[]).map(|_| ()));
                let memory = instance.exports.get_memory("memory").ok().map(|m| {
                    let view = m.view(&store);
                    let mut buf = vec![0; capture.min(view.data_size() as usize)];
                    view.read(0, &mut buf).map(|_| buf).unwrap_or_default()
                });
                let ending = match result {
                    Err(e) => Ending::Crash(format!("no _start: {e}")),
                    Ok(r) => classify(r),
                };
                let code = match &ending {
                    Ending::Exit(c) => *c as i32,
                    _ => 1,
                };
                // Closes the guest's files and ends its wasix process.
                env.on_exit(&mut store, Some(code.into()));
                (ending, memory)
            }));
            let report =
                report.unwrap_or_else(|p| (Ending::Crash(format!("wasmer panicked: {}", panic_text(&*p))), None));
            let _ = tx.send(report);
        });
        if let Err(e) = worker {
            return Execution::crash(format!("spawn: {e}"));
        }
        let (ending, memory) = watch(&rx, &stopper_rx, case.limits.timeout);
        Execution { ending, stdout: stdout.contents(), stderr: stderr.contents(), memory, own_sandbox: None }
    }

    /// The `WasiEnv` of one run.
    fn builder(
        &self,
        case: &TestCase,
        preopens: &[(String, PathBuf)],
        stdout: &Capture,
        stderr: &Capture,
    ) -> Result<wasmer_wasix::WasiEnvBuilder, SetupError> {
        let mut b = WasiEnv::builder("");
        // `builder(name)` makes `name` argv[0]; argv is exactly the fixture's.
        b.get_args_mut().clear();
        b.add_args(case.fixture.args.iter().cloned());
        for kv in &case.fixture.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            b.add_env(k, v);
        }
        let (mut stdin_tx, stdin_rx) = Pipe::new().split();
        stdin_tx.write_all(&case.fixture.stdin).map_err(SetupError::Stdin)?;
        stdin_tx.close();
        b.set_stdin(Box::new(Pipe::combine(stdin_tx, stdin_rx)));
        b.set_stdout(Box::new(stdout.clone()));
        b.set_stderr(Box::new(stderr.clone()));
        let mounts = MountFileSystem::new();
        for (guest, host) in preopens {
            let binding = guest.trim_start_matches("./").trim_start_matches('/');
            let fs = host_fs::FileSystem::new(self.handle(), host)
                .map_err(|source| SetupError::Preopen { guest: guest.clone(), source })?;
            let at = format!("/{binding}");
            mounts.mount(&at, Arc::new(fs)).map_err(|source| SetupError::Mount { guest: guest.clone(), source })?;
            b.add_map_dir(guest, &at).map_err(|source| SetupError::MapDir { guest: guest.clone(), source })?;
        }
        b.set_mount_fs(mounts);
        b.set_runtime(self.runtime.clone());
        Ok(b)
    }
}

/// Why a run could not start (a crash of the run, with this text).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("compile: {0}")]
    Compile(wasmer::CompileError),
    #[error("memory {name:?}: its minimum of {min} bytes exceeds the limit of {limit} bytes")]
    Memory { name: String, min: u64, limit: u64 },
    #[error("stdin: {0}")]
    Stdin(std::io::Error),
    #[error("preopen {guest}: {source}")]
    Preopen { guest: String, source: wasmer_wasix::virtual_fs::FsError },
    #[error("mount {guest}: {source}")]
    Mount { guest: String, source: wasmer_wasix::virtual_fs::FsError },
    #[error("preopen {guest}: {source}")]
    MapDir { guest: String, source: wasmer_wasix::WasiStateCreationError },
}

/// What the watchdog uses to stop a run that passed its limit.
struct Stopper {
    /// Makes running wasm code trap (`HostInterrupt`).
    interrupter: wasmer::Interrupter,
    /// `SIGKILL` to the guest's wasix process wakes a host call blocked in wasix's async
    /// machinery (a `poll_oneoff` sleep, a read waiting for data), which then exits.
    process: WasiProcess,
}

impl Stopper {
    fn stop(&self) {
        self.interrupter.interrupt();
        self.process.signal_process(Signal::Sigkill);
    }
}

/// Waits for the run's report; past the limit, stops the run (repeatedly: a signal can
/// miss a thread that is just entering wasm code) during [`GRACE`], then gives up on its
/// thread.
fn watch(rx: &mpsc::Receiver<Report>, stopper: &mpsc::Receiver<Stopper>, limit: Duration) -> Report {
    match rx.recv_timeout(limit) {
        Ok(r) => return r,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return (Ending::Crash("the run's thread died without answering".into()), None)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {}
    }
    let give_up = Instant::now() + GRACE;
    let mut stopper_seen = None;
    loop {
        if stopper_seen.is_none() {
            stopper_seen = stopper.try_recv().ok();
        }
        if let Some(s) = &stopper_seen {
            s.stop();
        }
        let now = Instant::now();
        if now >= give_up {
            return (Ending::Timeout, None);
        }
        match rx.recv_timeout(INTERRUPT_EVERY.min(give_up - now)) {
            // Whatever the run ended with after the limit, it did not end within it.
            Ok((_, memory)) => return (Ending::Timeout, memory),
            Err(mpsc::RecvTimeoutError::Disconnected) => return (Ending::Timeout, None),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Refuses up front, with the memory's name, a module whose exported or imported memory
/// needs more than the limit to start (a memory of neither kind is refused by
/// [`MemoryLimit`] when the instance is made).
fn check_minimum(module: &Module, limit: u64) -> Result<(), SetupError> {
    let exports = module.exports().map(|e| (e.name().to_owned(), e.ty().clone()));
    let imports = module.imports().map(|i| (i.name().to_owned(), i.ty().clone()));
    for (name, ty) in exports.chain(imports) {
        if let ExternType::Memory(ty) = ty {
            let min = ty.minimum.0 as u64 * PAGE;
            if min > limit {
                return Err(SetupError::Memory { name, min, limit });
            }
        }
    }
    Ok(())
}

/// The tunables of one run's engine: Wasmer's own ([`BaseTunables`]), except that every
/// linear memory the run creates gets a maximum of at most the case's limit (see the
/// module docs). Tables, globals, tags and the stack configuration are Wasmer's own: the
/// trait's provided methods (which `BaseTunables` does not override either) or delegated.
struct MemoryLimit {
    /// The case's memory limit in whole pages.
    pages: Pages,
    base: BaseTunables,
}

impl MemoryLimit {
    fn new(bytes: u64) -> Self {
        let pages = (bytes / PAGE).min(u64::from(Pages::max_value().0)) as u32;
        MemoryLimit { pages: Pages(pages), base: BaseTunables::new() }
    }

    /// The memory type Wasmer creates instead of `ty`: the maximum is the smaller of the
    /// declared one and the limit (the limit if none is declared); a minimum above the
    /// limit cannot be met.
    fn cap(&self, ty: &MemoryType) -> Result<MemoryType, MemoryError> {
        if ty.minimum > self.pages {
            return Err(MemoryError::Generic(format!(
                "a minimum of {} bytes exceeds the limit of {} bytes",
                ty.minimum.0 as u64 * PAGE,
                self.pages.0 as u64 * PAGE
            )));
        }
        let maximum = Some(ty.maximum.map_or(self.pages, |m| m.min(self.pages)));
        Ok(MemoryType { maximum, ..*ty })
    }
}

impl Tunables for MemoryLimit {
    /// The style is chosen when the module is compiled, by the adapter's shared engine
    /// (`BaseTunables`: `Static` for every memory in Wasmer 7.4, whatever its maximum), so
    /// it is not the limit's to change.
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(&self, ty: &MemoryType, style: &MemoryStyle) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&self.cap(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        // SAFETY: the caller's guarantee for `vm_definition_location` is passed on as is.
        unsafe { self.base.create_vm_memory(&self.cap(ty)?, style, vm_definition_location) }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        // SAFETY: the caller's guarantee for `vm_definition_location` is passed on as is.
        unsafe { self.base.create_vm_table(ty, style, vm_definition_location) }
    }

    fn vmconfig(&self) -> &VMConfig {
        self.base.vmconfig()
    }
}

/// Classifies the result of calling `_start` (see the module docs).
fn classify(result: Result<(), RuntimeError>) -> Ending {
    let err = match result {
        Ok(()) => return Ending::Exit(0),
        Err(e) => e,
    };
    if let Some(w) = err.downcast_ref::<WasiError>() {
        return match w {
            WasiError::Exit(code) => Ending::Exit(code.raw() as u32),
            other => Ending::Trap(TrapKind { class: TrapClass::HostError, message: other.to_string() }),
        };
    }
    let message = err.message();
    match err.to_trap() {
        Some(TrapCode::HostInterrupt) => Ending::Timeout,
        Some(code) => {
            let class = match code {
                TrapCode::UnreachableCodeReached => TrapClass::Unreachable,
                TrapCode::HeapAccessOutOfBounds => TrapClass::MemoryOutOfBounds,
                _ => TrapClass::Other,
            };
            Ending::Trap(TrapKind { class, message: format!("{code:?}: {message}") })
        }
        None => Ending::Trap(TrapKind { class: TrapClass::HostError, message }),
    }
}

/// The guest's stdout or stderr: behaves like Wasmer's own host `Stdout`/`Stderr`
/// (`virtual_fs::host_fs::Stdout`: writes accepted, reads and seeks fail with an I/O error),
/// but keeps the bytes in memory. Clones share the bytes, so the adapter keeps one to read
/// after the run (or after abandoning it).
#[derive(Debug, Clone)]
struct Capture {
    name: &'static str,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    fn new(name: &'static str) -> Self {
        Capture { name, bytes: Arc::default() }
    }

    fn contents(&self) -> Vec<u8> {
        self.bytes.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

impl VirtualFile for Capture {
    fn last_accessed(&self) -> u64 {
        0
    }

    fn last_modified(&self) -> u64 {
        0
    }

    fn created_time(&self) -> u64 {
        0
    }

    fn size(&self) -> u64 {
        0
    }

    fn set_len(&mut self, _new_size: u64) -> Result<(), FsError> {
        Ok(())
    }

    fn unlink(&mut self) -> Result<(), FsError> {
        Ok(())
    }

    fn poll_read_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(0))
    }

    fn poll_write_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(8192))
    }
}

impl AsyncRead for Capture {
    fn poll_read(self: Pin<&mut Self>, _cx: &mut Context<'_>, _buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Err(std::io::Error::other(format!("can not read from {}", self.name))))
    }
}

impl AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.bytes.lock() {
            Ok(mut b) => {
                b.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            Err(_) => Poll::Ready(Err(std::io::Error::other("capture lock poisoned"))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for Capture {
    fn start_seek(self: Pin<&mut Self>, _position: std::io::SeekFrom) -> std::io::Result<()> {
        Err(std::io::Error::other(format!("can not seek {}", self.name)))
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<u64>> {
        Poll::Ready(Err(std::io::Error::other(format!("can not seek {}", self.name))))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use wasi_conform_case::outcome::Ending;
    use wasi_conform_case::test_case::Limits;
    use wasi_conform_suite::compile::compile_with;
    use wasi_conform_suite::load::{load_file, load_str};
    use wasi_conform_suite::scenario::Scenario;
    use wasi_conform_suite::verdict::{judge, Verdict};

    use super::*;
    use crate::execute;

    fn scenario(body: &str) -> Scenario {
        let text =
            format!("summary: s\nspec: test\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\n{body}");
        load_str(&text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()))
    }

    // What every in-process adapter guarantees (traps, timeouts, limits, argv/env/stdin) is
    // checked for Wasmer, in-process and isolated, in runners/tests/in_process.rs; here only
    // what is Wasmer's own: the cache, the wake-up of a blocked run, the memory cap and the
    // virtual root preopen.

    #[test]
    fn the_readme_example_passes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suite/README.yaml");
        let s = load_file(&path).unwrap_or_else(|e| panic!("{}", e.with_snippet()));
        let c = compile_with(&s, Limits::default()).unwrap();
        let rt = Wasmer::new();
        let o = execute(&rt, &c.case);
        assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass, "{:?}", o.ending);
        // A second run reuses the compiled module.
        let o = execute(&rt, &c.case);
        assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass);
        assert_eq!(rt.cache.len(), 1);
    }

    #[test]
    fn a_guest_blocked_in_a_host_call_times_out() {
        // A 60 s relative clock subscription: the guest sleeps inside poll_oneoff, where
        // the interrupt cannot reach it; SIGKILL to its wasix process wakes it.
        let s = scenario(
            "id: poll_oneoff/hang\nsteps:\n  - poll_oneoff: {in: [{userdata: 1, clock: {id: monotonic, timeout: 60000000000}}]}\n    expect: {errno: success}\n",
        );
        let c = compile_with(&s, Limits { timeout: Duration::from_millis(500), ..Limits::default() }).unwrap();
        let started = Instant::now();
        let o = execute(&Wasmer::new(), &c.case);
        assert_eq!(o.ending, Ending::Timeout);
        assert!(o.memory.is_some(), "the run's thread was woken, not abandoned");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(judge(&s, &c.layout, &o), Verdict::Timeout);
    }

    #[test]
    fn memories_are_capped_at_each_cases_limit_and_share_one_compiled_module() {
        // The guest grows its memory a page at a time until `memory.grow` fails (-1), then
        // stores the number of pages it reached at address 0.
        use wasm_encoder::{BlockType, Instruction::*};
        let store =
            wasm_encoder::MemArg { offset: 0, align: 2, target: wasm_encoder::MemArgTarget::Memory(0), ordering: None };
        let body = [
            Block(BlockType::Empty),
            Loop(BlockType::Empty),
            I32Const(1),
            MemoryGrow(0),
            I32Const(-1),
            I32Eq,
            BrIf(1),
            Br(0),
            End,
            End,
            I32Const(0),
            MemorySize(0),
            I32Store(store),
        ];
        let rt = Wasmer::new();
        let reached = |max: Option<u64>, limit: u64| {
            let mut c = compile_with(
                &scenario("id: sched_yield/grow\nsteps:\n  - sched_yield: {}\n    expect: {errno: success}\n"),
                Limits { memory_bytes: limit, ..Limits::default() },
            )
            .unwrap();
            c.case.module = Arc::new(module(&body, 1, max, true));
            let o = execute(&rt, &c.case);
            assert_eq!(o.ending, Ending::Exit(0), "maximum {max:?}, limit {limit}");
            let memory = o.memory.expect("memory after the run");
            u32::from_le_bytes(memory[..4].try_into().unwrap())
        };
        assert_eq!(reached(None, 4 << 16), 4);
        assert_eq!(reached(Some(16), 4 << 16), 4);
        // A declared maximum below the limit still holds.
        assert_eq!(reached(Some(2), 4 << 16), 2);
        // A limit that is not a whole number of pages allows the whole pages only.
        assert_eq!(reached(None, (3 << 16) + 100), 3);
        // The same compiled module under different limits: the cap is the run's, the
        // module is compiled once per maximum declared above.
        assert_eq!(reached(None, 2 << 16), 2);
        assert_eq!(rt.cache.len(), 3);
    }

    #[test]
    fn a_memory_whose_minimum_exceeds_the_limit_is_refused() {
        let mut c = compile_with(
            &scenario("id: sched_yield/big\nsteps:\n  - sched_yield: {}\n    expect: {errno: success}\n"),
            Limits { memory_bytes: 4 << 16, ..Limits::default() },
        )
        .unwrap();
        // Exported: refused up front, with its name.
        c.case.module = Arc::new(module(&[], 5, None, true));
        let e = execute(&Wasmer::new(), &c.case).ending;
        assert!(matches!(&e, Ending::Crash(m) if m.contains("\"memory\"") && m.contains("limit")), "{e}");
        // Not exported: refused by the tunables when the instance is made.
        c.case.module = Arc::new(module(&[], 5, None, false));
        let e = execute(&Wasmer::new(), &c.case).ending;
        assert!(matches!(&e, Ending::Crash(m) if m.contains("exceeds the limit")), "{e}");
        // Exactly the limit is fine.
        c.case.module = Arc::new(module(&[], 4, None, true));
        assert_eq!(execute(&Wasmer::new(), &c.case).ending, Ending::Exit(0));
    }

    #[test]
    fn the_virtual_root_is_preopen_fd_3_and_cannot_be_closed_away() {
        // What the module docs say about fd 3, observed: "/" at fd 3, "sandbox" at fd 4,
        // and fd 3 still a preopen after fd_close(3).
        let s = scenario(
            "id: fd_prestat_get/root\nsteps:\n  - fd_prestat_dir_name: {fd: 3, path: 1}\n    expect: {errno: success, name: /}\n  - fd_prestat_dir_name: {fd: $sandbox, path: 7}\n    expect: {errno: success, name: sandbox}\n  - fd_close: {fd: 3}\n    expect: {errno: success}\n  - fd_prestat_get: {fd: 3}\n    expect: {errno: success, prestat: {tag: dir, name_len: 1}}\n",
        );
        let c = compile_with(&s, Limits::default()).unwrap();
        let o = execute(&Wasmer::new(), &c.case);
        assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass, "{:?}", o.ending);
    }

    /// A module with a memory of `min` pages and maximum `max` (exported as `memory` if
    /// `export`) and `_start` with the given body.
    fn module(body: &[wasm_encoder::Instruction], min: u64, max: Option<u64>, export: bool) -> Vec<u8> {
        use wasm_encoder::*;
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        let mut mem = MemorySection::new();
        mem.memory(MemoryType { minimum: min, maximum: max, memory64: false, shared: false, page_size_log2: None });
        let mut exports = ExportSection::new();
        if export {
            exports.export("memory", ExportKind::Memory, 0);
        }
        exports.export("_start", ExportKind::Func, 0);
        let mut f = Function::new([]);
        for i in body {
            f.instruction(i);
        }
        f.instruction(&Instruction::End);
        let mut code = CodeSection::new();
        code.function(&f);
        let mut m = Module::new();
        m.section(&types).section(&funcs).section(&mem).section(&exports).section(&code);
        m.finish()
    }
}
