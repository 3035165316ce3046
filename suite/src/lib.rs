//! The wasi-conform suite: the scenario language and everything that turns a scenario into
//! a verdict, except running it (that is `wasi-conform-runners`).
//!
//! Data flow: [`load`] (YAML → [`scenario::Scenario`]) → [`compile`] (scenario → wasm
//! [`case::TestCase`]) → a runtime runs it into an [`outcome::Outcome`] → [`observe`] reads
//! what each step returned and wrote (through [`trace`]) → [`verdict`] checks it against the
//! scenario and [`expectations`] (the known failures of each runtime). [`save`] writes a
//! scenario back as YAML (the fuzzer's findings, the [`denial`] matrix).

pub mod case;
pub mod compile;
pub mod denial;
pub mod describe;
pub mod discover;
pub mod divergences;
pub mod expectations;
pub mod load;
pub mod observe;
pub mod outcome;
pub mod records;
pub mod save;
pub mod scenario;
pub mod strength;
pub mod trace;
pub mod verdict;
pub mod views;
