//! Generator 2 (wasm-smith modules calling preview1, shim calls rewritten into real ones)
//! through the reference and the runtimes; panics on a divergence
//! `fuzz/known-divergences.toml` does not explain. All logic lives in
//! `wasi-conform-differential` (`smith::fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wasi_conform_differential::smith::fuzz::check(data));
