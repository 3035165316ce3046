//! The official wasi-testsuite format (WebAssembly/wasi-testsuite) through our adapters:
//! running a directory of its tests on every runtime, the reference included
//! (`wasi-conform run --wasi-testsuite DIR`), and writing our scenarios in its format
//! (`wasi-conform export --wasi-testsuite DIR`).
//!
//! [`format`] reads a test's `.json` and the suite's `manifest.json` as the official runner
//! does; [`load`] turns a directory into test cases for the `Runtime` trait; [`run`] runs
//! and judges them into the same `CaseResult`s as `wasi-conform run`; [`export`] writes
//! self-checking modules with their descriptions.

pub mod export;
pub mod format;
pub mod load;
pub mod run;

pub use run::run_dir;
