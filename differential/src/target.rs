//! Glue for the cargo-fuzz targets in `fuzz/`: one oracle and one known-divergence list per
//! process, built on the first input, and a check that panics (libFuzzer's way of recording
//! a finding) on a divergence the list does not explain.
//!
//! Runtimes: `WASI_CONFORM_FUZZ_RUNTIMES` (comma-separated, default [`DEFAULT_RUNTIMES`]).
//! Known list: `WASI_CONFORM_FUZZ_KNOWN`, default the copy of `fuzz/known-divergences.toml`
//! built into the binary. The generator-2 target (`crate::smith::fuzz`) shares this set-up.
//!
//! The default set is what one libFuzzer process survives. Wasmer is left out: a fuzz
//! target runs it in-process (the CLI's crash-isolating worker needs
//! `registry::serve_if_worker()` in `main`, which libFuzzer owns), and in-process Wasmer can
//! end the process — it blocks forever in `poll_oneoff` on a clock timeout of 0
//! (`suite/scenarios/poll_oneoff/fuzz-zero-relative-timeout-fires.yaml`), panics on
//! arithmetic overflow in `fd_readdir` with cookie `u64::MAX` when built with overflow
//! checks (cargo-fuzz's default `-a`), and segfaults on unknown `poll_oneoff` event tags.
//! `WASI_CONFORM_FUZZ_RUNTIMES=wasmtime,wasmi,wasmer` opts in; the hang and the crash are
//! then libFuzzer timeouts/crashes, i.e. findings, not harness bugs.

use std::sync::OnceLock;

use wasi_conform_suite::scenario::Scenario;

use crate::driver;
use crate::oracle::{Divergence, Oracle};
use crate::triage::{Known, Signature};

/// The runtimes judged when `WASI_CONFORM_FUZZ_RUNTIMES` is not set: the in-process ones a
/// libFuzzer process survives (see the module docs for why Wasmer is not among them).
pub const DEFAULT_RUNTIMES: &str = "wasmtime,wasmi";

/// What a fuzz target keeps for the whole process: one oracle (engines and module caches
/// reused across inputs) and the known-divergence list.
pub(crate) struct State {
    pub(crate) oracle: Oracle,
    pub(crate) known: Known,
}

impl State {
    /// Builds the state on a target's first input: runtimes from
    /// `WASI_CONFORM_FUZZ_RUNTIMES` (else `default_runtimes`), the known list from
    /// `WASI_CONFORM_FUZZ_KNOWN` (else the copy built into the binary, since OSS-Fuzz and
    /// ClusterFuzzLite run the binary without the source tree).
    pub(crate) fn new(default_runtimes: &str) -> State {
        // wasmtime captures a backtrace on every guest trap when these ask for one.
        // SAFETY: the first input is handled before libFuzzer starts any other thread.
        unsafe {
            std::env::set_var("RUST_LIB_BACKTRACE", "0");
            std::env::remove_var("RUST_BACKTRACE");
        }
        let names: Vec<String> = std::env::var("WASI_CONFORM_FUZZ_RUNTIMES")
            .unwrap_or_else(|_| default_runtimes.into())
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let oracle = Oracle::new(&names).unwrap_or_else(|e| panic!("fuzz target setup: {e}"));
        let known = match std::env::var("WASI_CONFORM_FUZZ_KNOWN") {
            Ok(path) => Known::load(std::path::Path::new(&path)),
            Err(_) => Known::parse(include_str!("../../fuzz/known-divergences.toml")),
        }
        .unwrap_or_else(|e| panic!("fuzz target setup: {e}"));
        State { oracle, known }
    }
}

/// Records a finding the libFuzzer way: a panic naming the signature and each runtime's
/// divergence.
pub(crate) fn fail_on(unexplained: &[(Signature, Vec<Divergence>)]) {
    if let Some((sig, ds)) = unexplained.first() {
        let detail: Vec<String> =
            ds.iter().map(|d| format!("{} at {}: {}", d.runtime, d.place.name(), d.detail)).collect();
        panic!("unexplained divergence: {sig}\n{}", detail.join("\n"));
    }
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| State::new(DEFAULT_RUNTIMES))
}

/// Runs one program everywhere; panics on an unexplained divergence.
pub fn check(program: &Scenario) {
    let s = state();
    fail_on(&driver::unexplained(&s.oracle, &s.known, program));
}
