//! Enum and flags types of `typenames.witx`, with their witx spellings and values.
//!
//! Names are spelled exactly as in the witx (`2big`, `acces`, `symlink_follow`,
//! `subscription_clock_abstime`) so that a scenario reads like the spec it cites. Each type
//! is also a module of typed constants (`rights::FD_READ`, `whence::CUR`), generated from
//! the same list, for code that uses the values rather than the names.

use crate::functions::str_eq;

/// The integer representation a witx enum or flags type is declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr {
    U8,
    U16,
    U32,
    U64,
}

impl Repr {
    /// The largest value the representation can hold.
    pub fn max(self) -> u64 {
        match self {
            Repr::U8 => u8::MAX as u64,
            Repr::U16 => u16::MAX as u64,
            Repr::U32 => u32::MAX as u64,
            Repr::U64 => u64::MAX,
        }
    }

    /// Whether a value of this representation is passed as a core-wasm `i64` (only `u64`
    /// is); every narrower one is passed as an `i32`.
    pub const fn lowers_to_i64(self) -> bool {
        match self {
            Repr::U64 => true,
            Repr::U8 | Repr::U16 | Repr::U32 => false,
        }
    }
}

/// A witx `enum` type: named values `0..n`.
#[derive(Debug)]
pub struct EnumType {
    /// witx type name, e.g. `whence`.
    pub name: &'static str,
    pub repr: Repr,
    /// Value names in value order (the value is the index).
    pub values: &'static [&'static str],
}

impl EnumType {
    /// The value of a name, if the name belongs to this enum.
    pub fn value(&self, name: &str) -> Option<u64> {
        self.values.iter().position(|v| *v == name).map(|i| i as u64)
    }

    /// The name of a value, if the value is defined.
    pub fn name_of(&self, value: u64) -> Option<&'static str> {
        usize::try_from(value).ok().and_then(|i| self.values.get(i).copied())
    }
}

/// A witx `flags` type: named bits `1 << i`.
#[derive(Debug)]
pub struct FlagsType {
    /// witx type name, e.g. `oflags`.
    pub name: &'static str,
    pub repr: Repr,
    /// Flag names in bit order (flag `i` is `1 << i`).
    pub flags: &'static [&'static str],
}

impl FlagsType {
    /// The bit of a flag name, if the name belongs to this type.
    pub fn bit(&self, name: &str) -> Option<u64> {
        self.flags.iter().position(|f| *f == name).map(|i| 1u64 << i)
    }

    /// All defined bits.
    pub fn all(&self) -> u64 {
        (0..self.flags.len()).fold(0, |acc, i| acc | (1u64 << i))
    }

    /// Names of the set bits, plus the undefined remainder (if any).
    pub fn decode(&self, bits: u64) -> (Vec<&'static str>, u64) {
        let names = (0..self.flags.len()).filter(|i| bits & (1u64 << i) != 0).map(|i| self.flags[i]).collect();
        (names, bits & !self.all())
    }

    /// Human-readable `a|b|0x40` form of a bit set (`0` when empty).
    pub fn describe(&self, bits: u64) -> String {
        let (names, rest) = self.decode(bits);
        let mut parts: Vec<String> = names.into_iter().map(str::to_owned).collect();
        if rest != 0 {
            parts.push(format!("{rest:#x}"));
        }
        if parts.is_empty() {
            "0".to_owned()
        } else {
            parts.join("|")
        }
    }
}

macro_rules! errnos {
    ($($variant:ident = $name:literal,)*) => {
        /// `errno`: `enum(u16)`, the error codes returned by every preview1 function.
        ///
        /// Variant order is value order (`Success = 0` … `Notcapable = 76`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Errno { $($variant,)* }

        impl Errno {
            /// Every errno in value order.
            pub const ALL: &'static [Errno] = &[$(Errno::$variant,)*];

            /// The witx spelling (`2big`, `acces`, `notcapable`).
            pub fn name(self) -> &'static str {
                match self { $(Errno::$variant => $name,)* }
            }
        }

        /// The `errno` type as an [`EnumType`], for symbolic decoding.
        pub static ERRNO: EnumType = EnumType { name: "errno", repr: Repr::U16, values: &[$($name,)*] };
    };
}

errnos! {
    Success = "success", TooBig = "2big", Acces = "acces", Addrinuse = "addrinuse",
    Addrnotavail = "addrnotavail", Afnosupport = "afnosupport", Again = "again",
    Already = "already", Badf = "badf", Badmsg = "badmsg", Busy = "busy",
    Canceled = "canceled", Child = "child", Connaborted = "connaborted",
    Connrefused = "connrefused", Connreset = "connreset", Deadlk = "deadlk",
    Destaddrreq = "destaddrreq", Dom = "dom", Dquot = "dquot", Exist = "exist",
    Fault = "fault", Fbig = "fbig", Hostunreach = "hostunreach", Idrm = "idrm",
    Ilseq = "ilseq", Inprogress = "inprogress", Intr = "intr", Inval = "inval", Io = "io",
    Isconn = "isconn", Isdir = "isdir", Loop = "loop", Mfile = "mfile", Mlink = "mlink",
    Msgsize = "msgsize", Multihop = "multihop", Nametoolong = "nametoolong",
    Netdown = "netdown", Netreset = "netreset", Netunreach = "netunreach", Nfile = "nfile",
    Nobufs = "nobufs", Nodev = "nodev", Noent = "noent", Noexec = "noexec", Nolck = "nolck",
    Nolink = "nolink", Nomem = "nomem", Nomsg = "nomsg", Noprotoopt = "noprotoopt",
    Nospc = "nospc", Nosys = "nosys", Notconn = "notconn", Notdir = "notdir",
    Notempty = "notempty", Notrecoverable = "notrecoverable", Notsock = "notsock",
    Notsup = "notsup", Notty = "notty", Nxio = "nxio", Overflow = "overflow",
    Ownerdead = "ownerdead", Perm = "perm", Pipe = "pipe", Proto = "proto",
    Protonosupport = "protonosupport", Prototype = "prototype", Range = "range",
    Rofs = "rofs", Spipe = "spipe", Srch = "srch", Stale = "stale", Timedout = "timedout",
    Txtbsy = "txtbsy", Xdev = "xdev", Notcapable = "notcapable",
}

impl Errno {
    /// The errno with this raw value, if it is one of the 77 defined values.
    pub fn from_raw(raw: u32) -> Option<Errno> {
        usize::try_from(raw).ok().and_then(|i| Errno::ALL.get(i).copied())
    }

    /// The errno with this witx name.
    pub fn from_name(name: &str) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| e.name() == name)
    }

    /// The raw ABI value.
    pub fn raw(self) -> u16 {
        self as u16
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Defines the enum and flags types of `typenames.witx` from one list: each entry becomes
/// the [`EnumType`]/[`FlagsType`] static that describes the type as data (names for the
/// loader and for decoding) *and* a module of typed constants named after the witx type
/// (`rights::FD_READ: u64`, `whence::CUR: u8`), for code that uses the values directly.
/// A constant's value is its position in the list (`1 << i` for flags, and `ALL` their
/// union), so the two cannot disagree; a test checks that each constant is its witx name
/// in upper case.
macro_rules! witx_types {
    ($( $(#[$doc:meta])* $STATIC:ident : $kind:ident($repr:ident) in $m:ident { $($C:ident = $name:literal,)* } )*) => {
        $(
            $(#[$doc])*
            pub static $STATIC: $kind = witx_type!(@data $kind, stringify!($m), repr!($repr), $m::NAMES);

            #[doc = concat!("[`", stringify!($STATIC), "`] (`", stringify!($m), "`) as typed constants.")]
            pub mod $m {
                /// The witx names, in value (or bit) order.
                pub(super) const NAMES: &[&str] = &[$($name,)*];

                $(
                    #[doc = concat!("`", stringify!($m), "::", $name, "`.")]
                    pub const $C: $repr = witx_type!(@value $kind, $repr, super::position(NAMES, $name));
                )*

                witx_type!(@all $kind, $repr, $($C)*);

                /// (constant, witx name) pairs, for the spelling test.
                #[cfg(test)]
                pub(super) const SPELLINGS: &[(&str, &str)] = &[$((stringify!($C), $name),)*];
            }
        )*

        /// Every (constant, witx name) pair of every type.
        #[cfg(test)]
        const SPELLINGS: &[&[(&str, &str)]] = &[$($m::SPELLINGS,)*];
    };
}

/// The position of `name` in `names`, at compile time.
const fn position(names: &[&str], name: &str) -> u32 {
    let mut i = 0;
    while i < names.len() {
        if str_eq(names[i], name) {
            return i as u32;
        }
        i += 1;
    }
    panic!("a name missing from its own list")
}

macro_rules! witx_type {
    (@data EnumType, $name:expr, $repr:expr, $names:expr) => {
        EnumType { name: $name, repr: $repr, values: $names }
    };
    (@data FlagsType, $name:expr, $repr:expr, $names:expr) => {
        FlagsType { name: $name, repr: $repr, flags: $names }
    };
    (@value EnumType, $repr:ident, $index:expr) => {
        $index as $repr
    };
    (@value FlagsType, $repr:ident, $index:expr) => {
        1 << $index
    };
    (@all EnumType, $repr:ident, $($C:ident)*) => {};
    (@all FlagsType, $repr:ident, $($C:ident)*) => {
        /// Every defined flag.
        pub const ALL: $repr = 0 $(| $C)*;
    };
}

macro_rules! repr {
    (u8) => {
        Repr::U8
    };
    (u16) => {
        Repr::U16
    };
    (u32) => {
        Repr::U32
    };
    (u64) => {
        Repr::U64
    };
}

witx_types! {
    /// `rights`: `flags(u64)`, file descriptor rights.
    RIGHTS: FlagsType(u64) in rights {
        FD_DATASYNC = "fd_datasync",
        FD_READ = "fd_read",
        FD_SEEK = "fd_seek",
        FD_FDSTAT_SET_FLAGS = "fd_fdstat_set_flags",
        FD_SYNC = "fd_sync",
        FD_TELL = "fd_tell",
        FD_WRITE = "fd_write",
        FD_ADVISE = "fd_advise",
        FD_ALLOCATE = "fd_allocate",
        PATH_CREATE_DIRECTORY = "path_create_directory",
        PATH_CREATE_FILE = "path_create_file",
        PATH_LINK_SOURCE = "path_link_source",
        PATH_LINK_TARGET = "path_link_target",
        PATH_OPEN = "path_open",
        FD_READDIR = "fd_readdir",
        PATH_READLINK = "path_readlink",
        PATH_RENAME_SOURCE = "path_rename_source",
        PATH_RENAME_TARGET = "path_rename_target",
        PATH_FILESTAT_GET = "path_filestat_get",
        PATH_FILESTAT_SET_SIZE = "path_filestat_set_size",
        PATH_FILESTAT_SET_TIMES = "path_filestat_set_times",
        FD_FILESTAT_GET = "fd_filestat_get",
        FD_FILESTAT_SET_SIZE = "fd_filestat_set_size",
        FD_FILESTAT_SET_TIMES = "fd_filestat_set_times",
        PATH_SYMLINK = "path_symlink",
        PATH_REMOVE_DIRECTORY = "path_remove_directory",
        PATH_UNLINK_FILE = "path_unlink_file",
        POLL_FD_READWRITE = "poll_fd_readwrite",
        SOCK_SHUTDOWN = "sock_shutdown",
        SOCK_ACCEPT = "sock_accept",
    }
    /// `clockid`: `enum(u32)`.
    CLOCKID: EnumType(u32) in clockid {
        REALTIME = "realtime",
        MONOTONIC = "monotonic",
        PROCESS_CPUTIME_ID = "process_cputime_id",
        THREAD_CPUTIME_ID = "thread_cputime_id",
    }
    /// `whence`: `enum(u8)` (preview1 order: set, cur, end).
    WHENCE: EnumType(u8) in whence {
        SET = "set",
        CUR = "cur",
        END = "end",
    }
    /// `filetype`: `enum(u8)`.
    FILETYPE: EnumType(u8) in filetype {
        UNKNOWN = "unknown",
        BLOCK_DEVICE = "block_device",
        CHARACTER_DEVICE = "character_device",
        DIRECTORY = "directory",
        REGULAR_FILE = "regular_file",
        SOCKET_DGRAM = "socket_dgram",
        SOCKET_STREAM = "socket_stream",
        SYMBOLIC_LINK = "symbolic_link",
    }
    /// `advice`: `enum(u8)`.
    ADVICE: EnumType(u8) in advice {
        NORMAL = "normal",
        SEQUENTIAL = "sequential",
        RANDOM = "random",
        WILLNEED = "willneed",
        DONTNEED = "dontneed",
        NOREUSE = "noreuse",
    }
    /// `fdflags`: `flags(u16)`.
    FDFLAGS: FlagsType(u16) in fdflags {
        APPEND = "append",
        DSYNC = "dsync",
        NONBLOCK = "nonblock",
        RSYNC = "rsync",
        SYNC = "sync",
    }
    /// `fstflags`: `flags(u16)`.
    FSTFLAGS: FlagsType(u16) in fstflags {
        ATIM = "atim",
        ATIM_NOW = "atim_now",
        MTIM = "mtim",
        MTIM_NOW = "mtim_now",
    }
    /// `lookupflags`: `flags(u32)`.
    LOOKUPFLAGS: FlagsType(u32) in lookupflags {
        SYMLINK_FOLLOW = "symlink_follow",
    }
    /// `oflags`: `flags(u16)`.
    OFLAGS: FlagsType(u16) in oflags {
        CREAT = "creat",
        DIRECTORY = "directory",
        EXCL = "excl",
        TRUNC = "trunc",
    }
    /// `eventtype`: `enum(u8)`.
    EVENTTYPE: EnumType(u8) in eventtype {
        CLOCK = "clock",
        FD_READ = "fd_read",
        FD_WRITE = "fd_write",
    }
    /// `eventrwflags`: `flags(u16)`.
    EVENTRWFLAGS: FlagsType(u16) in eventrwflags {
        FD_READWRITE_HANGUP = "fd_readwrite_hangup",
    }
    /// `subclockflags`: `flags(u16)`.
    SUBCLOCKFLAGS: FlagsType(u16) in subclockflags {
        SUBSCRIPTION_CLOCK_ABSTIME = "subscription_clock_abstime",
    }
    /// `riflags`: `flags(u16)`.
    RIFLAGS: FlagsType(u16) in riflags {
        RECV_PEEK = "recv_peek",
        RECV_WAITALL = "recv_waitall",
    }
    /// `roflags`: `flags(u16)`.
    ROFLAGS: FlagsType(u16) in roflags {
        RECV_DATA_TRUNCATED = "recv_data_truncated",
    }
    /// `siflags`: a plain `u16` with no flags defined.
    SIFLAGS: FlagsType(u16) in siflags {}
    /// `sdflags`: `flags(u8)`.
    SDFLAGS: FlagsType(u8) in sdflags {
        RD = "rd",
        WR = "wr",
    }
    /// `preopentype`: `enum(u8)`.
    PREOPENTYPE: EnumType(u8) in preopentype {
        DIR = "dir",
    }
    /// `signal`: `enum(u8)`.
    SIGNAL: EnumType(u8) in signal {
        NONE = "none",
        HUP = "hup",
        INT = "int",
        QUIT = "quit",
        ILL = "ill",
        TRAP = "trap",
        ABRT = "abrt",
        BUS = "bus",
        FPE = "fpe",
        KILL = "kill",
        USR1 = "usr1",
        SEGV = "segv",
        USR2 = "usr2",
        PIPE = "pipe",
        ALRM = "alrm",
        TERM = "term",
        CHLD = "chld",
        CONT = "cont",
        STOP = "stop",
        TSTP = "tstp",
        TTIN = "ttin",
        TTOU = "ttou",
        URG = "urg",
        XCPU = "xcpu",
        XFSZ = "xfsz",
        VTALRM = "vtalrm",
        PROF = "prof",
        WINCH = "winch",
        POLL = "poll",
        PWR = "pwr",
        SYS = "sys",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_values_match_witx_order() {
        assert_eq!(Errno::ALL.len(), 77);
        assert_eq!(Errno::Badf.raw(), 8);
        assert_eq!(Errno::Inval.raw(), 28);
        assert_eq!(Errno::Noent.raw(), 44);
        assert_eq!(Errno::Perm.raw(), 63);
        assert_eq!(Errno::Notcapable.raw(), 76);
        assert_eq!(Errno::from_name("2big"), Some(Errno::TooBig));
        assert_eq!(Errno::from_raw(77), None);
    }

    #[test]
    fn each_constant_is_its_witx_name_in_upper_case() {
        let pairs: Vec<_> = SPELLINGS.iter().flat_map(|t| t.iter()).collect();
        assert_eq!(pairs.len(), 30 + 4 + 3 + 8 + 6 + 5 + 4 + 1 + 4 + 3 + 1 + 1 + 2 + 1 + 2 + 1 + 31);
        for (constant, name) in pairs {
            assert_eq!(*constant, name.to_uppercase());
        }
    }

    #[test]
    fn constants_are_the_values_of_the_data() {
        assert_eq!(rights::FD_READ, RIGHTS.bit("fd_read").unwrap());
        assert_eq!(rights::SOCK_ACCEPT, 0x2000_0000);
        assert_eq!(u64::from(fdflags::APPEND), FDFLAGS.bit("append").unwrap());
        assert_eq!(u64::from(oflags::TRUNC), 8);
        assert_eq!(u64::from(whence::END), WHENCE.value("end").unwrap());
        assert_eq!(filetype::SYMBOLIC_LINK, 7);
        assert_eq!(signal::SYS, 30);
        assert_eq!(SIFLAGS.flags, &[] as &[&str]);
        assert_eq!((rights::ALL, siflags::ALL), (RIGHTS.all(), 0));
    }

    #[test]
    fn flag_masks_match_the_abi_reference() {
        assert_eq!(RIGHTS.all(), 0x3FFF_FFFF);
        assert_eq!(FDFLAGS.all(), 0x1F);
        assert_eq!(OFLAGS.bit("trunc"), Some(8));
        assert_eq!(RIGHTS.bit("sock_accept"), Some(0x2000_0000));
        assert_eq!(RIGHTS.describe(0x42 | 1 << 40), "fd_read|fd_write|0x10000000000");
    }
}
