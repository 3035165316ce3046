//! The reference implementation of WASI preview1: the oracle that says which runtime is
//! right.
//!
//! It is a *semantics layer* only — no wasm engine. A host binds it to an engine by
//! forwarding each imported call's raw core-wasm arguments and the guest's linear memory to
//! [`Wasi::call`] (the Wasmtime binding is `wasi-conform-runners`' `reference` adapter).
//!
//! - [`preview1`]: the [`Preview1`] trait and its dispatcher, generated from the one table
//!   of the 46 functions (`wasi_conform_abi::for_each_function!`);
//! - [`wasi`]: the 46 functions, in witx order, each citing the witx text it implements;
//! - [`state`]: the state of one run ([`Wasi`]), its sandbox and what it leaves behind;
//! - [`records`]: the records written into guest memory, from `wasi_conform_abi::layout`;
//! - [`fs`]: the in-memory file system (directories, files, symlinks, hard links, inode
//!   numbers, timestamps), seeded from a scenario fixture and exported back as a tree;
//! - [`path`]: path resolution with the preopen sandbox enforced;
//! - [`fdtable`]: descriptors, their rights and offsets;
//! - [`memory`]: guest memory access with the witx pointer rules (bounds, alignment);
//! - [`fault`]: the three ways a call ends besides success — an errno, a trap, an exit.
//!
//! Every choice made where the spec is silent is listed in `reference-impl/README.md`.

pub mod clock;
pub mod fault;
pub mod fdtable;
pub mod fs;
pub mod memory;
pub mod path;
pub mod preview1;
pub mod records;
pub mod state;
pub mod wasi;

pub use fault::{Exit, Fault, Trap};
pub use preview1::{CallResult, Preview1};
pub use state::{Wasi, WasiConfig};
