//! Wasmtime, in-process, through `wasmtime-wasi`'s preview1 host (`wasmtime_wasi::p1`).
//!
//! - One engine for the process; each distinct module is compiled once and kept as an
//!   `InstancePre` (keyed by scenario id and module hash), so a suite run compiles each
//!   scenario once however many times it runs.
//! - A preload ([`Runtime::run_preloaded`]) is written into the instance's `memory` before
//!   `_start` is called.
//! - Per run: a new `WasiP1Ctx` with exactly the case's argv, env and stdin (in-memory
//!   pipes), stdout/stderr captured in memory, and each preopen mapped to its guest name
//!   with read-write permissions.
//! - Limits: linear memory by `StoreLimits`; time by epoch interruption (a ticker thread
//!   advances the epoch every 10 ms) plus a watchdog for host calls that block, after which
//!   the run is reported as a timeout and its thread abandoned.
//!
//! Normalisation of endings: `_start` returning → `Exit(0)`; `I32Exit(n)` → `Exit(n)`;
//! `Trap::UnreachableCodeReached` → `Unreachable`; `Trap::MemoryOutOfBounds` →
//! `MemoryOutOfBounds`; `Trap::Interrupt` → `Timeout`; any other trap → `Other`; a host
//! error that is not an exit (e.g. "exit with invalid exit status outside of [0..126)",
//! a bad guest pointer) → `HostError`; a module that fails to compile or instantiate →
//! `Crash`.

use std::sync::mpsc;

use wasi_conform_case::outcome::Ending;
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;
use wasmtime::{Engine, Linker, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::engine::{classify, deadline_ticks, engine_with_ticker, watchdog_grace, ModuleCache};
use crate::{Availability, Execution, Runtime, Sandbox};

/// Capacity of the in-memory stdout/stderr pipes (writing past it traps the guest).
const PIPE_CAPACITY: usize = 64 << 20;

struct Host {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// The Wasmtime adapter.
pub struct Wasmtime {
    engine: Engine,
    linker: Linker<Host>,
    cache: ModuleCache<Host>,
}

impl Default for Wasmtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Wasmtime {
    pub fn new() -> Self {
        let engine = engine_with_ticker();
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi)
            .expect("preview1 links into an empty linker");
        Wasmtime { engine, linker, cache: ModuleCache::default() }
    }
}

impl Runtime for Wasmtime {
    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn version(&self) -> String {
        // The crate version pinned in the workspace manifest.
        "48.0.8".to_owned()
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

impl crate::isolated::InProcess for Wasmtime {
    fn run_in(
        &self,
        case: &TestCase,
        preopens: &[(String, std::path::PathBuf)],
        preload: Option<&Preload>,
    ) -> Execution {
        self.run_inner(case, preopens, preload)
    }
}

impl Wasmtime {
    /// Runs a case with explicit (guest name, host directory) preopens. [`Runtime::run`]
    /// passes the sandbox's; the isolation tests pass a deliberately wider one to prove
    /// that the canary check catches a guest writing outside its preopens.
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
        let pre = match self.cache.get(&self.engine, &self.linker, case) {
            Ok(p) => p,
            Err(e) => return Execution::crash(e.to_string()),
        };
        let stdout = MemoryOutputPipe::new(PIPE_CAPACITY);
        let stderr = MemoryOutputPipe::new(PIPE_CAPACITY);
        let mut b = WasiCtxBuilder::new();
        // File operations on the guest's own thread instead of a hand-off to tokio's
        // blocking pool per call: the same system calls, without two thread switches each
        // (on 2 busy cores that made a run ~2 ms instead of ~0.2 ms). Set first: preopens
        // copy it.
        b.allow_blocking_current_thread(true);
        b.args(&case.fixture.args);
        for kv in &case.fixture.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            b.env(k, v);
        }
        b.stdin(MemoryInputPipe::new(case.fixture.stdin.clone()));
        b.stdout(stdout.clone());
        b.stderr(stderr.clone());
        for (guest, host) in preopens {
            if let Err(e) = b.preopened_dir(host, guest, FsPerms::ReadWrite) {
                return Execution::crash(format!("preopen {guest}: {e:?}"));
            }
        }
        let wasi = b.build_p1();
        let limits = case.limits;
        let capture = case.capture_len as usize;
        let ticks = deadline_ticks(limits.timeout);

        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new().name(format!("wasmtime:{}", case.id)).spawn(move || {
            let host =
                Host { wasi, limits: StoreLimitsBuilder::new().memory_size(limits.memory_bytes as usize).build() };
            let mut store = Store::new(pre.module().engine(), host);
            store.limiter(|h| &mut h.limits);
            store.set_epoch_deadline(ticks);
            store.epoch_deadline_trap();
            let instance =
                pre.instantiate(&mut store).map_err(|e| format!("instantiate: {e:?}")).and_then(|i| {
                    match (&preload, i.get_memory(&mut store, "memory")) {
                        (None, _) => Ok(i),
                        (Some(p), Some(m)) => {
                            p.write_into(m.data_mut(&mut store)).map(|_| i).map_err(|e| e.to_string())
                        }
                        (Some(_), None) => Err("preload: the module exports no memory".to_owned()),
                    }
                });
            let ending = match instance {
                Err(e) => (Ending::Crash(e), None),
                Ok(instance) => {
                    let result = instance
                        .get_typed_func::<(), ()>(&mut store, "_start")
                        .and_then(|start| start.call(&mut store, ()));
                    let memory = instance
                        .get_memory(&mut store, "memory")
                        .map(|m| m.data(&store)[..capture.min(m.data_size(&store))].to_vec());
                    (classify(result, |e| e.downcast_ref::<I32Exit>().map(|x| x.0 as u32)), memory)
                }
            };
            let _ = tx.send(ending);
        });
        if let Err(e) = worker {
            return Execution::crash(format!("spawn: {e}"));
        }
        let (ending, memory) = match rx.recv_timeout(limits.timeout + watchdog_grace(limits.timeout)) {
            Ok(r) => r,
            // The guest is blocked in a host call that epochs cannot interrupt.
            Err(_) => (Ending::Timeout, None),
        };
        Execution {
            ending,
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            memory,
            own_sandbox: None,
        }
    }
}
