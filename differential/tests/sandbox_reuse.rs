//! A sandbox reset between runs is a fresh sandbox: seeded generated programs run one after
//! another in one kept sandbox (`execute_reusing`, as the fuzzer's oracle runs them) and each
//! in a fresh sandbox (`execute`) give the same observation on every in-process runtime —
//! the final trees, the canaries, every step — so that no run sees what an earlier one left.

use wasi_conform_differential::as_data;
use wasi_conform_differential::normalise::{self, EndClass};
use wasi_conform_differential::oracle::diff;
use wasi_conform_differential::program::{self, GenConfig};
use wasi_conform_runners::{execute_preloaded, execute_reusing, registry, Spare};
use wasi_conform_suite::compile;

fn kept_and_fresh_agree_on(runtime: &str) {
    // SAFETY: set before any runtime thread starts.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let rt = registry::builtin(runtime).expect("a built-in runtime");
    let cfg = GenConfig { time_limit: wasi_conform_suite::case::DEFAULT_BUDGET, ..GenConfig::default() };
    let mut spare = Spare::default();
    let n = 150;
    for i in 0..n {
        let p = program::seeded(4, i, &cfg);
        let c = compile::compile(&p).expect("generated programs compile");
        let d = as_data::prepare(&c).expect("a data form");
        let plan = Some((&p, &c.layout));
        let kept = execute_reusing(rt.as_ref(), &d.case, Some(&d.preload), &mut spare);
        let fresh = execute_preloaded(rt.as_ref(), &d.case, &d.preload);
        let (a, b) = (normalise::observe(runtime, &fresh, plan), normalise::observe(runtime, &kept, plan));
        assert_eq!(a.trees, b.trees, "{} on {runtime}: final trees", p.id);
        assert_eq!(a.canaries, b.canaries, "{} on {runtime}: canaries", p.id);
        let both_crashed = matches!((&a.end, &b.end), (EndClass::Crash(_), EndClass::Crash(_)));
        if let Some(d) = diff(&a, &b, Some(&p)).filter(|_| !both_crashed) {
            panic!(
                "{} on {runtime}: a kept sandbox differs from a fresh one at {}: {}",
                p.id,
                d.place.name(),
                d.detail
            );
        }
    }
    // The comparison means something only if sandboxes were kept (a reset that fails falls
    // back to a fresh sandbox, which would pass it trivially).
    let reused = spare.reused();
    assert!(reused * 10 >= n * 9, "{runtime}: only {reused} of {n} runs reused a sandbox");
}

#[test]
fn wasmtime() {
    kept_and_fresh_agree_on("wasmtime");
}

#[test]
fn wasmi() {
    kept_and_fresh_agree_on("wasmi");
}

#[test]
fn wasmer() {
    kept_and_fresh_agree_on("wasmer");
}
