//! Generator 1 (structured preview1 programs) through the reference and the runtimes;
//! panics on a divergence `fuzz/known-divergences.toml` does not explain. All logic lives in
//! `wasi-conform-differential`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasi_conform_differential::program::Program;

fuzz_target!(|p: Program| wasi_conform_differential::target::check(&p.0));
