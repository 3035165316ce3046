//! Runs generator 2's modules for seeds `0..N` through the oracle and prints throughput and
//! the distinct divergences (by signature, with the first seed and how many seeds showed
//! it; known ones marked). `RUNTIMES` empty = the reference alone.
//!
//! `cargo run --release -p wasi-conform-differential --example smith_oracle -- N [RUNTIME,…]`

use std::collections::BTreeMap;
use std::time::Instant;

use wasi_conform_differential::oracle::Oracle;
use wasi_conform_differential::smith::{self, fuzz, CallAid};
use wasi_conform_differential::triage::{signatures, Known};

fn main() -> std::process::ExitCode {
    // Wasmer runs in worker processes (crash isolation): this program can host them.
    if let Some(code) = wasi_conform_runners::registry::serve_if_worker() {
        return code;
    }
    // SAFETY: no other thread runs yet.
    unsafe {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
        std::env::remove_var("RUST_BACKTRACE");
    }
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|a| a.parse().expect("N is a number")).unwrap_or(200);
    let names: Vec<String> =
        args.next().unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let known_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/known-divergences.toml");
    let known = Known::load(std::path::Path::new(known_path)).expect("known list");
    let oracle = Oracle::new(if names.is_empty() { &[] } else { &names }).expect("oracle");
    for (rt, why) in &oracle.unavailable {
        eprintln!("not available: {rt}: {why}");
    }
    let started = Instant::now();
    let mut modules = 0;
    let mut seen: BTreeMap<String, (u64, usize, String, bool)> = BTreeMap::new();
    for seed in 0..n {
        let Ok(m) = smith::from_seed(seed, CallAid::ShimsAndInjected) else { continue };
        modules += 1;
        let name = format!("seed-{seed}");
        if names.is_empty() {
            oracle.reference(&smith::test_case(&name, &m), None);
            continue;
        }
        let check = fuzz::run(&oracle, &name, &m);
        for (sig, ds) in signatures(&check.divergences) {
            let explained = known.explain(&sig, &ds).is_some();
            let e = seen.entry(sig.to_string()).or_insert((seed, 0, ds[0].detail.clone(), explained));
            e.1 += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{modules} modules on reference{}{} in {secs:.1} s: {:.1} modules/s",
        if names.is_empty() { "" } else { " + " },
        names.join(" + "),
        modules as f64 / secs
    );
    for (sig, (seed, count, detail, explained)) in &seen {
        let tag = if *explained { "known" } else { "NEW" };
        println!("[{tag}] {sig}  (first seed {seed}, {count} seeds)\n    {}", detail.replace('\n', "\n    "));
    }
    std::process::ExitCode::SUCCESS
}
