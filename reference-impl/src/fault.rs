//! How a call ends when it does not succeed: a guest-visible [`Errno`], a [`Trap`] of the
//! instance (bad pointers, per witx-docs), or an [`Exit`] (`proc_exit`). Three different
//! types; [`Fault`] carries any of them through `?`.

use wasi_conform_abi::Errno;

/// The instance must trap: the call's arguments break the ABI (witx-docs: an out-of-bounds
/// or misaligned pointer "must trap").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trap: {0}")]
pub struct Trap(pub String);

/// The program ends with this exit status (`proc_exit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("exit {0}")]
pub struct Exit(pub u32);

/// A call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Errno(Errno),
    Trap(Trap),
    Exit(Exit),
}

impl From<Errno> for Fault {
    fn from(e: Errno) -> Self {
        Fault::Errno(e)
    }
}

impl From<Trap> for Fault {
    fn from(t: Trap) -> Self {
        Fault::Trap(t)
    }
}

impl From<Exit> for Fault {
    fn from(e: Exit) -> Self {
        Fault::Exit(e)
    }
}

/// The result of one preview1 function.
pub type Outcome<T = ()> = Result<T, Fault>;
