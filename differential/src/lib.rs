//! Differential fuzzing of WASI preview1 runtimes, judged by the reference implementation.
//!
//! The generators, the oracle, triage and minimisation live here so that `cargo test`, the
//! stable-toolchain driver (`wasi-conform fuzz`) and the cargo-fuzz targets in `fuzz/` all
//! share them; the fuzz targets are thin glue.
//!
//! Generator 1 ([`program`], over the [`alphabet`]) → [`oracle`] (run everywhere,
//! [`normalise`], diff against the reference) → [`triage`] (signatures, the known list) →
//! [`minimise`] → [`write`] (a YAML scenario for `suite/`); [`driver`] is the loop.
//! [`as_data`] runs a program on the in-process runtimes without compiling it (one
//! interpreter module, the program preloaded as data); [`shard`] splits a seeded run over
//! machines and merges their findings.

pub mod alphabet;
pub mod as_data;
pub mod call_rates;
pub mod driver;
pub mod minimise;
pub mod normalise;
pub mod oracle;
pub mod program;
pub mod reach;
pub mod shard;
pub mod smith;
pub mod target;
pub mod triage;
pub mod write;
