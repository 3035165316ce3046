//! The call frame: what an instrumented module writes to fd 2 around every preview1 call,
//! in the envelope of the suite's trace frames ([`wasi_conform_case::frames`], magic
//! [`CALL_MAGIC`]) so that any runtime — in-process, JS or command line — carries it on
//! the stream it already captures.
//!
//! The shim builds the fixed part of a frame in a *borrowed* scratch area at the bottom of
//! guest memory, `[0, SCRATCH)`: it saves those bytes into globals first and puts them back
//! before the program runs again, so the program never sees them change.
//!
//! ```text
//! 0    magic "\0WCTCAL\0", seq u32, payload length u32      (the envelope's header)
//! 16   function index u32 (witx order), phase u32 (ENTERED / RETURNED),
//!      errno u32 (u32::MAX before the call), regions u32
//! 32   the call's core arguments, one u64 each (i32 zero-extended), MAX_ARGS slots
//! 128  the region table: MAX_REGIONS × (guest address u32, recorded length u32)
//! 192  (payload continues with each region's bytes, in table order, then the trailer)
//! ```

pub use wasi_conform_case::frames::{CALL_MAGIC, FRAME_END};

/// Bytes of the envelope's header.
pub const HEADER: u32 = 16;
/// Offsets of the record fields.
pub const FUNCTION: u32 = 16;
pub const PHASE: u32 = 20;
pub const ERRNO: u32 = 24;
pub const NREGIONS: u32 = 28;
/// Where the arguments start, and how many slots there are.
pub const ARGS: u32 = 32;
pub const MAX_ARGS: u32 = 12;
/// Where the region table starts, and how many entries it has.
pub const TABLE: u32 = ARGS + 8 * MAX_ARGS;
pub const MAX_REGIONS: u32 = 8;
/// End of the fixed part: the payload's fixed length is `FIXED - HEADER`.
pub const FIXED: u32 = TABLE + 8 * MAX_REGIONS;
/// The shim's own areas: the ciovecs it hands `fd_write`, the trailer, one ciovec for a
/// partial write, the `nwritten` slot.
pub const CIOVECS: u32 = FIXED;
pub const TRAILER: u32 = CIOVECS + 8 * (MAX_REGIONS + 2);
pub const PARTIAL: u32 = TRAILER + 8;
pub const NWRITTEN: u32 = PARTIAL + 8;
/// Bytes borrowed at the bottom of guest memory (a multiple of 8: saved as `i64`s).
pub const SCRATCH: u32 = (NWRITTEN + 4 + 7) & !7;

/// Phase of a frame written before the call.
pub const ENTERED: u32 = 0;
/// Phase of a frame written after it returned.
pub const RETURNED: u32 = 1;
/// The errno field of an `ENTERED` frame.
pub const NO_ERRNO: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_fits_the_frame() {
        for f in wasi_conform_abi::FUNCTIONS {
            assert!(f.core_params().len() <= MAX_ARGS as usize, "{}", f.name);
        }
        assert!(crate::regions::max_regions() <= MAX_REGIONS as usize);
        assert_eq!(SCRATCH % 8, 0);
    }
}
