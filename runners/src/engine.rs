//! Plumbing shared by the adapters that run modules on the Wasmtime engine in-process
//! (`wasmtime`, and `reference`, which binds the reference semantics to the same engine):
//! an engine with epoch interruption and its ticker, a compile-once cache of
//! `InstancePre`s, and the classification of a call's result into an [`Ending`].

use std::time::Duration;

use wasi_conform_case::outcome::{Ending, TrapClass, TrapKind};
use wasi_conform_case::test_case::TestCase;
use wasmtime::{Config, Engine, InstancePre, Linker, Module, Trap};

use crate::compile_cache::CompileCache;

/// Epoch tick period: the granularity of timeouts.
pub const TICK: Duration = Duration::from_millis(10);

/// An engine whose epoch advances every [`TICK`] while it lives.
pub fn engine_with_ticker() -> Engine {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config).expect("the default wasmtime configuration is valid");
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasmtime-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            match weak.upgrade() {
                Some(e) => e.increment_epoch(),
                None => return,
            }
        })
        .expect("spawn epoch ticker");
    engine
}

/// How long past its time limit a run may take before the watchdog gives up on it (its
/// thread blocked in a host call that no interruption reaches): long enough for the epoch
/// or fuel check to stop a guest that is still running (a tick is 10 ms), a quarter of the
/// limit between 100 ms and a second — a second for the suite's default five-second budget,
/// and proportionally less for short budgets (a known hang's, a fuzzed program's), so that a
/// blocked run stays about as short as its budget.
pub fn watchdog_grace(limit: Duration) -> Duration {
    (limit / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
}

/// Epoch ticks for a time limit.
pub fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / TICK.as_millis()).max(1) as u64
}

/// Why a module could not be made ready to run (a crash of the run, with this text).
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("compile: {0:?}")]
    Compile(wasmtime::Error),
    #[error("link: {0:?}")]
    Link(wasmtime::Error),
}

/// Modules compiled once per (scenario id, module hash) and linked (see
/// [`crate::compile_cache`]).
pub struct ModuleCache<T> {
    cache: CompileCache<InstancePre<T>>,
}

impl<T> Default for ModuleCache<T> {
    fn default() -> Self {
        ModuleCache { cache: CompileCache::default() }
    }
}

impl<T: 'static> ModuleCache<T> {
    /// The linked module of a case, compiling it on first use.
    pub fn get(&self, engine: &Engine, linker: &Linker<T>, case: &TestCase) -> Result<InstancePre<T>, ModuleError> {
        self.cache.get_or_compile(case, |bytes| {
            let module = Module::new(engine, bytes).map_err(ModuleError::Compile)?;
            linker.instantiate_pre(&module).map_err(ModuleError::Link)
        })
    }
}

/// Classifies the result of calling `_start`. `exit_code` recognises the embedder's own
/// exit error (e.g. `wasmtime_wasi::I32Exit`).
pub fn classify(result: wasmtime::Result<()>, exit_code: impl Fn(&wasmtime::Error) -> Option<u32>) -> Ending {
    let err = match result {
        Ok(()) => return Ending::Exit(0),
        Err(e) => e,
    };
    if let Some(code) = exit_code(&err) {
        return Ending::Exit(code);
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        let class = match trap {
            Trap::UnreachableCodeReached => TrapClass::Unreachable,
            Trap::MemoryOutOfBounds => TrapClass::MemoryOutOfBounds,
            Trap::Interrupt => return Ending::Timeout,
            _ => TrapClass::Other,
        };
        return Ending::Trap(TrapKind { class, message: trap.to_string() });
    }
    Ending::Trap(TrapKind { class: TrapClass::HostError, message: format!("{err:#}") })
}
