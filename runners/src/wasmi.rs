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
//!   from the host) with exactly the case's argv and env, stdin from a `ReadPipe` over the
//!   case's bytes, stdout/stderr captured by `WritePipe`s into memory (capped at
//!   [`PIPE_CAPACITY`]; writing past it fails with `nospc`), and each preopen opened as a
//!   `cap_std::fs::Dir` and preopened under its guest name. wasi-common gives preopened
//!   directories every right. The captured stdout/stderr are `WritePipe`s, not wasi-common's
//!   host-stdio files, and differ from them where the suite looks: their fdstat filetype is
//!   `unknown` and `fd_seek`/`fd_pwrite` on them answer `badf` (the `WasiFile` trait's
//!   defaults) where the host-stdio files answer `spipe` (see `suite/expectations/wasmi.toml`).
//! - Limits: linear memory by wasmi's `StoreLimits` (`case.limits.memory_bytes`). Time:
//!   `_start` is called resumably with fuel metering; every [`FUEL_SLICE`] units of fuel the
//!   call yields, the wall-clock deadline is checked and the call is resumed with a fresh
//!   slice or abandoned as a timeout. A host call that blocks (a long `poll_oneoff` sleep)
//!   cannot be interrupted that way, so the run happens on its own thread and a watchdog
//!   gives up on it one second past the limit; the thread is abandoned and, once its host
//!   call returns, stops at its next fuel check.
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
//! - a module that fails to compile, link or instantiate → `Crash`.
//!
//! Guest memory `[0, capture_len)` is read after every ending but a watchdog timeout
//! (whose store is still in use by the abandoned thread).

use std::io::{Cursor, Write};
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, Instant};

use wasi_conform_suite::case::TestCase;
use wasi_conform_suite::outcome::{Ending, TrapClass, TrapKind};
use wasmi::{Config, Engine, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, TrapCode, TypedResumableCall};
use wasmi_wasi::wasi_common::pipe::{ReadPipe, WritePipe};
use wasmi_wasi::{ambient_authority, Dir, WasiCtx, WasiCtxBuilder};

use crate::compile_cache::CompileCache;
use crate::{Availability, Execution, Runtime, Sandbox};

/// Capacity of the in-memory stdout/stderr pipes.
pub const PIPE_CAPACITY: usize = 64 << 20;

/// Fuel between two deadline checks (roughly a few milliseconds of interpretation).
pub const FUEL_SLICE: u64 = 2_000_000;

/// Fuel for instantiation (data segments, which may be charged), before `_start`.
const INSTANTIATE_FUEL: u64 = u64::MAX / 2;

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
    fn module(&self, case: &TestCase) -> Result<Module, String> {
        self.cache.get_or_compile(case, |bytes| Module::new(&self.engine, bytes).map_err(|e| format!("compile: {e}")))
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
}

impl Wasmi {
    /// Runs a case with explicit (guest name, host directory) preopens.
    pub fn run_with_preopens(&self, case: &TestCase, preopens: &[(String, std::path::PathBuf)]) -> Execution {
        let module = match self.module(case) {
            Ok(m) => m,
            Err(e) => return Execution::crash(e),
        };
        let stdout = Arc::new(RwLock::new(Capped::default()));
        let stderr = Arc::new(RwLock::new(Capped::default()));
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
        b.stdin(Box::new(ReadPipe::new(Cursor::new(case.fixture.stdin.clone()))));
        b.stdout(Box::new(WritePipe::from_shared(stdout.clone())));
        b.stderr(Box::new(WritePipe::from_shared(stderr.clone())));
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
            let mut store = Store::new(linker.engine(), host);
            store.limiter(|h| &mut h.limits);
            store.set_fuel(INSTANTIATE_FUEL).expect("fuel metering is on");
            let instance = match linker.instantiate_and_start(&mut store, &module) {
                Ok(i) => i,
                Err(e) => {
                    let _ = tx.send((Ending::Crash(format!("instantiate: {e}")), None));
                    return;
                }
            };
            let ending = match instance.get_typed_func::<(), ()>(&store, "_start") {
                Err(e) => Ending::Crash(format!("_start: {e}")),
                Ok(start) => run_start(&mut store, start, deadline),
            };
            let memory = instance.get_memory(&store, "memory").map(|m| {
                let data = m.data(&store);
                data[..capture.min(data.len())].to_vec()
            });
            let _ = tx.send((ending, memory));
        });
        if let Err(e) = worker {
            return Execution::crash(format!("spawn: {e}"));
        }
        let (ending, memory) = match rx.recv_timeout(limits.timeout + Duration::from_secs(1)) {
            Ok(r) => r,
            // The guest is blocked in a host call that fuel cannot interrupt.
            Err(_) => (Ending::Timeout, None),
        };
        let contents = |p: &Arc<RwLock<Capped>>| p.read().map(|c| c.0.clone()).unwrap_or_default();
        Execution { ending, stdout: contents(&stdout), stderr: contents(&stderr), memory, own_sandbox: None }
    }
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

/// An in-memory sink that refuses bytes past [`PIPE_CAPACITY`].
#[derive(Default)]
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = PIPE_CAPACITY - self.0.len();
        if room == 0 && !buf.is_empty() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let n = buf.len().min(room);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! What every in-process adapter guarantees (traps, timeouts, limits, argv/env/stdin)
    //! is checked for wasmi in runners/tests/in_process.rs; here only the module cache.
    use std::path::Path;

    use wasi_conform_suite::case::Limits;
    use wasi_conform_suite::compile::compile_with;
    use wasi_conform_suite::load::load_file;
    use wasi_conform_suite::verdict::{judge, Verdict};

    use super::*;
    use crate::execute;

    #[test]
    fn a_second_run_reuses_the_compiled_module() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suite/README.yaml");
        let s = load_file(&path).unwrap_or_else(|e| panic!("{}", e.with_snippet()));
        let c = compile_with(&s, Limits::default()).unwrap();
        let rt = Wasmi::new();
        for _ in 0..2 {
            let o = execute(&rt, &c.case);
            assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass, "{:?}", o.ending);
        }
        assert_eq!(rt.cache.len(), 1);
    }
}
