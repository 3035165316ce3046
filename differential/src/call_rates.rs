//! How often generated modules *call* each preview1 function at run time — not just import
//! it. Modules are run on the reference implementation built with a counting hook
//! (`wasi_conform_runners::reference::Reference::with_call_counts`); a function's rate is
//! the share of modules that called it at least once.
//!
//! Used by the smoke test of generator 2 ([`crate::smith`]) and by
//! `cargo run --release -p wasi-conform-differential --example smith_call_rates`, which
//! prints the tables of `fuzz/README.md`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasi_conform_abi::{FUNCTIONS, MODULE};
use wasi_conform_runners::execute;
use wasi_conform_runners::reference::{CallCounts, Reference};
use wasi_conform_suite::outcome::Ending;

use crate::smith::{self, CallAid};

/// Calls of one function over a set of modules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionRate {
    /// Modules importing the function.
    pub importing: usize,
    /// Modules that called it at least once.
    pub calling: usize,
    /// Calls in all.
    pub calls: u64,
}

/// How the runs ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endings {
    pub exit: usize,
    pub trap: usize,
    pub timeout: usize,
    pub crash: usize,
}

/// The measurement over a seed range.
#[derive(Debug, Clone)]
pub struct CallRates {
    pub aid: CallAid,
    /// Seeds tried.
    pub seeds: usize,
    /// Modules generated (the others failed generation; see [`smith::SmithError`]).
    pub modules: usize,
    /// Per function, in witx order.
    pub functions: Vec<FunctionRate>,
    pub endings: Endings,
    /// Time spent generating, and running on the reference.
    pub generate: Duration,
    pub run: Duration,
}

impl CallRates {
    /// Share of modules calling function `i`.
    pub fn rate(&self, i: usize) -> f64 {
        self.functions[i].calling as f64 / self.modules.max(1) as f64
    }

    /// Functions no module called.
    pub fn never_called(&self) -> Vec<&'static str> {
        FUNCTIONS.iter().filter(|f| self.functions[f.index].calling == 0).map(|f| f.name).collect()
    }
}

/// Generates the modules of `seeds` and runs each on a counting reference.
pub fn measure(seeds: std::ops::Range<u64>, aid: CallAid) -> CallRates {
    let counts = Arc::new(CallCounts::default());
    let reference = Reference::with_call_counts(counts.clone());
    let mut rates = CallRates {
        aid,
        seeds: (seeds.end - seeds.start) as usize,
        modules: 0,
        functions: vec![FunctionRate::default(); FUNCTIONS.len()],
        endings: Endings::default(),
        generate: Duration::ZERO,
        run: Duration::ZERO,
    };
    for seed in seeds {
        let started = Instant::now();
        let module = smith::from_seed(seed, aid);
        rates.generate += started.elapsed();
        let Ok(module) = module else { continue };
        rates.modules += 1;
        for name in imported(&module.wasm) {
            if let Some(f) = wasi_conform_abi::function(&name) {
                rates.functions[f.index].importing += 1;
            }
        }
        let before = counts.snapshot();
        let started = Instant::now();
        let outcome = execute(&reference, &smith::test_case(&format!("seed-{seed}"), &module));
        rates.run += started.elapsed();
        for (i, (after, before)) in counts.snapshot().into_iter().zip(before).enumerate() {
            if after > before {
                rates.functions[i].calling += 1;
                rates.functions[i].calls += after - before;
            }
        }
        match outcome.ending {
            Ending::Exit(_) => rates.endings.exit += 1,
            Ending::Trap(_) => rates.endings.trap += 1,
            Ending::Timeout => rates.endings.timeout += 1,
            Ending::Crash(_) => rates.endings.crash += 1,
        }
    }
    rates
}

/// Names of the preview1 functions a module imports.
fn imported(wasm: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
        if let wasmparser::Payload::ImportSection(reader) = payload {
            names.extend(reader.into_imports().flatten().filter(|i| i.module == MODULE).map(|i| i.name.to_owned()));
        }
    }
    names
}

/// A Markdown table comparing measurements side by side (one column pair per
/// measurement: modules importing / calling, in percent).
pub fn markdown(measurements: &[(&str, &CallRates)]) -> String {
    let mut out = String::from("| function |");
    for (label, _) in measurements {
        out.push_str(&format!(" {label}: imported | {label}: called |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|---:|".repeat(measurements.len()));
    out.push('\n');
    let pct = |n: usize, m: &CallRates| 100.0 * n as f64 / m.modules.max(1) as f64;
    for f in FUNCTIONS {
        out.push_str(&format!("| `{}` |", f.name));
        for (_, m) in measurements {
            let r = &m.functions[f.index];
            out.push_str(&format!(" {:.1}% | {:.1}% |", pct(r.importing, m), pct(r.calling, m)));
        }
        out.push('\n');
    }
    out.push_str("| modules (of seeds) |");
    for (_, m) in measurements {
        out.push_str(&format!(" {} of {} | |", m.modules, m.seeds));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_called_over_the_seed_set_and_the_aids_raise_the_rates() {
        let seeds = 0..100;
        let aided = measure(seeds.clone(), CallAid::ShimsAndInjected);
        assert_eq!(aided.modules, aided.seeds, "every seed generates a module");
        assert_eq!(aided.never_called(), Vec::<&str>::new(), "functions no module called");
        let plain = measure(seeds, CallAid::Plain);
        let calling = |r: &CallRates| r.functions.iter().map(|f| f.calling).sum::<usize>();
        assert!(calling(&aided) > 4 * calling(&plain), "aided {} vs plain {}", calling(&aided), calling(&plain));
        let table = markdown(&[("plain", &plain), ("aided", &aided)]);
        assert_eq!(table.lines().count(), 2 + FUNCTIONS.len() + 1);
    }
}
