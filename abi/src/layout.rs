//! Sizes, alignments and field offsets of the records preview1 hosts write into guest
//! memory (little-endian, C layout; checked against wasi-libc's `wasip1.h`).

/// A record's size and alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub size: u32,
    pub align: u32,
}

/// `iovec` / `ciovec`: `buf` u32 @0, `buf_len` u32 @4.
pub const IOVEC: Shape = Shape { size: 8, align: 4 };
/// `fdstat`: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16.
pub const FDSTAT: Shape = Shape { size: 24, align: 8 };
/// `filestat`: dev @0, ino @8, filetype u8 @16, nlink @24, size @32, atim @40, mtim @48, ctim @56.
pub const FILESTAT: Shape = Shape { size: 64, align: 8 };
/// `prestat`: tag u8 @0, `pr_name_len` u32 @4.
pub const PRESTAT: Shape = Shape { size: 8, align: 4 };
/// `dirent` header: d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20; name follows.
pub const DIRENT: Shape = Shape { size: 24, align: 8 };
/// `subscription`: userdata @0, tag u8 @8, clock {id u32 @16, timeout @24, precision @32,
/// flags u16 @40} or fd_readwrite {fd u32 @16}.
pub const SUBSCRIPTION: Shape = Shape { size: 48, align: 8 };
/// `event`: userdata @0, error u16 @8, type u8 @10, nbytes u64 @16, rwflags u16 @24.
pub const EVENT: Shape = Shape { size: 32, align: 8 };
/// `size` / `fd` / `u32` out-values.
pub const U32: Shape = Shape { size: 4, align: 4 };
/// `filesize` / `timestamp` out-values.
pub const U64: Shape = Shape { size: 8, align: 8 };
/// `roflags` out-value.
pub const U16: Shape = Shape { size: 2, align: 2 };
