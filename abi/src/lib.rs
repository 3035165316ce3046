//! The WASI preview1 ABI (`wasi_snapshot_preview1`) as data.
//!
//! Everything in wasi-conform that needs to know about preview1 — the scenario loader
//! (argument names and symbolic flag names), the compiler (import section, core-wasm
//! lowering), trace decoding (result layouts), the coverage check and, later, the reference
//! implementation and the fuzz generators — reads it from here, never from a hand-kept list:
//!
//! - [`functions`]: the one table of the 46 functions ([`for_each_function!`] and
//!   [`FUNCTIONS`]), with witx parameter and result types;
//! - [`types`]: every enum and flags type of `typenames.witx` (errno, rights, oflags, …),
//!   with witx spellings and values, and the [`Errno`] Rust enum;
//! - [`layout`]: sizes and field offsets of the records the host writes into guest memory.
//!
//! Sources: `wasi_snapshot_preview1.witx` and `typenames.witx` from the `wasi-0.1` branch of
//! WebAssembly/WASI, and the `_Static_assert`-ed wasi-libc header `wasip1.h` for layouts.

pub mod functions;
pub mod layout;
pub mod types;

pub use functions::{
    function, Core, CoreType, CoreValue, Function, Lowered, Param, ParamType, ResultType, Returns, FUNCTIONS,
};
pub use types::{EnumType, Errno, FlagsType, Repr};

/// Import module name of every preview1 function.
pub const MODULE: &str = "wasi_snapshot_preview1";
