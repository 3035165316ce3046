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

/// A field of a record: name, byte offset, size in bytes.
pub type Field = (&'static str, u32, u32);

/// `fdstat` fields.
pub const FDSTAT_FIELDS: &[Field] =
    &[("filetype", 0, 1), ("flags", 2, 2), ("rights_base", 8, 8), ("rights_inheriting", 16, 8)];
/// `filestat` fields.
pub const FILESTAT_FIELDS: &[Field] = &[
    ("dev", 0, 8),
    ("ino", 8, 8),
    ("filetype", 16, 1),
    ("nlink", 24, 8),
    ("size", 32, 8),
    ("atim", 40, 8),
    ("mtim", 48, 8),
    ("ctim", 56, 8),
];
/// `prestat` fields (the `dir` arm).
pub const PRESTAT_FIELDS: &[Field] = &[("tag", 0, 1), ("name_len", 4, 4)];
/// `dirent` header fields.
pub const DIRENT_FIELDS: &[Field] = &[("next", 0, 8), ("ino", 8, 8), ("namlen", 16, 4), ("type", 20, 1)];

/// A field of a field list by name.
pub fn field(fields: &[Field], name: &str) -> Option<Field> {
    fields.iter().copied().find(|f| f.0 == name)
}
