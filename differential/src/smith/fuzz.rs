//! Generator 2 through the oracle: the glue behind `fuzz/fuzz_targets/smith.rs` and
//! seeded runs.
//!
//! A module has no trace (`capture_len` 0), so the oracle compares the ending (exit code or
//! trap class), stdout/stderr, the final tree and the canaries. Divergences are grouped by
//! signature (`crate::triage`) and those the known-divergence list explains are dropped.
//!
//! Runtimes of the fuzz target: `WASI_CONFORM_FUZZ_RUNTIMES` (comma-separated, default
//! `wasmtime,wasmi,wasmer`, the in-process ones); known list: `WASI_CONFORM_FUZZ_KNOWN`,
//! default the copy of `fuzz/known-divergences.toml` built into the binary. A libFuzzer
//! binary does not host crash-isolation workers, so Wasmer runs in-process here.

use std::sync::OnceLock;

use arbitrary::Unstructured;

use super::{generate, test_case, CallAid, SmithModule};
use crate::oracle::{Check, Divergence, Oracle};
use crate::triage::{signatures, Known, Signature};

/// Runs a module on the reference and the oracle's runtimes.
pub fn run(oracle: &Oracle, name: &str, m: &SmithModule) -> Check {
    oracle.check(&test_case(name, m), None, None)
}

/// The divergences of one module that `known` does not explain, by signature.
pub fn unexplained(oracle: &Oracle, known: &Known, name: &str, m: &SmithModule) -> Vec<(Signature, Vec<Divergence>)> {
    let check = run(oracle, name, m);
    signatures(&check.divergences).into_iter().filter(|(s, ds)| known.explain(s, ds).is_none()).collect()
}

struct State {
    oracle: Oracle,
    known: Known,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        // wasmtime captures a backtrace on every guest trap when these ask for one.
        // SAFETY: the first input is handled before libFuzzer starts any other thread.
        unsafe {
            std::env::set_var("RUST_LIB_BACKTRACE", "0");
            std::env::remove_var("RUST_BACKTRACE");
        }
        let names: Vec<String> = std::env::var("WASI_CONFORM_FUZZ_RUNTIMES")
            .unwrap_or_else(|_| "wasmtime,wasmi,wasmer".into())
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let oracle = Oracle::new(&names).unwrap_or_else(|e| panic!("fuzz target setup: {e}"));
        // A copy of the list is built in, so that the target runs where the source tree is
        // not (OSS-Fuzz and ClusterFuzzLite run the binary alone).
        let known = match std::env::var("WASI_CONFORM_FUZZ_KNOWN") {
            Ok(path) => Known::load(std::path::Path::new(&path)),
            Err(_) => Known::parse(include_str!("../../../fuzz/known-divergences.toml")),
        }
        .unwrap_or_else(|e| panic!("fuzz target setup: {e}"));
        State { oracle, known }
    })
}

/// The fuzz target: generates a module from `data` and panics on an unexplained
/// divergence. Inputs wasm-smith cannot make a module of are skipped.
pub fn check(data: &[u8]) {
    let Ok(m) = generate(&mut Unstructured::new(data), CallAid::ShimsAndInjected) else { return };
    let s = state();
    if let Some((sig, ds)) = unexplained(&s.oracle, &s.known, "fuzz", &m).first() {
        let detail: Vec<String> =
            ds.iter().map(|d| format!("{} at {}: {}", d.runtime, d.place.name(), d.detail)).collect();
        panic!("unexplained divergence: {sig}\n{}", detail.join("\n"));
    }
}
