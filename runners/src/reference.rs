//! The reference implementation (`wasi-conform-reference`) bound to the Wasmtime engine:
//! the oracle, run through the same [`Runtime`] trait as the real runtimes.
//!
//! Every preview1 import is defined with `Linker::func_new` from the one function table:
//! its core signature comes from `wasi_conform_abi::FUNCTIONS`, and the call forwards the
//! raw arguments and the guest's memory to `Wasi::call`. The reference keeps its own
//! in-memory file system, laid out like the host sandbox (preopens beside
//! `outside/secret`), so its final trees and canaries come from the model
//! ([`Execution::own_sandbox`]), never from the host.
//!
//! Endings: `_start` returning → `Exit(0)`; `proc_exit(n)` → `Exit(n)` for every `u32`;
//! a bad pointer → `Trap(HostError)`; engine traps as for the Wasmtime adapter; the time
//! limit by epoch interruption (the reference never blocks: `poll_oneoff` advances its
//! clock instead of sleeping).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use wasi_conform_abi::{CoreType, Function, FUNCTIONS, MODULE};
use wasi_conform_case::outcome::{Canaries, Ending};
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;
use wasi_conform_reference::memory::Memory;
use wasi_conform_reference::wasi::CallResult;
use wasi_conform_reference::{Exit, Trap, Wasi, WasiConfig};
use wasmtime::{Caller, Engine, FuncType, Linker, Store, StoreLimits, StoreLimitsBuilder, Val, ValType};

use crate::engine::{classify, deadline_ticks, engine_with_ticker, ModuleCache};
use crate::{Availability, Execution, OwnSandbox, Runtime, Sandbox};

struct State {
    wasi: Wasi,
    limits: StoreLimits,
}

/// The reference adapter.
pub struct Reference {
    engine: Engine,
    linker: Linker<State>,
    cache: ModuleCache<State>,
}

impl Default for Reference {
    fn default() -> Self {
        Self::new()
    }
}

fn val(t: CoreType) -> ValType {
    match t {
        CoreType::I32 => ValType::I32,
        CoreType::I64 => ValType::I64,
    }
}

/// Calls per preview1 function (witx order) made through a [`Reference`] built with
/// [`Reference::with_call_counts`]: how generators measure which functions their modules
/// actually call at run time.
#[derive(Debug)]
pub struct CallCounts(Vec<AtomicU64>, AtomicUsize);

impl Default for CallCounts {
    fn default() -> Self {
        CallCounts(FUNCTIONS.iter().map(|_| AtomicU64::new(0)).collect(), AtomicUsize::new(usize::MAX))
    }
}

impl CallCounts {
    /// The counts so far, indexed like `FUNCTIONS`.
    pub fn snapshot(&self) -> Vec<u64> {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    /// The function called last since the previous `take_last` (how traceless fuzz
    /// findings are attributed to a function), and forget it.
    pub fn take_last(&self) -> Option<&'static Function> {
        FUNCTIONS.get(self.1.swap(usize::MAX, Ordering::Relaxed))
    }
}

impl Reference {
    pub fn new() -> Self {
        Self::build(None)
    }

    /// A reference adapter that also counts every call into `counts`.
    pub fn with_call_counts(counts: Arc<CallCounts>) -> Self {
        Self::build(Some(counts))
    }

    fn build(counts: Option<Arc<CallCounts>>) -> Self {
        let engine = engine_with_ticker();
        let mut linker = Linker::new(&engine);
        for f in FUNCTIONS {
            let ty =
                FuncType::new(&engine, f.core_params().into_iter().map(val), f.core_results().iter().copied().map(val));
            let counts = counts.clone();
            linker
                .func_new(
                    MODULE,
                    f.name,
                    ty,
                    move |mut caller: Caller<'_, State>, params: &[Val], results: &mut [Val]| {
                        if let Some(c) = &counts {
                            c.0[f.index].fetch_add(1, Ordering::Relaxed);
                            c.1.store(f.index, Ordering::Relaxed);
                        }
                        let memory = caller
                            .get_export("memory")
                            .and_then(|e| e.into_memory())
                            .ok_or_else(|| wasmtime::Error::new(Trap("the module exports no memory".into())))?;
                        let (bytes, state) = memory.data_and_store_mut(&mut caller);
                        let raw: Vec<u64> = params
                            .iter()
                            .map(|v| match v {
                                Val::I32(x) => *x as u32 as u64,
                                Val::I64(x) => *x as u64,
                                _ => 0,
                            })
                            .collect();
                        match state.wasi.call(f, &raw, &mut Memory::new(bytes)) {
                            CallResult::Return(e) => {
                                if let Some(r) = results.first_mut() {
                                    *r = Val::I32(e.raw() as i32);
                                }
                                Ok(())
                            }
                            CallResult::Exit(e) => Err(wasmtime::Error::new(e)),
                            CallResult::Trap(t) => Err(wasmtime::Error::new(t)),
                        }
                    },
                )
                .expect("each function is defined once");
        }
        Reference { engine, linker, cache: ModuleCache::default() }
    }
}

impl Runtime for Reference {
    fn name(&self) -> &'static str {
        "reference"
    }

    fn version(&self) -> String {
        format!("wasi-conform {}", env!("CARGO_PKG_VERSION"))
    }

    fn availability(&self) -> Availability {
        Availability::Available
    }

    fn run(&self, case: &TestCase, _sandbox: &Sandbox) -> Execution {
        self.run_inner(case, None)
    }

    fn takes_preload(&self) -> bool {
        true
    }

    fn run_preloaded(&self, case: &TestCase, preload: &Preload, _sandbox: &Sandbox) -> Execution {
        self.run_inner(case, Some(preload))
    }
}

impl Reference {
    fn run_inner(&self, case: &TestCase, preload: Option<&Preload>) -> Execution {
        let pre = match self.cache.get(&self.engine, &self.linker, case) {
            Ok(p) => p,
            Err(e) => return Execution::crash(e.to_string()),
        };
        let f = &case.fixture;
        let wasi = Wasi::new(WasiConfig {
            args: f.args.clone(),
            env: f.env.clone(),
            stdin: f.stdin.clone(),
            preopens: f.preopens.iter().map(|p| (p.name.clone(), p.binding.clone(), p.tree.clone())).collect(),
        });
        let limits = StoreLimitsBuilder::new().memory_size(case.limits.memory_bytes as usize).build();
        let mut store = Store::new(&self.engine, State { wasi, limits });
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks(case.limits.timeout));
        store.epoch_deadline_trap();
        let instance = pre.instantiate(&mut store).map_err(|e| format!("instantiate: {e:?}")).and_then(|i| {
            match (preload, i.get_memory(&mut store, "memory")) {
                (None, _) => Ok(i),
                (Some(p), Some(m)) => p.write_into(m.data_mut(&mut store)).map(|_| i).map_err(|e| e.to_string()),
                (Some(_), None) => Err("preload: the module exports no memory".to_owned()),
            }
        });
        let (ending, memory) = match instance {
            Err(e) => (Ending::Crash(e), None),
            Ok(instance) => {
                let result = instance
                    .get_typed_func::<(), ()>(&mut store, "_start")
                    .and_then(|start| start.call(&mut store, ()));
                let memory = instance.get_memory(&mut store, "memory").map(|m| {
                    let data = m.data(&store);
                    data[..(case.capture_len as usize).min(data.len())].to_vec()
                });
                (classify(result, |e| e.downcast_ref::<Exit>().map(|x| x.0)), memory)
            }
        };
        let wasi = &store.data().wasi;
        let changed = wasi.canaries_changed();
        Execution {
            ending,
            stdout: wasi.stdout().to_vec(),
            stderr: wasi.stderr().to_vec(),
            memory,
            own_sandbox: Some(OwnSandbox {
                trees: wasi.trees(),
                canaries: if changed.is_empty() { Canaries::Intact } else { Canaries::Changed(changed) },
            }),
        }
    }
}
