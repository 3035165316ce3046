//! The wasi-conform suite: the scenario language and everything that turns a scenario into
//! a verdict, except running it (that is `wasi-conform-runners`).
//!
//! Data flow: [`load`] (YAML → [`scenario::Scenario`]) → [`compile`] (scenario → wasm
//! [`case::TestCase`]) → a runtime runs it into an [`outcome::Outcome`] → [`trace`] decodes
//! what each step returned → [`verdict`] checks it against the scenario and
//! [`expectations`] (the known failures of each runtime).

pub mod case;
pub mod compile;
pub mod denial;
pub mod discover;
pub mod expectations;
pub mod load;
pub mod outcome;
pub mod scenario;
pub mod strength;
pub mod trace;
pub mod verdict;
pub mod views;
