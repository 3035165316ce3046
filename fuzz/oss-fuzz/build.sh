#!/bin/bash -eu
# Builds the three fuzz targets (differential: structured preview1 programs; smith: wasm-smith
# modules calling preview1; loader: the scenario YAML loader on arbitrary bytes) for OSS-Fuzz
# or ClusterFuzzLite and copies them to $OUT, with the loader's dictionary and a seed corpus
# made of the suite's scenario files (suite/scenarios, zipped at build time, not committed).
#
# Settings that run fast: `-O` (optimised, no debug assertions; Wasmer turns a misaligned
# guest pointer into a misaligned Rust reference, which with debug assertions aborts the
# process). The sanitizer comes from the environment ($SANITIZER, applied by the
# base-builder-rust `cargo` wrapper); with ASan over all of Cranelift a Wasmtime-embedding
# target runs at a few execs/s, so for throughput prefer a `sanitizers: [none]`-style
# configuration or the `coverage` build, and keep `address` for the crash-finding job.
# The targets read no files at run time (the known-divergence list is built in) and run
# the in-process runtimes only (Wasmtime, wasmi, Wasmer: WASI_CONFORM_FUZZ_RUNTIMES).
# `loader` embeds no runtime: ~700 execs/s with ASan, ~2,400 without, on 2 shared cores.
# A CARGO_TARGET_DIR from the environment is honoured (a build cache; run-here.sh sets one).
cd "$SRC/wasi-conform/fuzz"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo fuzz build -O --target-dir "$target_dir"
for target in differential smith loader; do
  cp "$target_dir/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
done
cp loader.dict "$OUT/loader.dict"
(cd ../suite/scenarios && zip -qr "$OUT/loader_seed_corpus.zip" .)
