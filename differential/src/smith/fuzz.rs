//! Generator 2 through the oracle: the glue behind `fuzz/fuzz_targets/smith.rs` and
//! seeded runs.
//!
//! A module has no trace (`capture_len` 0), so the oracle compares the ending (exit code or
//! trap class), stdout/stderr, the final tree and the canaries. Divergences are attributed
//! to the last function the reference called and grouped by signature (`crate::triage`);
//! those the known-divergence list explains are dropped.
//!
//! Runtimes of the fuzz target: `WASI_CONFORM_FUZZ_RUNTIMES` (comma-separated, default
//! `wasmtime,wasmi,wasmer`, the in-process ones); known list: `WASI_CONFORM_FUZZ_KNOWN`,
//! default the copy of `fuzz/known-divergences.toml` built into the binary. A libFuzzer
//! binary does not host crash-isolation workers, so Wasmer runs in-process here.

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use wasi_conform_runners::execute;
use wasi_conform_runners::reference::{CallCounts, Reference};
use wasi_conform_suite::case::TestCase;

use super::{generate, test_case, CallAid, SmithModule};
use crate::oracle::{Check, Divergence, Oracle};
use crate::target::{fail_on, State};
use crate::triage::{attribute_traceless, signatures, Known, Signature};

/// Runs a module on the reference and the oracle's runtimes. Divergences get traceless
/// signatures ([`crate::triage::attribute_traceless`]): the last preview1 function the
/// reference called, and exit classes instead of exit codes.
pub fn run(oracle: &Oracle, name: &str, m: &SmithModule) -> Check {
    let case = test_case(name, m);
    let mut check = oracle.check(&case, None, None);
    if check.divergences.iter().any(|d| d.function == "-") {
        let last = last_called(&case);
        for d in &mut check.divergences {
            attribute_traceless(d, last);
        }
    }
    check
}

/// The last preview1 function the reference calls in a case. The oracle's reference does
/// not count calls, so a counting one runs the case again (the reference is deterministic,
/// and this happens only for modules that diverge).
fn last_called(case: &TestCase) -> Option<&'static str> {
    thread_local! {
        static COUNTING: (Reference, Arc<CallCounts>) = {
            let counts = Arc::new(CallCounts::default());
            (Reference::with_call_counts(counts.clone()), counts)
        };
    }
    COUNTING.with(|(reference, counts)| {
        counts.take_last();
        execute(reference, case);
        counts.take_last().map(|f| f.name)
    })
}

/// The divergences of one module that `known` does not explain, by signature.
pub fn unexplained(oracle: &Oracle, known: &Known, name: &str, m: &SmithModule) -> Vec<(Signature, Vec<Divergence>)> {
    let check = run(oracle, name, m);
    signatures(&check.divergences).into_iter().filter(|(s, ds)| known.explain(s, ds).is_none()).collect()
}

/// Runtimes when `WASI_CONFORM_FUZZ_RUNTIMES` is not set: the in-process ones.
const DEFAULT_RUNTIMES: &str = "wasmtime,wasmi,wasmer";

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| State::new(DEFAULT_RUNTIMES))
}

/// The fuzz target: generates a module from `data` and panics on an unexplained
/// divergence. Inputs wasm-smith cannot make a module of are skipped.
pub fn check(data: &[u8]) {
    let Ok(m) = generate(&mut Unstructured::new(data), CallAid::ShimsAndInjected) else { return };
    let s = state();
    fail_on(&unexplained(&s.oracle, &s.known, "fuzz", &m));
}
