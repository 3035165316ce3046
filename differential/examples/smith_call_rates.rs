//! Prints the call-rate tables of generator 2 (`fuzz/README.md`, section "smith"): for
//! seeds `0..N`, the share of modules importing and calling each preview1 function, with
//! plain wasm-smith, with shims rewritten into real calls, and with injected calls too, plus
//! generation and reference-run throughput.
//!
//! `cargo run --release -p wasi-conform-differential --example smith_call_rates -- [N]`

use wasi_conform_differential::call_rates::{markdown, measure, CallRates};
use wasi_conform_differential::smith::CallAid;

fn summary(label: &str, r: &CallRates) {
    let per_s = |d: std::time::Duration| r.modules as f64 / d.as_secs_f64().max(1e-9);
    eprintln!(
        "{label}: {} modules of {} seeds; generated {:.0}/s, reference runs {:.0}/s; endings {:?}; never called: {:?}",
        r.modules,
        r.seeds,
        per_s(r.generate),
        per_s(r.run),
        r.endings,
        r.never_called()
    );
}

fn main() {
    std::env::remove_var("RUST_BACKTRACE");
    let n: u64 = std::env::args().nth(1).map(|a| a.parse().expect("N is a number")).unwrap_or(1000);
    let plain = measure(0..n, CallAid::Plain);
    summary("plain", &plain);
    let shims = measure(0..n, CallAid::Shims);
    summary("shims", &shims);
    let injected = measure(0..n, CallAid::ShimsAndInjected);
    summary("shims+injected", &injected);
    println!("{}", markdown(&[("plain", &plain), ("shims", &shims), ("shims+injected", &injected)]));
}
