//! The [`Runtime`] trait and one adapter per WASI runtime.
//!
//! An adapter only says who it is, whether it is installed, and how to run a module in a
//! prepared [`Sandbox`]. Everything every runtime gets — a fresh sandbox directory with the
//! fixture and canaries, the final-tree snapshot, the canary check, catching a panicking
//! adapter — lives in [`execute`], once.
//!
//! Adapters: [`reference`] (the oracle, in-process), [`wasmtime`] (in-process), [`node`] (`node:wasi` in a long-lived worker
//! process). The suite (`wasi-conform-suite`) and the CLI use [`all_runtimes`].

pub mod bun;
pub mod capabilities;
pub mod command;
pub mod compile_cache;
pub mod configured;
pub mod deno;
pub mod engine;
pub mod isolated;
pub mod iwasm;
pub mod js;
pub mod matrix;
pub mod node;
pub mod reference;
pub mod sandbox;
pub mod test_main;
pub mod wasmedge;
pub mod wasmer;
pub mod wasmi;
pub mod wasmtime;

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use wasi_conform_suite::case::TestCase;
use wasi_conform_suite::outcome::{Canaries, Ending, ExitWidth, Outcome};

pub use sandbox::Sandbox;

/// Whether a runtime can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// Not installed or not usable here, and why.
    NotAvailable(String),
}

/// What an adapter observed while running a module; [`execute`] adds trees and canaries.
#[derive(Debug, Clone)]
pub struct Execution {
    pub ending: Ending,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Guest memory `[0, case.capture_len)` after the run, when it could be read.
    pub memory: Option<Vec<u8>>,
    /// For a runtime with its own (in-memory) file system: its final trees and canary
    /// state, used instead of the host sandbox's.
    pub own_sandbox: Option<OwnSandbox>,
}

impl Execution {
    /// A run that failed in the runtime itself, before or instead of running the guest.
    pub fn crash(message: impl Into<String>) -> Execution {
        Execution {
            ending: Ending::Crash(message.into()),
            stdout: vec![],
            stderr: vec![],
            memory: None,
            own_sandbox: None,
        }
    }
}

/// Final state of a runtime's own file system.
#[derive(Debug, Clone)]
pub struct OwnSandbox {
    pub trees: std::collections::BTreeMap<String, wasi_conform_suite::scenario::Tree>,
    pub canaries: Canaries,
}

/// A WASI preview1 runtime under test.
pub trait Runtime: Send + Sync {
    /// Short stable name (`wasmtime`, `node`): expectation files and filters use it.
    fn name(&self) -> &'static str;
    /// Version of the runtime itself (not of the adapter).
    fn version(&self) -> String;
    fn availability(&self) -> Availability;
    /// Runs the case's module with the sandbox's preopens, the case's argv, env and stdin,
    /// within the case's limits. A trap, an exit, a timeout or a crash of the runtime are
    /// all outcomes (in [`Execution::ending`]), never errors of this function.
    fn run(&self, case: &TestCase, sandbox: &Sandbox) -> Execution;
    /// Extra figures for `wasi-conform bench` (e.g. a subprocess adapter's
    /// process-per-run cost next to its worker cost).
    fn bench_notes(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// How much of the guest's exit status this runtime can report: a runtime driven as a
    /// process reports it through its own exit status, modulo 256.
    fn exit_width(&self) -> ExitWidth {
        ExitWidth::Full
    }
}

/// Runs a case on a runtime in a fresh sandbox and observes everything.
pub fn execute(runtime: &dyn Runtime, case: &TestCase) -> Outcome {
    let started = Instant::now();
    let sandbox = match Sandbox::create(&case.fixture) {
        Ok(s) => s,
        Err(e) => return crashed(format!("cannot prepare the sandbox: {e}"), started),
    };
    let exec = match std::panic::catch_unwind(AssertUnwindSafe(|| runtime.run(case, &sandbox))) {
        Ok(e) => e,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Execution::crash(format!("adapter panicked: {msg}"))
        }
    };
    let (trees, canaries) = match exec.own_sandbox {
        Some(own) => (own.trees, own.canaries),
        None => (sandbox.final_trees(), sandbox.check_canaries()),
    };
    Outcome {
        ending: exec.ending,
        exit_width: runtime.exit_width(),
        stdout: exec.stdout,
        stderr: exec.stderr,
        memory: exec.memory,
        trees,
        canaries,
        elapsed: started.elapsed(),
    }
}

fn crashed(msg: String, started: Instant) -> Outcome {
    Outcome {
        ending: Ending::Crash(msg),
        exit_width: ExitWidth::Full,
        stdout: vec![],
        stderr: vec![],
        memory: None,
        trees: Default::default(),
        canaries: Canaries::Intact,
        elapsed: started.elapsed(),
    }
}

/// Every runtime wasi-conform knows, available or not, in report order. In-process
/// adapters named by `WASI_CONFORM_ISOLATE` (default: Wasmer) run in worker processes when
/// the program called [`isolated::serve_if_worker`] (see [`isolated`]).
pub fn all_runtimes() -> Vec<Box<dyn Runtime>> {
    configured::with_configured(vec![
        Box::new(reference::Reference::new()),
        isolated::isolate_if_configured(Box::new(wasmtime::Wasmtime::new())),
        isolated::isolate_if_configured(Box::new(wasmi::Wasmi::new())),
        Box::new(node::Node::new()),
        Box::new(bun::Bun::new()),
        Box::new(deno::Deno::new()),
        isolated::isolate_if_configured(Box::new(wasmer::Wasmer::new())),
        Box::new(wasmedge::runtime()),
        Box::new(iwasm::runtime()),
    ])
}
