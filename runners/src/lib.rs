//! The [`Runtime`] trait and one adapter per WASI runtime.
//!
//! An adapter only says who it is, whether it is installed, and how to run a module in a
//! prepared [`Sandbox`]. Everything every runtime gets — a fresh sandbox directory with the
//! fixture and canaries, the final-tree snapshot, the canary check, catching a panicking
//! adapter — lives in [`execute`], once.
//!
//! Adapters, by kind:
//! - in-process: [`reference`](mod@reference) (the oracle), [`wasmtime`], [`wasmi`], [`wasmer`] (the last
//!   three can run in crash-isolating worker processes, [`isolated`]);
//! - JavaScript runtimes' `node:wasi` in long-lived worker processes: [`js`] (Node, Bun,
//!   Deno);
//! - command lines, one process per run: [`cli`] (WasmEdge, iwasm, and the runtimes a user
//!   configures in `runtimes.toml`).
//!
//! This file knows none of them: [`registry`] builds them by name, [`matrix`] runs and
//! judges scenarios on them, [`process`] is what every adapter that starts a process
//! shares.

pub mod capabilities;
pub mod cli;
pub mod compile_cache;
pub mod engine;
pub mod isolated;
pub mod js;
pub mod matrix;
pub mod process;
pub mod reference;
pub mod registry;
pub mod sandbox;
pub mod test_main;
pub mod wasmer;
pub mod wasmi;
pub mod wasmtime;

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use wasi_conform_case::outcome::{Canaries, Ending, ExitWidth, Outcome};
use wasi_conform_case::preload::Preload;
use wasi_conform_case::test_case::TestCase;

pub use sandbox::Sandbox;

/// Whether a runtime can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// Not installed or not usable here, and why.
    NotAvailable(String),
}

impl Availability {
    /// Available when a probe (e.g. finding the binary and asking its version) succeeded,
    /// else not, with the probe's error as the reason.
    pub fn of<T, E: std::fmt::Display>(probe: Result<T, E>) -> Availability {
        match probe {
            Ok(_) => Availability::Available,
            Err(e) => Availability::NotAvailable(e.to_string()),
        }
    }
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

/// Final state of a runtime's own file system. An adapter that reports one has not changed
/// the sandbox it was given (it ran on a model of it, or on a copy), so a kept sandbox stays
/// as laid out.
#[derive(Debug, Clone)]
pub struct OwnSandbox {
    pub trees: std::collections::BTreeMap<String, wasi_conform_case::fixture::Tree>,
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
    /// Preview1 functions this runtime does not provide: a module importing any of them
    /// cannot be instantiated (Bun's `node:wasi` has no `sock_accept`). A module meant to run
    /// everywhere imports only what it calls; one that imports every function (the fuzzer's
    /// interpreter) leaves these out.
    fn missing_imports(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether [`Runtime::run_preloaded`] works: the adapter can write bytes into the guest's
    /// memory between making the instance and calling `_start` (in-process adapters and
    /// the JS workers can; a command line cannot).
    fn takes_preload(&self) -> bool {
        false
    }
    /// Runs the case like [`Runtime::run`], with `preload` written into the guest's exported
    /// memory before `_start` (see [`wasi_conform_case::preload`]). A segment that does not
    /// fit is a crash of the run. Adapters that cannot ([`Runtime::takes_preload`] false)
    /// report a crash saying so.
    fn run_preloaded(&self, case: &TestCase, preload: &Preload, sandbox: &Sandbox) -> Execution {
        let _ = (case, preload, sandbox);
        Execution::crash(format!("the {} adapter cannot preload guest memory", self.name()))
    }
}

/// Runs a case on a runtime in a fresh sandbox and observes everything.
pub fn execute(runtime: &dyn Runtime, case: &TestCase) -> Outcome {
    execute_with(runtime, case, None)
}

/// [`execute`], with `preload` written into guest memory before `_start`
/// ([`Runtime::run_preloaded`]).
pub fn execute_preloaded(runtime: &dyn Runtime, case: &TestCase, preload: &Preload) -> Outcome {
    execute_with(runtime, case, Some(preload))
}

/// A sandbox kept between one runtime's runs, reset rather than made anew
/// ([`execute_reusing`]).
#[derive(Default)]
pub struct Spare {
    kept: Option<Sandbox>,
    reused: u64,
}

impl Spare {
    /// How many runs so far used a kept sandbox rather than a fresh one.
    pub fn reused(&self) -> u64 {
        self.reused
    }
}

/// [`execute`] (or [`execute_preloaded`]) in a sandbox kept from this runtime's previous run
/// when that is the same as a fresh one: the previous run ended (an exit or a trap, so no
/// guest thread of it can still be running), left everything outside the preopens as it was
/// (the canaries, checked on the host sandbox even for runtimes that report their own), and
/// its sandbox has the same preopens; the preopens are then emptied and the fixture laid out
/// again ([`Sandbox::reset`]). Otherwise a fresh sandbox. For loops that run many small
/// cases on one runtime (the differential fuzzer); the suite makes a fresh one per run.
pub fn execute_reusing(
    runtime: &dyn Runtime,
    case: &TestCase,
    preload: Option<&Preload>,
    spare: &mut Spare,
) -> Outcome {
    let kept = spare.kept.take().filter(|s| s.fits(&case.fixture) && s.reset(&case.fixture).is_ok());
    spare.reused += u64::from(kept.is_some());
    let (outcome, sandbox) = execute_in(runtime, case, preload, kept);
    // The canaries were compared after the run: this sandbox's, or, for a runtime with a
    // file system of its own, that one's (this sandbox was not used then).
    let reusable = matches!(outcome.ending, Ending::Exit(_) | Ending::Trap(_)) && outcome.canaries == Canaries::Intact;
    if reusable {
        spare.kept = sandbox;
    }
    outcome
}

fn execute_with(runtime: &dyn Runtime, case: &TestCase, preload: Option<&Preload>) -> Outcome {
    execute_in(runtime, case, preload, None).0
}

/// Runs a case in `sandbox` (a fresh one when `None`) and returns the sandbox too.
fn execute_in(
    runtime: &dyn Runtime,
    case: &TestCase,
    preload: Option<&Preload>,
    sandbox: Option<Sandbox>,
) -> (Outcome, Option<Sandbox>) {
    let started = Instant::now();
    let sandbox = match sandbox.map(Ok).unwrap_or_else(|| Sandbox::create(&case.fixture)) {
        Ok(s) => s,
        Err(e) => return (crashed(format!("cannot prepare the sandbox: {e}"), started), None),
    };
    let was_fresh = sandbox.hand_out();
    let run = || match preload {
        Some(p) => runtime.run_preloaded(case, p, &sandbox),
        None => runtime.run(case, &sandbox),
    };
    let exec = match std::panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(e) => e,
        Err(p) => Execution::crash(format!("adapter panicked: {}", process::panic_text(p.as_ref()))),
    };
    let (trees, canaries) = match exec.own_sandbox {
        Some(own) => {
            sandbox.hand_back_unused(was_fresh);
            (own.trees, own.canaries)
        }
        None => (sandbox.final_trees(), sandbox.check_canaries()),
    };
    let outcome = Outcome {
        ending: exec.ending,
        exit_width: runtime.exit_width(),
        stdout: exec.stdout,
        stderr: exec.stderr,
        memory: exec.memory,
        trees,
        canaries,
        elapsed: started.elapsed(),
    };
    (outcome, Some(sandbox))
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
