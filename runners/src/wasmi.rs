//! wasmi, in-process: the `wasmi` interpreter with `wasmi_wasi`'s preview1 host.
//!
//! **Which WASI implementation this measures.** `wasmi_wasi` 2.0 is a thin binding of
//! `wasi-common` 36 (the `wasi_common::snapshots::preview_1` host plus its cap-std backed
//! `wasi_common::sync` files, directories, clocks and scheduler) onto wasmi's linker. That is
//! Wasmtime's *older* preview1 implementation, not the one the `wasmtime` adapter runs
//! (`wasmtime-wasi`'s `p1` module, which implements preview1 on top of its preview2 host).
//! The two share ancestry but differ in behaviour, so this adapter's results describe
//! wasi-common as much as wasmi; [`Runtime::version`] says so ("wasmi 2.0.0 (wasi-common
//! 36.0.20)").
//!
//! - wasmi is built with its `portable-dispatch` feature (a loop dispatcher). Its default
//!   dispatcher chains handlers by sibling calls and relies on LLVM turning them into tail
//!   calls; with debug assertions on (our dev/test profile) or several codegen units (our
//!   release profile) that does not always happen, and a guest loop overflowed the native
//!   stack and aborted the whole test process
//!   (<https://github.com/wasmi-labs/wasmi/issues/2039>,
//!   <https://github.com/wasmi-labs/wasmi/issues/1942>).
//! - One engine for the process; each distinct module is compiled (validated eagerly,
//!   translated lazily, wasmi's default) once and kept, keyed by scenario id and module hash.
//! - Per run: a new `WasiCtx` (`wasi_common::sync::WasiCtxBuilder`, which inherits nothing
//!   from the host) with exactly the case's argv and env, and each preopen opened as a
//!   `cap_std::fs::Dir` and preopened under its guest name. wasi-common gives preopened
//!   directories every right.
//! - Stdio is OS pipes, as when the wasmi CLI runs in a shell pipeline (the CLI calls
//!   `WasiCtxBuilder::inherit_stdio`). Fd 0 reads a pipe holding the case's stdin and then
//!   end-of-file: the pipe is filled before the run as far as its buffer takes the bytes, a
//!   thread writes the rest, and the write end is closed after the last byte. Fds 1 and 2
//!   write pipes that threads drain into the captured stdout and stderr, so a guest writing
//!   more than a pipe buffer never blocks; the guest's store, which holds the write ends, is
//!   dropped before the run answers, so the drain threads see end-of-file. Each pipe end is
//!   wasi-common's cap-std-sync file (`wasi_common::sync::file::File`) inside a
//!   [`HostStdio`], which answers exactly as `wasi_common::sync::stdio`'s `Stdin`, `Stdout`
//!   and `Stderr` (the files `inherit_stdio` installs; they wrap this process's own stdio,
//!   which an in-process adapter cannot give a guest, and which a crash-isolation worker
//!   speaks its protocol on): reads, writes, `poll_oneoff` readiness, `fd_filestat_set_times`
//!   and the tty check reach the pipe; `fd_seek`, `fd_tell`, `fd_pread` and `fd_pwrite`
//!   answer `spipe`; stdout and stderr report the `append` fdflag; the rest is the `WasiFile`
//!   default (`fd_sync`, `fd_datasync` succeed; `fd_advise`, `fd_fdstat_set_flags` answer
//!   `badf`; `fd_filestat_get` gives a zeroed filestat), and the fdstat filetype is `unknown`
//!   (not a tty). Two differences from the CLI remain: each output stream takes at most
//!   [`PIPE_CAPACITY`] bytes (writing past it fails with `nospc`), and stdin is read without
//!   the 8 KiB buffer of Rust's `std::io::Stdin` (on the CLI, bytes that buffer has taken from
//!   the pipe no longer count for `poll_oneoff`'s `nbytes` and readiness).
//! - Limits: linear memory by wasmi's `StoreLimits` (`case.limits.memory_bytes`). Time:
//!   `_start` is called resumably with fuel metering; every [`FUEL_SLICE`] units of fuel the
//!   call yields, the wall-clock deadline is checked and the call is resumed with a fresh
//!   slice or abandoned as a timeout. A host call that blocks (a long `poll_oneoff` sleep)
//!   cannot be interrupted that way, so the run happens on its own thread and a watchdog
//!   gives up on it one second past the limit; the thread is abandoned and, once its host
//!   call returns, stops at its next fuel check. The output read so far is kept; the drain
//!   and stdin threads end when the abandoned thread drops its store.
//!
//! Normalisation of endings (`_start` is called with `call_resumable`, which reports every
//! error a host function returns as a `HostTrap` instead of unwinding):
//! - `_start` finishing → `Exit(0)`.
//! - a host error carrying an `i32` exit status (wasmi_wasi turns wasi-common's `I32Exit`
//!   from `proc_exit(n)` into `wasmi::Error::i32_exit(n)`) → `Exit(n)`. wasi-common only
//!   exits for `n < 126`; `proc_exit(126)` and above is a host error (next item) with the
//!   message "exit with invalid exit status outside of [0..126)", as in Wasmtime.
//! - any other host error → `Trap(HostError)`, with the message kept: a bad guest pointer
//!   (out of bounds, misaligned, overflowing; wasi-common traps, as witx-docs requires), an
//!   argument outside its enum or flags (wiggle's glue traps before wasi-common runs),
//!   `proc_raise` ("proc_raise unsupported"). wasmi_wasi flattens every such error to a
//!   message string, so there is nothing finer to classify.
//! - a Wasm trap: `UnreachableCodeReached` → `Trap(Unreachable)`, `MemoryOutOfBounds` →
//!   `Trap(MemoryOutOfBounds)`, any other trap code → `Trap(Other)`.
//! - the deadline passing at a fuel check, or the watchdog giving up → `Timeout`.
//! - a module that fails to compile, link or instantiate, or stdio pipes that cannot be set
//!   up → `Crash`.
//!
//! Guest memory `[0, capture_len)` is read after every ending but a watchdog timeout
//! (whose store is still in use by the abandoned thread).

use std::any::Any;
use std::io::{IoSlice, IoSliceMut, PipeReader, PipeWriter, Read, SeekFrom, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasi_conform_case::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;
use wasmi::{Config, Engine, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, TrapCode, TypedResumableCall};
use wasmi_wasi::wasi_common::file::{FdFlags, FileType};
use wasmi_wasi::wasi_common::{self, Error as WasiError, ErrorExt, SystemTimeSpec, WasiFile};
use wasmi_wasi::{ambient_authority, Dir, WasiCtx, WasiCtxBuilder};

use crate::compile_cache::CompileCache;
use crate::{Availability, Execution, Runtime, Sandbox};

/// Most bytes the guest may write to each of stdout and stderr.
pub const PIPE_CAPACITY: usize = 64 << 20;

/// Fuel between two deadline checks (roughly a few milliseconds of interpretation).
pub const FUEL_SLICE: u64 = 2_000_000;

/// Fuel for instantiation (data segments, which may be charged), before `_start`.
const INSTANTIATE_FUEL: u64 = u64::MAX / 2;

/// How long the drain threads may take to reach end-of-file once the guest's store is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

struct Host {
    wasi: WasiCtx,
    limits: StoreLimits,
}

/// The wasmi adapter.
pub struct Wasmi {
    engine: Engine,
    linker: Arc<Linker<Host>>,
    cache: CompileCache<Module>,
}

impl Default for Wasmi {
    fn default() -> Self {
        Self::new()
    }
}

impl Wasmi {
    pub fn new() -> Self {
        let mut config = Config::default();
        config.consume_fuel(true);
        let engine = Engine::new(&config);
        let mut linker = Linker::new(&engine);
        wasmi_wasi::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)
            .expect("preview1 links into an empty linker");
        Wasmi { engine, linker: Arc::new(linker), cache: CompileCache::default() }
    }

    /// The compiled module of a case, compiling it on first use.
    fn module(&self, case: &TestCase) -> Result<Module, CompileError> {
        self.cache.get_or_compile(case, |bytes| Module::new(&self.engine, bytes).map_err(CompileError))
    }
}

impl Runtime for Wasmi {
    fn name(&self) -> &'static str {
        "wasmi"
    }

    fn version(&self) -> String {
        // The crate versions locked for the workspace (wasmi_wasi 2.0.0 depends on
        // wasi-common ^36; Cargo.lock has 36.0.20).
        "2.0.0 (wasi-common 36.0.20)".to_owned()
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

impl crate::isolated::InProcess for Wasmi {
    fn run_in(
        &self,
        case: &TestCase,
        preopens: &[(String, std::path::PathBuf)],
        preload: Option<&Preload>,
    ) -> Execution {
        self.run_inner(case, preopens, preload)
    }
}

/// A module wasmi refuses (a crash of the run, with this text).
#[derive(Debug, thiserror::Error)]
#[error("compile: {0}")]
pub struct CompileError(wasmi::Error);

impl Wasmi {
    /// Runs a case with explicit (guest name, host directory) preopens.
    pub fn run_with_preopens(&self, case: &TestCase, preopens: &[(String, std::path::PathBuf)]) -> Execution {
        self.run_inner(case, preopens, None)
    }

    fn run_inner(
        &self,
        case: &TestCase,
        preopens: &[(String, std::path::PathBuf)],
        preload: Option<&Preload>,
    ) -> Execution {
        let preload = preload.cloned();
        let module = match self.module(case) {
            Ok(m) => m,
            Err(e) => return Execution::crash(e.to_string()),
        };
        let mut b = WasiCtxBuilder::new();
        if let Err(e) = b.args(&case.fixture.args) {
            return Execution::crash(format!("args: {e}"));
        }
        for kv in &case.fixture.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            if let Err(e) = b.env(k, v) {
                return Execution::crash(format!("env {kv:?}: {e}"));
            }
        }
        let (stdin, stdout, stderr) = match stdio(&case.fixture.stdin) {
            Ok(s) => s,
            Err(e) => return Execution::crash(format!("stdio pipes: {e}")),
        };
        let (stdout, stdout_end) = stdout;
        let (stderr, stderr_end) = stderr;
        b.stdin(Box::new(stdin));
        b.stdout(Box::new(stdout_end));
        b.stderr(Box::new(stderr_end));
        for (guest, host) in preopens {
            let dir = match Dir::open_ambient_dir(host, ambient_authority()) {
                Ok(d) => d,
                Err(e) => return Execution::crash(format!("open preopen {guest}: {e}")),
            };
            if let Err(e) = b.preopened_dir(dir, guest) {
                return Execution::crash(format!("preopen {guest}: {e:?}"));
            }
        }
        let host = Host {
            wasi: b.build(),
            limits: StoreLimitsBuilder::new().memory_size(case.limits.memory_bytes as usize).build(),
        };
        let limits = case.limits;
        let capture = case.capture_len as usize;
        let linker = self.linker.clone();
        let (tx, rx) = mpsc::channel();
        let deadline = Instant::now() + limits.timeout;
        let worker = std::thread::Builder::new().name(format!("wasmi:{}", case.id)).spawn(move || {
            // `run_guest` drops the store, and with it the guest's pipe ends, before the
            // answer goes out: the drain threads are then at or near end-of-file.
            let _ = tx.send(run_guest(&linker, &module, host, deadline, capture, preload.as_ref()));
        });
        if let Err(e) = worker {
            return Execution::crash(format!("spawn: {e}"));
        }
        let (ending, memory, grace) =
            match rx.recv_timeout(limits.timeout + crate::engine::watchdog_grace(limits.timeout)) {
                Ok((ending, memory)) => (ending, memory, DRAIN_GRACE),
                // The guest is blocked in a host call that fuel cannot interrupt; its store keeps
                // the write ends open, so take what the drain threads have read so far.
                Err(_) => (Ending::Timeout, None, Duration::ZERO),
            };
        Execution { ending, stdout: stdout.collect(grace), stderr: stderr.collect(grace), memory, own_sandbox: None }
    }
}

/// Instantiates the module and runs `_start` in a store of its own, dropped on return.
fn run_guest(
    linker: &Linker<Host>,
    module: &Module,
    host: Host,
    deadline: Instant,
    capture: usize,
    preload: Option<&Preload>,
) -> (Ending, Option<Vec<u8>>) {
    let mut store = Store::new(linker.engine(), host);
    store.limiter(|h| &mut h.limits);
    store.set_fuel(INSTANTIATE_FUEL).expect("fuel metering is on");
    let instance = match linker.instantiate_and_start(&mut store, module) {
        Ok(i) => i,
        Err(e) => return (Ending::Crash(format!("instantiate: {e}")), None),
    };
    if let Some(p) = preload {
        let written = match instance.get_memory(&store, "memory") {
            Some(m) => p.write_into(m.data_mut(&mut store)).map_err(|e| e.to_string()),
            None => Err("preload: the module exports no memory".to_owned()),
        };
        if let Err(e) = written {
            return (Ending::Crash(e), None);
        }
    }
    let ending = match instance.get_typed_func::<(), ()>(&store, "_start") {
        Err(e) => Ending::Crash(format!("_start: {e}")),
        Ok(start) => run_start(&mut store, start, deadline),
    };
    let memory = instance.get_memory(&store, "memory").map(|m| {
        let data = m.data(&store);
        data[..capture.min(data.len())].to_vec()
    });
    (ending, memory)
}

/// Calls `_start` in fuel slices until it ends or the deadline passes.
fn run_start(store: &mut Store<Host>, start: wasmi::TypedFunc<(), ()>, deadline: Instant) -> Ending {
    store.set_fuel(FUEL_SLICE).expect("fuel metering is on");
    let mut call = start.call_resumable(&mut *store, ());
    loop {
        match call {
            Ok(TypedResumableCall::Finished(())) => return Ending::Exit(0),
            Ok(TypedResumableCall::OutOfFuel(resumable)) => {
                if Instant::now() >= deadline {
                    return Ending::Timeout;
                }
                store.set_fuel(FUEL_SLICE).expect("fuel metering is on");
                call = resumable.resume(&mut *store);
            }
            Ok(TypedResumableCall::HostTrap(trap)) => return classify(trap.host_error()),
            Err(e) => return classify(&e),
        }
    }
}

/// Maps a wasmi error (a trap, or an error a host function returned) to an [`Ending`].
fn classify(e: &wasmi::Error) -> Ending {
    if let Some(code) = e.i32_exit_status() {
        return Ending::Exit(code as u32);
    }
    let class = match e.as_trap_code() {
        Some(TrapCode::UnreachableCodeReached) => TrapClass::Unreachable,
        Some(TrapCode::MemoryOutOfBounds) => TrapClass::MemoryOutOfBounds,
        Some(TrapCode::OutOfFuel) => return Ending::Timeout,
        Some(_) => TrapClass::Other,
        None => TrapClass::HostError,
    };
    Ending::Trap(TrapKind { class, message: e.to_string() })
}

/// One output stream: the guest's end, and the drain of ours.
type Output = (Drain, HostStdio);

/// The guest's stdin, stdout and stderr over fresh OS pipes, stdin holding `input`.
fn stdio(input: &[u8]) -> std::io::Result<(HostStdio, Output, Output)> {
    let stdin = HostStdio::new(fed_pipe(input)?.into(), Role::Stdin);
    let output = |name: &str| -> std::io::Result<Output> {
        let (reader, writer) = std::io::pipe()?;
        Ok((Drain::start(name, reader)?, HostStdio::new(writer.into(), Role::Output { written: AtomicUsize::new(0) })))
    };
    Ok((stdin, output("stdout")?, output("stderr")?))
}

/// The read end of a pipe that holds `input` and then end-of-file. What the pipe's buffer
/// takes is written now (so it is readable, and pollable, from the guest's first
/// instruction); a thread writes the rest as the guest reads, and stops at a broken pipe
/// (the guest closed stdin, or its store was dropped). The write end closes after the last
/// byte.
fn fed_pipe(input: &[u8]) -> std::io::Result<PipeReader> {
    let (reader, mut writer) = std::io::pipe()?;
    set_nonblocking(&writer, true)?;
    let mut fed = 0;
    while fed < input.len() {
        match writer.write(&input[fed..]) {
            Ok(0) => break,
            Ok(n) => fed += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    if fed < input.len() {
        set_nonblocking(&writer, false)?;
        let rest = input[fed..].to_vec();
        std::thread::Builder::new().name("wasmi-stdin".into()).spawn(move || {
            // EPIPE (Rust ignores SIGPIPE) when the guest's end closes first: fine.
            let _ = writer.write_all(&rest);
        })?;
    }
    Ok(reader)
}

/// Sets or clears `O_NONBLOCK` on our write end of a pipe (the guest's end is not affected).
fn set_nonblocking(w: &PipeWriter, on: bool) -> std::io::Result<()> {
    let fd = w.as_raw_fd();
    // SAFETY: fcntl(2) F_GETFL/F_SETFL on a descriptor `w` owns and keeps open for the call.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let flags = if on { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
        if libc::fcntl(fd, libc::F_SETFL, flags) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A thread reading one of the guest's output pipes to its end.
struct Drain {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Disconnects when the thread ends (it holds the only sender).
    running: mpsc::Receiver<()>,
}

impl Drain {
    fn start(name: &str, mut reader: PipeReader) -> std::io::Result<Drain> {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (alive, running) = mpsc::channel::<()>();
        let kept = bytes.clone();
        std::thread::Builder::new().name(format!("wasmi-{name}")).spawn(move || {
            let _alive = alive;
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => kept.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        })?;
        Ok(Drain { bytes, running })
    }

    /// The bytes read once the pipe reached end-of-file, or after `wait` (whatever was
    /// read by then).
    fn collect(self, wait: Duration) -> Vec<u8> {
        let _ = self.running.recv_timeout(wait);
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Which of the guest's stdio files a [`HostStdio`] is.
enum Role {
    /// Answers as `wasi_common::sync::stdio::Stdin`.
    Stdin,
    /// Answers as `wasi_common::sync::stdio::{Stdout, Stderr}`; counts the bytes written
    /// towards [`PIPE_CAPACITY`].
    Output { written: AtomicUsize },
}

/// One of the guest's stdio files: an OS pipe end, as wasi-common's cap-std-sync `File`,
/// answering every `WasiFile` method as `wasi_common::sync::stdio`'s `Stdin`, `Stdout` and
/// `Stderr` do (wasi-common 36.0.20, `src/sync/stdio.rs`): the methods those implement go
/// to the pipe or answer `spipe`, the others keep the `WasiFile` defaults.
struct HostStdio {
    file: wasi_common::sync::file::File,
    role: Role,
}

impl HostStdio {
    fn new(fd: OwnedFd, role: Role) -> HostStdio {
        let file = cap_std::fs::File::from_std(std::fs::File::from(fd));
        HostStdio { file: wasi_common::sync::file::File::from_cap_std(file), role }
    }
}

#[async_trait::async_trait]
impl WasiFile for HostStdio {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn pollable(&self) -> Option<BorrowedFd<'_>> {
        self.file.pollable()
    }

    fn isatty(&self) -> bool {
        self.file.isatty()
    }

    async fn get_filetype(&self) -> Result<FileType, WasiError> {
        Ok(if self.isatty() { FileType::CharacterDevice } else { FileType::Unknown })
    }

    async fn get_fdflags(&self) -> Result<FdFlags, WasiError> {
        Ok(match self.role {
            Role::Stdin => FdFlags::empty(),
            Role::Output { .. } => FdFlags::APPEND,
        })
    }

    async fn set_times(&self, atime: Option<SystemTimeSpec>, mtime: Option<SystemTimeSpec>) -> Result<(), WasiError> {
        self.file.set_times(atime, mtime).await
    }

    async fn read_vectored<'a>(&self, bufs: &mut [IoSliceMut<'a>]) -> Result<u64, WasiError> {
        match self.role {
            Role::Stdin => self.file.read_vectored(bufs).await,
            Role::Output { .. } => Err(WasiError::badf()),
        }
    }

    async fn read_vectored_at<'a>(&self, _bufs: &mut [IoSliceMut<'a>], _offset: u64) -> Result<u64, WasiError> {
        match self.role {
            Role::Stdin => Err(WasiError::seek_pipe()),
            Role::Output { .. } => Err(WasiError::badf()),
        }
    }

    async fn write_vectored<'a>(&self, bufs: &[IoSlice<'a>]) -> Result<u64, WasiError> {
        let Role::Output { written } = &self.role else { return Err(WasiError::badf()) };
        let room = PIPE_CAPACITY - written.load(Ordering::Relaxed);
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let n = if total <= room {
            self.file.write_vectored(bufs).await?
        } else if room == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC).into());
        } else {
            let mut left = room;
            let head: Vec<IoSlice<'_>> = bufs
                .iter()
                .map_while(|b| {
                    let k = b.len().min(left);
                    left -= k;
                    (k > 0).then(|| IoSlice::new(&b[..k]))
                })
                .collect();
            self.file.write_vectored(&head).await?
        };
        written.fetch_add(n as usize, Ordering::Relaxed);
        Ok(n)
    }

    async fn write_vectored_at<'a>(&self, _bufs: &[IoSlice<'a>], _offset: u64) -> Result<u64, WasiError> {
        match self.role {
            Role::Stdin => Err(WasiError::badf()),
            Role::Output { .. } => Err(WasiError::seek_pipe()),
        }
    }

    async fn seek(&self, _pos: SeekFrom) -> Result<u64, WasiError> {
        Err(WasiError::seek_pipe())
    }

    async fn peek(&self, _buf: &mut [u8]) -> Result<u64, WasiError> {
        match self.role {
            Role::Stdin => Err(WasiError::seek_pipe()),
            Role::Output { .. } => Err(WasiError::badf()),
        }
    }

    fn num_ready_bytes(&self) -> Result<u64, WasiError> {
        match self.role {
            Role::Stdin => self.file.num_ready_bytes(),
            Role::Output { .. } => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    //! What every in-process adapter guarantees (traps, timeouts, limits, argv/env/stdin)
    //! is checked for wasmi in runners/tests/in_process.rs; here the module cache and the
    //! stdio pipes past one pipe buffer.
    use std::path::Path;

    use wasi_conform_case::test_case::Limits;
    use wasi_conform_suite::compile::{compile_with, Compiled};
    use wasi_conform_suite::load::load_file;
    use wasi_conform_suite::verdict::{judge, Verdict};

    use super::*;
    use crate::execute;

    fn readme_case() -> (wasi_conform_suite::scenario::Scenario, Compiled) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suite/README.yaml");
        let s = load_file(&path).unwrap_or_else(|e| panic!("{}", e.with_snippet()));
        let c = compile_with(&s, Limits::default()).unwrap();
        (s, c)
    }

    /// The README case with its module replaced by `wat` and its stdin by `stdin`.
    fn raw_case(wat: &str, stdin: Vec<u8>) -> TestCase {
        let mut case = readme_case().1.case;
        case.module = Arc::new(wat::parse_str(wat).unwrap());
        case.fixture.stdin = stdin;
        case
    }

    #[test]
    fn a_second_run_reuses_the_compiled_module() {
        let (s, c) = readme_case();
        let rt = Wasmi::new();
        for _ in 0..2 {
            let o = execute(&rt, &c.case);
            assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass, "{:?}", o.ending);
        }
        assert_eq!(rt.cache.len(), 1);
    }

    /// Copies stdin to stdout in reads of up to 64 KiB until end-of-file; exits with the
    /// errno of a failing call.
    const CAT: &str = r#"(module
      (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 2)
      (func (export "_start") (local $e i32)
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 65536))
        (i32.store (i32.const 8) (i32.const 1024))
        (block $eof
          (loop $next
            (local.set $e (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
            (if (local.get $e) (then (call $exit (local.get $e))))
            (br_if $eof (i32.eqz (i32.load (i32.const 16))))
            (i32.store (i32.const 12) (i32.load (i32.const 16)))
            (local.set $e (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 20)))
            (if (local.get $e) (then (call $exit (local.get $e))))
            (if (i32.ne (i32.load (i32.const 20)) (i32.load (i32.const 16))) (then unreachable))
            (br $next)))))"#;

    #[test]
    fn stdin_and_stdout_carry_more_than_a_pipe_buffer() {
        let input: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
        let o = Wasmi::new().run_with_preopens(&raw_case(CAT, input.clone()), &[]);
        assert_eq!(o.ending, Ending::Exit(0));
        assert!(o.stdout == input, "stdout: {} bytes of {}", o.stdout.len(), input.len());
    }

    #[test]
    fn an_output_stream_refuses_bytes_past_its_capacity() {
        // Writes 64 KiB blocks to stdout until a write fails, then exits with its errno.
        let wat = r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 2)
          (func (export "_start") (local $e i32)
            (i32.store (i32.const 0) (i32.const 1024))
            (i32.store (i32.const 4) (i32.const 65536))
            (loop $next
              (local.set $e (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
              (br_if $next (i32.eqz (local.get $e))))
            (call $exit (local.get $e))))"#;
        let o = Wasmi::new().run_with_preopens(&raw_case(wat, vec![]), &[]);
        assert_eq!(o.ending, Ending::Exit(wasi_conform_abi::types::Errno::Nospc as u32));
        assert_eq!(o.stdout.len(), PIPE_CAPACITY);
    }
}
