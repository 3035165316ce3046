//! Where a fuzzing iteration's time goes, per runtime: sandbox creation, the run itself,
//! the final-tree snapshot and canary check, and removing the sandbox.
//!
//!     cargo run --release -p wasi-conform-differential --example run_phases -- 300 wasmtime,wasmi,wasmer [SEED]

use std::time::{Duration, Instant};

use wasi_conform_differential::as_data;
use wasi_conform_differential::program::{self, GenConfig};
use wasi_conform_runners::{registry, Sandbox};
use wasi_conform_suite::compile;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let names = args.get(2).cloned().unwrap_or_else(|| "reference,wasmtime,wasmi,wasmer".into());
    let seed: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(3);
    let programs: Vec<_> = (0..n)
        .map(|i| {
            let p = program::seeded(seed, i, &GenConfig::default());
            let c = compile::compile(&p).expect("compiles");
            let d = as_data::prepare(&c).expect("data form");
            (p, c, d)
        })
        .collect();
    let t = Instant::now();
    for i in 0..n {
        let p = program::seeded(seed, i, &GenConfig::default());
        let c = compile::compile(&p).expect("compiles");
        let _ = as_data::prepare(&c);
    }
    println!("generate+compile+prepare: {:.3} ms/program", t.elapsed().as_secs_f64() * 1e3 / n as f64);
    for name in names.split(',') {
        let rt = registry::builtin(name).expect("runtime");
        let mut phases = [Duration::ZERO; 5];
        let mut runs = Vec::new();
        for (_, _, d) in &programs {
            let t0 = Instant::now();
            let sb = Sandbox::create(&d.case.fixture).expect("sandbox");
            let t1 = Instant::now();
            let e = rt.run_preloaded(&d.case, &d.preload, &sb);
            let t2 = Instant::now();
            let _ = sb.final_trees();
            let t3 = Instant::now();
            let _ = sb.check_canaries();
            let t4 = Instant::now();
            drop(sb);
            let t5 = Instant::now();
            drop(e);
            runs.push((t2 - t1, d.case.fixture.clone()));
            for (k, (a, b)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)].into_iter().enumerate() {
                phases[k] += b - a;
            }
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3 / n as f64;
        let mut idx: Vec<usize> = (0..runs.len()).collect();
        idx.sort_by_key(|&i| runs[i].0);
        let at = |q: f64| runs[idx[((idx.len() - 1) as f64 * q) as usize]].0.as_secs_f64() * 1e3;
        println!("{name:<10} run p50 {:.3} p90 {:.3} p99 {:.3} max {:.3} ms", at(0.5), at(0.9), at(0.99), at(1.0));
        let slow: Vec<String> =
            idx.iter().rev().take(8).map(|&i| format!("{i}: {:.1} ms", runs[i].0.as_secs_f64() * 1e3)).collect();
        println!("           slowest programs: {}", slow.join(", "));
        println!(
            "{name:<10} create {:.3}  run {:.3}  trees {:.3}  canaries {:.3}  remove {:.3}  (ms per program)",
            ms(phases[0]),
            ms(phases[1]),
            ms(phases[2]),
            ms(phases[3]),
            ms(phases[4])
        );
    }
}
