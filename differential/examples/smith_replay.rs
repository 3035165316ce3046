//! Replays one module of `wasi-conform fuzz --generator smith`: prints how the reference
//! and each runtime ended (with trap messages), their stdout/stderr and the last function
//! the reference called, and writes the module to `OUT.wasm` when asked — the reproduction
//! of a generator-2 finding (`smith-S-I` in the summary is seed S, index I).
//!
//! `cargo run --release -p wasi-conform-differential --example smith_replay -- S I RUNTIME,… [OUT.wasm]`

use std::sync::Arc;

use wasi_conform_differential::smith::{self, seeded, CallAid};
use wasi_conform_runners::reference::{CallCounts, Reference};
use wasi_conform_runners::{execute, registry};
use wasi_conform_suite::verdict::show_bytes;

fn main() -> std::process::ExitCode {
    if let Some(code) = registry::serve_if_worker() {
        return code;
    }
    // SAFETY: no other thread runs yet.
    unsafe {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
        std::env::remove_var("RUST_BACKTRACE");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(seed), Some(index)) = (args.first(), args.get(1)) else {
        eprintln!("usage: smith_replay SEED INDEX RUNTIME,… [OUT.wasm]");
        return std::process::ExitCode::from(2);
    };
    let (seed, index): (u64, u64) = (seed.parse().expect("SEED"), index.parse().expect("INDEX"));
    let names: Vec<&str> = args.get(2).map(|s| s.split(',').filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let m = smith::from_seed(seeded::module_seed(seed, index), CallAid::ShimsAndInjected).expect("module");
    if let Some(out) = args.get(3) {
        std::fs::write(out, &m.wasm).expect("writing the module");
    }
    let case = smith::test_case(&seeded::module_name(seed, index), &m);
    let counts = Arc::new(CallCounts::default());
    let reference = Reference::with_call_counts(counts.clone());
    let o = execute(&reference, &case);
    let called: Vec<String> = wasi_conform_abi::FUNCTIONS
        .iter()
        .zip(counts.snapshot())
        .filter(|(_, n)| *n > 0)
        .map(|(f, n)| format!("{}×{n}", f.name))
        .collect();
    println!("reference: {} (last call {:?})", o.ending, counts.take_last().map(|f| f.name));
    println!("  called: {}", called.join(" "));
    println!("  stdout {} stderr {}", show_bytes(&o.stdout), show_bytes(&o.stderr));
    for p in &m.plans {
        println!("  call site: {}{:?}", p.function.name, p.operands);
    }
    for rt in registry::all().expect("runtimes").into_iter().filter(|r| names.contains(&r.name())) {
        let o = execute(rt.as_ref(), &case);
        println!("{}: {}\n  stdout {} stderr {}", rt.name(), o.ending, show_bytes(&o.stdout), show_bytes(&o.stderr));
    }
    std::process::ExitCode::SUCCESS
}
