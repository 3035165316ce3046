//! `wasi-conform-case`: the types and contracts every part of wasi-conform exchanges, and
//! nothing else — no scenario language, no compiler, no runtime.
//!
//! - [`fixture`]: the file trees, preopens, argv, env and stdin a guest starts with;
//! - [`test_case`]: what a runtime adapter is given ([`test_case::TestCase`]) and its limits;
//! - [`outcome`]: what an adapter reports back ([`outcome::Outcome`]);
//! - [`sandbox`]: the run directory's layout and its canaries, the ground truth of the
//!   escape check, shared by the host sandbox, the reference's model and the exports;
//! - [`frames`]: the frame format a module uses to send its trace over stderr;
//! - [`preload`]: bytes an adapter writes into guest memory before `_start`.
//!
//! The dependency order is `abi ← case ← {suite, reference} ← runners ← differential ←
//! CLI`: the reference and the adapters build on this crate, never on the scenario language.

pub mod fixture;
pub mod frames;
pub mod outcome;
pub mod preload;
pub mod sandbox;
pub mod test_case;
