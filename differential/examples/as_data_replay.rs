//! Replays one generated program in both forms (compiled, and as data in the interpreter)
//! on one runtime, several times, and prints each run's ending and first step difference:
//! how to tell a data-form difference from a runtime's own nondeterminism.
//!
//!     cargo run --release -p wasi-conform-differential --example as_data_replay -- SEED INDEX RUNTIME [TIMES]

use wasi_conform_differential::as_data;
use wasi_conform_differential::normalise;
use wasi_conform_differential::oracle::diff;
use wasi_conform_differential::program::{self, GenConfig};
use wasi_conform_runners::{execute, execute_preloaded, registry};
use wasi_conform_suite::compile;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (seed, index, runtime) = (a[1].parse().expect("seed"), a[2].parse().expect("index"), a[3].as_str());
    let times: usize = a.get(4).and_then(|t| t.parse().ok()).unwrap_or(3);
    let rt = registry::builtin(runtime).expect("a built-in runtime");
    let p = program::seeded(seed, index, &GenConfig::default());
    let c = compile::compile(&p).expect("compiles");
    let d = as_data::prepare(&c).expect("data form");
    let plan = Some((&p, &c.layout));
    let reference =
        normalise::observe("reference", &execute(registry::builtin("reference").unwrap().as_ref(), &c.case), plan);
    for _ in 0..times {
        let compiled = execute(rt.as_ref(), &c.case);
        let data = match d.case_for(rt.missing_imports()) {
            Some(dc) => execute_preloaded(rt.as_ref(), &dc, &d.preload),
            None => execute(rt.as_ref(), &c.case),
        };
        for (form, o) in [("compiled", &compiled), ("data", &data)] {
            let obs = normalise::observe(runtime, o, plan);
            let vs = diff(&reference, &obs, Some(&p))
                .map(|d| format!("{}: {} vs {}", d.place.name(), d.expected, d.observed));
            println!("{form:<9} {}  vs reference: {}", o.ending, vs.unwrap_or_else(|| "same".into()));
        }
    }
}
