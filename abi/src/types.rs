//! Enum and flags types of `typenames.witx`, with their witx spellings and values.
//!
//! Names are spelled exactly as in the witx (`2big`, `acces`, `symlink_follow`,
//! `subscription_clock_abstime`) so that a scenario reads like the spec it cites.

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

/// `rights`: `flags(u64)`, file descriptor rights.
pub static RIGHTS: FlagsType = FlagsType {
    name: "rights",
    repr: Repr::U64,
    flags: &[
        "fd_datasync",
        "fd_read",
        "fd_seek",
        "fd_fdstat_set_flags",
        "fd_sync",
        "fd_tell",
        "fd_write",
        "fd_advise",
        "fd_allocate",
        "path_create_directory",
        "path_create_file",
        "path_link_source",
        "path_link_target",
        "path_open",
        "fd_readdir",
        "path_readlink",
        "path_rename_source",
        "path_rename_target",
        "path_filestat_get",
        "path_filestat_set_size",
        "path_filestat_set_times",
        "fd_filestat_get",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "path_symlink",
        "path_remove_directory",
        "path_unlink_file",
        "poll_fd_readwrite",
        "sock_shutdown",
        "sock_accept",
    ],
};

/// `clockid`: `enum(u32)`.
pub static CLOCKID: EnumType = EnumType {
    name: "clockid",
    repr: Repr::U32,
    values: &["realtime", "monotonic", "process_cputime_id", "thread_cputime_id"],
};

/// `whence`: `enum(u8)` (preview1 order: set, cur, end).
pub static WHENCE: EnumType = EnumType { name: "whence", repr: Repr::U8, values: &["set", "cur", "end"] };

/// `filetype`: `enum(u8)`.
pub static FILETYPE: EnumType = EnumType {
    name: "filetype",
    repr: Repr::U8,
    values: &[
        "unknown",
        "block_device",
        "character_device",
        "directory",
        "regular_file",
        "socket_dgram",
        "socket_stream",
        "symbolic_link",
    ],
};

/// `advice`: `enum(u8)`.
pub static ADVICE: EnumType = EnumType {
    name: "advice",
    repr: Repr::U8,
    values: &["normal", "sequential", "random", "willneed", "dontneed", "noreuse"],
};

/// `fdflags`: `flags(u16)`.
pub static FDFLAGS: FlagsType =
    FlagsType { name: "fdflags", repr: Repr::U16, flags: &["append", "dsync", "nonblock", "rsync", "sync"] };

/// `fstflags`: `flags(u16)`.
pub static FSTFLAGS: FlagsType =
    FlagsType { name: "fstflags", repr: Repr::U16, flags: &["atim", "atim_now", "mtim", "mtim_now"] };

/// `lookupflags`: `flags(u32)`.
pub static LOOKUPFLAGS: FlagsType = FlagsType { name: "lookupflags", repr: Repr::U32, flags: &["symlink_follow"] };

/// `oflags`: `flags(u16)`.
pub static OFLAGS: FlagsType =
    FlagsType { name: "oflags", repr: Repr::U16, flags: &["creat", "directory", "excl", "trunc"] };

/// `eventtype`: `enum(u8)`.
pub static EVENTTYPE: EnumType =
    EnumType { name: "eventtype", repr: Repr::U8, values: &["clock", "fd_read", "fd_write"] };

/// `eventrwflags`: `flags(u16)`.
pub static EVENTRWFLAGS: FlagsType =
    FlagsType { name: "eventrwflags", repr: Repr::U16, flags: &["fd_readwrite_hangup"] };

/// `subclockflags`: `flags(u16)`.
pub static SUBCLOCKFLAGS: FlagsType =
    FlagsType { name: "subclockflags", repr: Repr::U16, flags: &["subscription_clock_abstime"] };

/// `riflags`: `flags(u16)`.
pub static RIFLAGS: FlagsType = FlagsType { name: "riflags", repr: Repr::U16, flags: &["recv_peek", "recv_waitall"] };

/// `roflags`: `flags(u16)`.
pub static ROFLAGS: FlagsType = FlagsType { name: "roflags", repr: Repr::U16, flags: &["recv_data_truncated"] };

/// `siflags`: a plain `u16` with no flags defined.
pub static SIFLAGS: FlagsType = FlagsType { name: "siflags", repr: Repr::U16, flags: &[] };

/// `sdflags`: `flags(u8)`.
pub static SDFLAGS: FlagsType = FlagsType { name: "sdflags", repr: Repr::U8, flags: &["rd", "wr"] };

/// `preopentype`: `enum(u8)`.
pub static PREOPENTYPE: EnumType = EnumType { name: "preopentype", repr: Repr::U8, values: &["dir"] };

/// `signal`: `enum(u8)`.
pub static SIGNAL: EnumType = EnumType {
    name: "signal",
    repr: Repr::U8,
    values: &[
        "none", "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1", "segv", "usr2", "pipe",
        "alrm", "term", "chld", "cont", "stop", "tstp", "ttin", "ttou", "urg", "xcpu", "xfsz", "vtalrm", "prof",
        "winch", "poll", "pwr", "sys",
    ],
};

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
    fn flag_masks_match_the_abi_reference() {
        assert_eq!(RIGHTS.all(), 0x3FFF_FFFF);
        assert_eq!(FDFLAGS.all(), 0x1F);
        assert_eq!(OFLAGS.bit("trunc"), Some(8));
        assert_eq!(RIGHTS.bit("sock_accept"), Some(0x2000_0000));
        assert_eq!(RIGHTS.describe(0x42 | 1 << 40), "fd_read|fd_write|0x10000000000");
    }
}
