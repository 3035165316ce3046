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

/// Defines field lists from one table: each entry becomes the `&[Field]` list (for code
/// that walks a record by name) *and* a module of the same fields as typed constants
/// (`filestat::INO`), for code that writes or reads one field. A test checks that each
/// constant is its field name in upper case and that every field fits its record.
macro_rules! records {
    ($( $(#[$doc:meta])* $LIST:ident in $m:ident { $($C:ident = ($name:literal, $offset:literal, $size:literal),)* } )*) => {
        $(
            $(#[$doc])*
            pub const $LIST: &[Field] = &[$($m::$C,)*];

            #[doc = concat!("[`", stringify!($LIST), "`] as typed constants: (name, offset, size).")]
            pub mod $m {
                use super::Field;
                $(
                    #[doc = concat!("`", $name, "`: ", $size, " bytes at offset ", $offset, ".")]
                    pub const $C: Field = ($name, $offset, $size);
                )*

                /// (constant, field name) pairs, for the spelling test.
                #[cfg(test)]
                pub(super) const SPELLINGS: &[(&str, &str)] = &[$((stringify!($C), $name),)*];
            }
        )*

        /// Every (constant, field name) pair of every record.
        #[cfg(test)]
        const SPELLINGS: &[&[(&str, &str)]] = &[$($m::SPELLINGS,)*];
    };
}

records! {
    /// `iovec` / `ciovec` fields.
    IOVEC_FIELDS in iovec {
        BUF = ("buf", 0, 4),
        BUF_LEN = ("buf_len", 4, 4),
    }
    /// `fdstat` fields.
    FDSTAT_FIELDS in fdstat {
        FILETYPE = ("filetype", 0, 1),
        FLAGS = ("flags", 2, 2),
        RIGHTS_BASE = ("rights_base", 8, 8),
        RIGHTS_INHERITING = ("rights_inheriting", 16, 8),
    }
    /// `filestat` fields.
    FILESTAT_FIELDS in filestat {
        DEV = ("dev", 0, 8),
        INO = ("ino", 8, 8),
        FILETYPE = ("filetype", 16, 1),
        NLINK = ("nlink", 24, 8),
        SIZE = ("size", 32, 8),
        ATIM = ("atim", 40, 8),
        MTIM = ("mtim", 48, 8),
        CTIM = ("ctim", 56, 8),
    }
    /// `prestat` fields (the `dir` arm).
    PRESTAT_FIELDS in prestat {
        TAG = ("tag", 0, 1),
        NAME_LEN = ("name_len", 4, 4),
    }
    /// `dirent` header fields.
    DIRENT_FIELDS in dirent {
        NEXT = ("next", 0, 8),
        INO = ("ino", 8, 8),
        NAMLEN = ("namlen", 16, 4),
        TYPE = ("type", 20, 1),
    }
    /// `subscription` fields before the union: `userdata` and the `eventtype` tag.
    SUBSCRIPTION_FIELDS in subscription {
        USERDATA = ("userdata", 0, 8),
        TAG = ("tag", 8, 1),
    }
    /// `subscription` fields of the `clock` arm (`subscription_clock`).
    SUBSCRIPTION_CLOCK_FIELDS in subscription_clock {
        ID = ("id", 16, 4),
        TIMEOUT = ("timeout", 24, 8),
        PRECISION = ("precision", 32, 8),
        FLAGS = ("flags", 40, 2),
    }
    /// `subscription` fields of the `fd_read` / `fd_write` arms (`subscription_fd_readwrite`).
    SUBSCRIPTION_FD_READWRITE_FIELDS in subscription_fd_readwrite {
        FILE_DESCRIPTOR = ("file_descriptor", 16, 4),
    }
    /// `event` fields; `nbytes` and `flags` are its `event_fd_readwrite`.
    EVENT_FIELDS in event {
        USERDATA = ("userdata", 0, 8),
        ERROR = ("error", 8, 2),
        TYPE = ("type", 10, 1),
        NBYTES = ("nbytes", 16, 8),
        FLAGS = ("flags", 24, 2),
    }
}

/// A field of a field list by name.
pub fn field(fields: &[Field], name: &str) -> Option<Field> {
    fields.iter().copied().find(|f| f.0 == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_constant_is_its_field_name_in_upper_case() {
        for (constant, name) in SPELLINGS.iter().flat_map(|r| r.iter()) {
            assert_eq!(*constant, name.to_uppercase());
        }
    }

    #[test]
    fn every_field_is_aligned_and_fits_its_record() {
        let records = [
            (IOVEC_FIELDS, IOVEC),
            (FDSTAT_FIELDS, FDSTAT),
            (FILESTAT_FIELDS, FILESTAT),
            (PRESTAT_FIELDS, PRESTAT),
            (DIRENT_FIELDS, DIRENT),
            (SUBSCRIPTION_FIELDS, SUBSCRIPTION),
            (SUBSCRIPTION_CLOCK_FIELDS, SUBSCRIPTION),
            (SUBSCRIPTION_FD_READWRITE_FIELDS, SUBSCRIPTION),
            (EVENT_FIELDS, EVENT),
        ];
        for (fields, shape) in records {
            for (name, offset, size) in fields {
                assert!([1, 2, 4, 8].contains(size), "{name}");
                assert_eq!(offset % size, 0, "{name} is aligned");
                assert!(offset + size <= shape.size, "{name} fits");
                assert!(*size <= shape.align, "{name}: the record is aligned for it");
            }
        }
        assert_eq!(field(FILESTAT_FIELDS, "ctim"), Some(filestat::CTIM));
    }
}
