//! Programs as data are the same programs: seeded generated programs run in their compiled
//! form and in their data form (the interpreter module with the program preloaded) on every
//! runtime that takes a preload (the in-process ones and the JS workers), and the oracle must not be able to tell the two apart. On the
//! reference, which is deterministic, the guest memory the trace is read from must even be
//! byte for byte the same.

use wasi_conform_differential::as_data;
use wasi_conform_differential::normalise::{self, EndClass};
use wasi_conform_differential::oracle::diff;
use wasi_conform_differential::program::{self, GenConfig};
use wasi_conform_runners::{execute, execute_preloaded, registry, Availability};
use wasi_conform_suite::compile;

/// Programs per runtime (seed 1, from program 0).
const PROGRAMS: u64 = 120;

/// The generator's defaults but the suite's time limit: this test compares forms, not
/// speed, and a run slowed past the fuzzer's short limit by a busy machine (parallel test
/// threads) would be a timeout in one form only.
fn config() -> GenConfig {
    GenConfig { time_limit: wasi_conform_suite::case::DEFAULT_BUDGET, ..GenConfig::default() }
}

fn both_forms_agree_on(runtime: &str) {
    // SAFETY: set before any runtime thread starts.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let rt = registry::builtin(runtime).expect("a built-in runtime");
    if let Availability::NotAvailable(why) = rt.availability() {
        // The same rule as the suite's: missing under CI is an error, elsewhere a note.
        assert!(std::env::var_os("CI").is_none(), "{runtime} is not available: {why}");
        eprintln!("{runtime} is not available, not compared: {why}");
        return;
    }
    assert!(rt.takes_preload(), "{runtime} runs programs as data");
    // Worker start-up (JS runtimes) is not part of any run's time budget.
    let warm = compile::compile(&program::seeded(1, 0, &config())).expect("compiles");
    execute(rt.as_ref(), &warm.case);
    for i in 0..PROGRAMS {
        let p = program::seeded(1, i, &config());
        let c = compile::compile(&p).expect("generated programs compile");
        let d = as_data::prepare(&c).unwrap_or_else(|e| panic!("{}: no data form: {e}", p.id));
        let plan = Some((&p, &c.layout));
        let compiled = execute(rt.as_ref(), &c.case);
        let Some(data_case) = d.case_for(rt.missing_imports()) else { continue };
        let data = execute_preloaded(rt.as_ref(), &data_case, &d.preload);
        let (a, b) = (normalise::observe(runtime, &compiled, plan), normalise::observe(runtime, &data, plan));
        if runtime == "reference" {
            assert!(a.trace_error.is_none(), "{}: {:?} ({})", p.id, a.trace_error, compiled.ending);
        }
        assert_eq!(a.steps.len(), b.steps.len(), "{}: {:?} / {}", p.id, b.trace_error, data.ending);
        // `diff` reports any crash of the judged side (its message is the runtime's); two
        // crashes are the same ending.
        let both_crashed = matches!((&a.end, &b.end), (EndClass::Crash(_), EndClass::Crash(_)));
        if let Some(d) = diff(&a, &b, Some(&p)).filter(|_| !both_crashed) {
            panic!(
                "{} on {runtime}: the data form differs from the compiled form at {}: {}",
                p.id,
                d.place.name(),
                d.detail
            );
        }
        if runtime == "reference" {
            assert_eq!(compiled.memory, data.memory, "{}: guest memory differs", p.id);
            assert_eq!(a.steps, b.steps, "{}", p.id);
        }
    }
}

#[test]
fn reference() {
    both_forms_agree_on("reference");
}

#[test]
fn wasmtime() {
    both_forms_agree_on("wasmtime");
}

#[test]
fn wasmi() {
    both_forms_agree_on("wasmi");
}

#[test]
fn wasmer() {
    both_forms_agree_on("wasmer");
}

#[test]
fn node() {
    both_forms_agree_on("node");
}

#[test]
fn bun() {
    both_forms_agree_on("bun");
}

#[test]
fn deno() {
    both_forms_agree_on("deno");
}

#[test]
fn every_generated_program_has_a_data_form() {
    for (seed, stateful) in [(1, true), (2, true), (3, true), (1, false), (3, false)] {
        for i in 0..300 {
            let p = program::seeded(seed, i, &GenConfig { stateful, ..GenConfig::default() });
            let c = compile::compile(&p).expect("generated programs compile");
            if let Err(e) = as_data::prepare(&c) {
                panic!("{}: {e}", p.id);
            }
        }
    }
}
