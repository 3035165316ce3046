//! Differential fuzzing of WASI preview1 runtimes, judged by the reference implementation.
//!
//! The generators, the oracle, triage and minimisation live here so that `cargo test`, the
//! stable-toolchain driver (`wasi-conform fuzz`) and the cargo-fuzz targets in `fuzz/` all
//! share them; the fuzz targets are thin glue.
