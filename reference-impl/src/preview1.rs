//! The reference's binding to the one table of the 46 functions, generated from
//! `wasi_conform_abi::for_each_function!`: the [`Preview1`] trait (one method per function,
//! in witx order) and [`dispatch`], which turns one imported call's raw core-wasm arguments
//! into a call of the right method.
//!
//! A method takes the guest memory and then the function's *core-lowered* parameters, named
//! from the table, as the raw values the import receives: an `i32` as `u32`, an `i64` as
//! `u64` (`i64` for a `filedelta`), an enum or flags type as what its representation lowers
//! to ([`wasi_conform_abi::Lowered`]). A `string`, an iovec array or a buffer is two
//! parameters, its pointer (named) and its length (`_`); then one `u32` out-pointer per
//! success value, named after it. Decoding into witx types is left to the implementation,
//! which decides the order of its checks from the raw values (`wasi.rs` module docs).
//!
//! Because both the trait and the dispatcher come from the table, a function missing from
//! the implementation, one the table does not have, or a parameter of the wrong type does
//! not compile. The implementation is [`Wasi`](crate::Wasi), in `wasi.rs`.

// The methods take their core parameters one by one, as the ABI passes them.
#![allow(clippy::too_many_arguments)]

use wasi_conform_abi::{for_each_function, Errno, Function};

use crate::fault::{Exit, Fault, Outcome, Trap};
use crate::memory::Memory;

/// How a call ended, for the engine binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// The function returned this errno (`success` included).
    Return(Errno),
    /// `proc_exit` does not return.
    Exit(Exit),
    Trap(Trap),
}

impl From<Outcome> for CallResult {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Ok(()) => CallResult::Return(Errno::Success),
            Err(Fault::Errno(e)) => CallResult::Return(e),
            Err(Fault::Exit(e)) => CallResult::Exit(e),
            Err(Fault::Trap(t)) => CallResult::Trap(t),
        }
    }
}

impl From<Exit> for CallResult {
    fn from(exit: Exit) -> Self {
        CallResult::Exit(exit)
    }
}

/// The raw core-wasm arguments of one call (`i32`s zero-extended, `i64`s as bits), taken
/// in order.
struct Args<'a>(std::slice::Iter<'a, u64>);

impl Args<'_> {
    /// The next argument, as the type of the method parameter it is passed to.
    fn take<T: FromCore>(&mut self) -> T {
        T::from_core(*self.0.next().expect("as many arguments as the function's core parameters"))
    }
}

/// A Rust parameter type that a raw core-wasm argument converts to.
trait FromCore {
    fn from_core(bits: u64) -> Self;
}

impl FromCore for u32 {
    /// An `i32`, zero-extended by the binding.
    fn from_core(bits: u64) -> u32 {
        bits as u32
    }
}

impl FromCore for u64 {
    fn from_core(bits: u64) -> u64 {
        bits
    }
}

impl FromCore for i64 {
    /// A signed `i64` (`filedelta`).
    fn from_core(bits: u64) -> i64 {
        bits as i64
    }
}

/// Lowers a function's table entry, one semantic parameter at a time, into the core
/// parameters of its method (`sig`) and the matching arguments of its call (`call`, one
/// `args.take()` per core parameter); then emits the method declaration or the call.
macro_rules! lower {
    // An enum or flags type: one core parameter, `u32` or `u64` as its representation lowers.
    (@lower $k:tt $args:ident [$p:ident : $pt:ident($t:ident), $($rest:tt)*] $sig:tt $call:tt) => {
        lower! {@one wasi_conform_abi::Lowered<{ wasi_conform_abi::types::$t.repr.lowers_to_i64() }>,
            $k $args $p [$($rest)*] $sig $call}
    };
    // Any other type: as `@kind` says.
    (@lower $k:tt $args:ident [$p:ident : $pt:ident, $($rest:tt)*] $sig:tt $call:tt) => {
        lower! {@kind $pt $k $args $p [$($rest)*] $sig $call}
    };

    // How each table type lowers: one core parameter of a Rust type, or a pointer and a
    // length. `Out` is the out-pointer of a success value.
    (@kind Fd $($x:tt)*) => { lower! {@one u32, $($x)*} };
    (@kind U32 $($x:tt)*) => { lower! {@one u32, $($x)*} };
    (@kind U64 $($x:tt)*) => { lower! {@one u64, $($x)*} };
    (@kind S64 $($x:tt)*) => { lower! {@one i64, $($x)*} };
    (@kind Region $($x:tt)*) => { lower! {@one u32, $($x)*} };
    (@kind Subscriptions $($x:tt)*) => { lower! {@one u32, $($x)*} };
    (@kind Events $($x:tt)*) => { lower! {@one u32, $($x)*} };
    (@kind Out $($x:tt)*) => { lower! {@one u32, $($x)*} };
    (@kind Str $($x:tt)*) => { lower! {@pair $($x)*} };
    (@kind Ciovecs $($x:tt)*) => { lower! {@pair $($x)*} };
    (@kind Iovecs $($x:tt)*) => { lower! {@pair $($x)*} };
    (@kind Buffer $($x:tt)*) => { lower! {@pair $($x)*} };

    (@one $ty:ty, $k:tt $args:ident $p:ident $rest:tt [$($sig:tt)*] [$($call:tt)*]) => {
        lower! {@lower $k $args $rest [$($sig)* $p: $ty,] [$($call)* $args.take(),]}
    };
    (@pair $k:tt $args:ident $p:ident $rest:tt [$($sig:tt)*] [$($call:tt)*]) => {
        lower! {@lower $k $args $rest [$($sig)* $p: u32, _: u32,] [$($call)* $args.take(), $args.take(),]}
    };

    // The end: the method declaration, or the call.
    (@lower (method $name:ident $ret:ident $doc:expr) $args:ident [] [$($sig:tt)*] [$($call:tt)*]) => {
        #[doc = $doc]
        fn $name(&mut self, mem: &mut Memory, $($sig)*) -> lower!(@returns $ret);
    };
    (@lower (call $w:ident $name:ident $mem:ident) $args:ident [] [$($sig:tt)*] [$($call:tt)*]) => {
        CallResult::from($w.$name($mem, $($call)*))
    };

    (@returns errno) => { Outcome };
    (@returns never) => { Exit };
}

macro_rules! define_preview1 {
    ($( $name:ident ( $( $p:ident : $pt:ident $( ($pa:ident) )? ),* ) -> $ret:ident [ $( $r:ident : $rt:ident ),* ] ; )*) => {
        /// The 46 preview1 functions, in witx order, with their core-lowered parameters
        /// (module docs). Generated from `wasi_conform_abi::for_each_function!`.
        pub trait Preview1 {
            $(
                lower! {@lower (method $name $ret concat!(
                    "`", stringify!($name), "(", $(stringify!($p: $pt $( ($pa) )?), ", ",)*
                    ") -> ", stringify!($ret), " [", $(stringify!($r: $rt), ", ",)* "]`"
                )) args [$( $p : $pt $( ($pa) )?, )* $( $r : Out, )*] [] []}
            )*
        }

        /// Performs one imported call on `w`: `args` are the raw core-wasm arguments (`i32`s
        /// zero-extended, `i64`s as bits), in the order of `f.core_params()`. A name that is
        /// not in the table traps.
        pub fn dispatch(w: &mut impl Preview1, f: &Function, args: &[u64], mem: &mut Memory) -> CallResult {
            let mut args = Args(args.iter());
            let end = match f.name {
                $(
                    stringify!($name) => lower! {@lower (call w $name mem) args
                        [$( $p : $pt $( ($pa) )?, )* $( $r : Out, )*] [] []},
                )*
                other => return CallResult::Trap(Trap(format!("`{other}` is not a preview1 function"))),
            };
            debug_assert!(args.0.as_slice().is_empty(), "`{}` takes all its core arguments", f.name);
            end
        }
    };
}

for_each_function!(define_preview1);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Wasi, WasiConfig};

    /// The dispatcher reaches every function of the table with exactly its core arguments
    /// (it takes one per core parameter, and checks that none is left), and traps on a
    /// name the table does not have.
    #[test]
    fn every_function_of_the_table_is_dispatched() {
        for f in wasi_conform_abi::FUNCTIONS {
            let mut mem = vec![0u8; 256];
            let args = vec![0; f.core_params().len()];
            let end = Wasi::new(WasiConfig::default()).call(f, &args, &mut Memory::new(&mut mem));
            assert!(!matches!(&end, CallResult::Trap(t) if t.0.contains("not a preview1")), "{}: {end:?}", f.name);
        }
        let unknown = wasi_conform_abi::Function { name: "fd_dup", ..*wasi_conform_abi::function("fd_close").unwrap() };
        let end = Wasi::new(WasiConfig::default()).call(&unknown, &[3], &mut Memory::new(&mut []));
        assert_eq!(end, CallResult::Trap(Trap("`fd_dup` is not a preview1 function".into())));
    }
}
