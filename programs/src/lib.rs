//! Real preview1 programs as tests.
//!
//! A user's module is [`instrument`]ed — each preview1 import wrapped by a generated
//! [`shim`] that writes a call [`frame`] to fd 2 around the call, recording the raw
//! arguments, the errno and the memory [`regions`] the host read or wrote — and run on the
//! reference and on every runtime like any test case. [`calls`] decodes the frames back
//! into calls; [`compare`] finds the first call where a runtime departs from the
//! reference; [`program`] describes a run (module, directories, argv, env, stdin) and
//! [`diff`] drives it; [`workloads`] loads the committed real-program workloads.

pub mod calls;
pub mod compare;
pub mod diff;
pub mod frame;
pub mod instrument;
pub mod program;
pub mod record;
pub mod regions;
pub mod shim;
pub mod workloads;

pub use instrument::{instrument, InstrumentError, Instrumented};
