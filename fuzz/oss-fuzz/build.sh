#!/bin/bash -eu
# Builds both fuzz targets (differential: structured preview1 programs; smith: wasm-smith
# modules calling preview1) for OSS-Fuzz or ClusterFuzzLite and copies them to $OUT.
#
# Settings that run fast: `-O` (optimised, no debug assertions; Wasmer turns a misaligned
# guest pointer into a misaligned Rust reference, which with debug assertions aborts the
# process). The sanitizer comes from the environment ($SANITIZER, applied by the
# base-builder-rust `cargo` wrapper); with ASan over all of Cranelift a Wasmtime-embedding
# target runs at a few execs/s, so for throughput prefer a `sanitizers: [none]`-style
# configuration or the `coverage` build, and keep `address` for the crash-finding job.
# The targets read no files at run time (the known-divergence list is built in) and run
# the in-process runtimes only (Wasmtime, wasmi, Wasmer: WASI_CONFORM_FUZZ_RUNTIMES).
cd "$SRC/wasi-conform/fuzz"
cargo fuzz build -O
for target in differential smith; do
  cp "target/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
done
