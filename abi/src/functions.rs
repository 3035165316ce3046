//! The one table of the 46 `wasi_snapshot_preview1` functions.
//!
//! [`for_each_function!`] holds the table, in witx order, with witx parameter names and
//! types; it calls a macro of yours with the whole list, so that code which must be
//! *generated* per function (a trait with one method per function, a dispatcher) comes from
//! the same list as everything else. [`FUNCTIONS`] is the same table as data.
//!
//! A few witx parameters that always travel together are folded into one semantic
//! parameter: a `string` (ptr + len), an `iovec_array`/`ciovec_array` (ptr + count), and a
//! host-written byte buffer followed by its `size` (`buf` + `buf_len`, `path` + `path_len`),
//! which is named after its pointer parameter. Out-pointers for the success value of
//! `(expected T (error $errno))` are listed as results; they are the trailing core params.

use crate::types::{EnumType, FlagsType};

/// The table of the 46 preview1 functions, in witx order.
///
/// Invokes `$m! { name(param: Type, …) -> errno [result: Type, …]; … }` (or `-> never` for
/// `proc_exit`). Parameter types are [`ParamType`] variants; `Enum(X)`/`Flags(X)` name a
/// static of [`crate::types`]. Result types are [`ResultType`] variants.
#[macro_export]
macro_rules! for_each_function {
    ($m:ident) => {
        $m! {
            args_get(argv: Region, argv_buf: Region) -> errno [];
            args_sizes_get() -> errno [argc: Size, argv_buf_size: Size];
            environ_get(environ: Region, environ_buf: Region) -> errno [];
            environ_sizes_get() -> errno [environc: Size, environ_buf_size: Size];
            clock_res_get(id: Enum(CLOCKID)) -> errno [resolution: Timestamp];
            clock_time_get(id: Enum(CLOCKID), precision: U64) -> errno [time: Timestamp];
            fd_advise(fd: Fd, offset: U64, len: U64, advice: Enum(ADVICE)) -> errno [];
            fd_allocate(fd: Fd, offset: U64, len: U64) -> errno [];
            fd_close(fd: Fd) -> errno [];
            fd_datasync(fd: Fd) -> errno [];
            fd_fdstat_get(fd: Fd) -> errno [fdstat: Fdstat];
            fd_fdstat_set_flags(fd: Fd, flags: Flags(FDFLAGS)) -> errno [];
            fd_fdstat_set_rights(fd: Fd, fs_rights_base: Flags(RIGHTS), fs_rights_inheriting: Flags(RIGHTS)) -> errno [];
            fd_filestat_get(fd: Fd) -> errno [filestat: Filestat];
            fd_filestat_set_size(fd: Fd, size: U64) -> errno [];
            fd_filestat_set_times(fd: Fd, atim: U64, mtim: U64, fst_flags: Flags(FSTFLAGS)) -> errno [];
            fd_pread(fd: Fd, iovs: Iovecs, offset: U64) -> errno [nread: Size];
            fd_prestat_get(fd: Fd) -> errno [prestat: Prestat];
            fd_prestat_dir_name(fd: Fd, path: Buffer) -> errno [];
            fd_pwrite(fd: Fd, iovs: Ciovecs, offset: U64) -> errno [nwritten: Size];
            fd_read(fd: Fd, iovs: Iovecs) -> errno [nread: Size];
            fd_readdir(fd: Fd, buf: Buffer, cookie: U64) -> errno [bufused: Size];
            fd_renumber(fd: Fd, to: Fd) -> errno [];
            fd_seek(fd: Fd, offset: S64, whence: Enum(WHENCE)) -> errno [newoffset: Filesize];
            fd_sync(fd: Fd) -> errno [];
            fd_tell(fd: Fd) -> errno [offset: Filesize];
            fd_write(fd: Fd, iovs: Ciovecs) -> errno [nwritten: Size];
            path_create_directory(fd: Fd, path: Str) -> errno [];
            path_filestat_get(fd: Fd, flags: Flags(LOOKUPFLAGS), path: Str) -> errno [filestat: Filestat];
            path_filestat_set_times(fd: Fd, flags: Flags(LOOKUPFLAGS), path: Str, atim: U64, mtim: U64, fst_flags: Flags(FSTFLAGS)) -> errno [];
            path_link(old_fd: Fd, old_flags: Flags(LOOKUPFLAGS), old_path: Str, new_fd: Fd, new_path: Str) -> errno [];
            path_open(fd: Fd, dirflags: Flags(LOOKUPFLAGS), path: Str, oflags: Flags(OFLAGS), fs_rights_base: Flags(RIGHTS), fs_rights_inheriting: Flags(RIGHTS), fdflags: Flags(FDFLAGS)) -> errno [opened_fd: Fd];
            path_readlink(fd: Fd, path: Str, buf: Buffer) -> errno [bufused: Size];
            path_remove_directory(fd: Fd, path: Str) -> errno [];
            path_rename(fd: Fd, old_path: Str, new_fd: Fd, new_path: Str) -> errno [];
            path_symlink(old_path: Str, fd: Fd, new_path: Str) -> errno [];
            path_unlink_file(fd: Fd, path: Str) -> errno [];
            poll_oneoff(in_: Subscriptions, out: Events, nsubscriptions: U32) -> errno [nevents: Size];
            proc_exit(rval: U32) -> never [];
            proc_raise(sig: Enum(SIGNAL)) -> errno [];
            sched_yield() -> errno [];
            random_get(buf: Buffer) -> errno [];
            sock_accept(fd: Fd, flags: Flags(FDFLAGS)) -> errno [accepted_fd: Fd];
            sock_recv(fd: Fd, ri_data: Iovecs, ri_flags: Flags(RIFLAGS)) -> errno [ro_datalen: Size, ro_flags: Roflags];
            sock_send(fd: Fd, si_data: Ciovecs, si_flags: Flags(SIFLAGS)) -> errno [so_datalen: Size];
            sock_shutdown(fd: Fd, how: Flags(SDFLAGS)) -> errno [];
        }
    };
}

/// The semantic type of a parameter (one or two core-wasm params).
#[derive(Debug, Clone, Copy)]
pub enum ParamType {
    /// A descriptor (`handle`), one `i32`.
    Fd,
    /// A plain `u32` (`size`, `exitcode`), one `i32`.
    U32,
    /// A plain `u64` (`filesize`, `timestamp`, `dircookie`), one `i64`.
    U64,
    /// A plain `s64` (`filedelta`), one `i64`.
    S64,
    /// A witx enum, lowered by its repr.
    Enum(&'static EnumType),
    /// A witx flags type, lowered by its repr.
    Flags(&'static FlagsType),
    /// A `string`: `i32 ptr, i32 len`.
    Str,
    /// A `ciovec_array` the host reads: `i32 ptr, i32 count`.
    Ciovecs,
    /// An `iovec_array` the host writes through: `i32 ptr, i32 count`.
    Iovecs,
    /// A host-written byte buffer and its length: `i32 ptr, i32 len`.
    Buffer,
    /// A host-written area whose length the caller learnt earlier (`argv`, `environ_buf`):
    /// one `i32` pointer.
    Region,
    /// `const_pointer subscription` for `poll_oneoff`: one `i32`.
    Subscriptions,
    /// `pointer event` for `poll_oneoff`: one `i32`.
    Events,
}

/// Core-wasm value types used by preview1 signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreType {
    I32,
    I64,
}

impl ParamType {
    /// The core-wasm parameters this semantic parameter lowers to.
    pub fn core(self) -> &'static [CoreType] {
        use CoreType::*;
        match self {
            ParamType::Fd | ParamType::U32 | ParamType::Region => &[I32],
            ParamType::Subscriptions | ParamType::Events => &[I32],
            ParamType::U64 | ParamType::S64 => &[I64],
            ParamType::Enum(EnumType { repr, .. }) | ParamType::Flags(FlagsType { repr, .. }) => {
                if repr.lowers_to_i64() {
                    &[I64]
                } else {
                    &[I32]
                }
            }
            ParamType::Str | ParamType::Ciovecs | ParamType::Iovecs | ParamType::Buffer => &[I32, I32],
        }
    }
}

/// Picks, at compile time, the Rust type a core-wasm value arrives as: see [`Lowered`].
#[derive(Debug)]
pub struct Core<const I64: bool>;

/// The Rust type of a [`Core`] value.
pub trait CoreValue {
    /// `u32` for an `i32`, `u64` for an `i64` (the bits, unsigned).
    type Raw;
}

impl CoreValue for Core<false> {
    type Raw = u32;
}

impl CoreValue for Core<true> {
    type Raw = u64;
}

/// The Rust type a core-wasm value arrives as: `Lowered<false>` is `u32` (an `i32`),
/// `Lowered<true>` is `u64` (an `i64`). With [`Repr::lowers_to_i64`](crate::Repr::lowers_to_i64)
/// it turns a table entry into a type, so that generated code takes an enum or flags
/// parameter as exactly what the ABI passes: `Lowered<{ RIGHTS.repr.lowers_to_i64() }>` is
/// `u64`, `Lowered<{ FDFLAGS.repr.lowers_to_i64() }>` is `u32`.
pub type Lowered<const I64: bool> = <Core<I64> as CoreValue>::Raw;

/// The type of a success value written through a trailing out-pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    /// `size` (u32).
    Size,
    /// `fd` (u32).
    Fd,
    /// `filesize` (u64).
    Filesize,
    /// `timestamp` (u64).
    Timestamp,
    /// `fdstat` record.
    Fdstat,
    /// `filestat` record.
    Filestat,
    /// `prestat` union.
    Prestat,
    /// `roflags` (u16).
    Roflags,
}

impl ResultType {
    /// The fields of a record result (empty for scalars).
    pub fn fields(self) -> &'static [crate::layout::Field] {
        use crate::layout;
        match self {
            ResultType::Fdstat => layout::FDSTAT_FIELDS,
            ResultType::Filestat => layout::FILESTAT_FIELDS,
            ResultType::Prestat => layout::PRESTAT_FIELDS,
            ResultType::Size | ResultType::Fd | ResultType::Filesize | ResultType::Timestamp | ResultType::Roflags => {
                &[]
            }
        }
    }

    /// Size and alignment of the value in guest memory.
    pub fn shape(self) -> crate::layout::Shape {
        use crate::layout;
        match self {
            ResultType::Size | ResultType::Fd => layout::U32,
            ResultType::Filesize | ResultType::Timestamp => layout::U64,
            ResultType::Fdstat => layout::FDSTAT,
            ResultType::Filestat => layout::FILESTAT,
            ResultType::Prestat => layout::PRESTAT,
            ResultType::Roflags => layout::U16,
        }
    }
}

/// What a function returns to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// An `i32` errno.
    Errno,
    /// Nothing: the call does not return (`proc_exit`).
    Never,
}

/// One parameter of the table.
#[derive(Debug)]
pub struct Param {
    /// witx name (`in` is spelled `in_`, a Rust keyword).
    pub name: &'static str,
    pub ty: ParamType,
}

/// One success value of the table.
#[derive(Debug)]
pub struct ResultField {
    pub name: &'static str,
    pub ty: ResultType,
}

/// One preview1 function.
#[derive(Debug)]
pub struct Function {
    /// Index in witx order (0..46).
    pub index: usize,
    /// Import name.
    pub name: &'static str,
    pub params: &'static [Param],
    pub results: &'static [ResultField],
    pub returns: Returns,
}

impl Function {
    /// The core-wasm parameter list: lowered params, then one `i32` per out-pointer.
    pub fn core_params(&self) -> Vec<CoreType> {
        let mut v: Vec<CoreType> = self.params.iter().flat_map(|p| p.ty.core().iter().copied()).collect();
        v.extend(self.results.iter().map(|_| CoreType::I32));
        v
    }

    /// The core-wasm result list.
    pub fn core_results(&self) -> &'static [CoreType] {
        match self.returns {
            Returns::Errno => &[CoreType::I32],
            Returns::Never => &[],
        }
    }

    /// A parameter by witx name.
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

macro_rules! param_type {
    (Enum($t:ident)) => {
        ParamType::Enum(&crate::types::$t)
    };
    (Flags($t:ident)) => {
        ParamType::Flags(&crate::types::$t)
    };
    ($t:ident) => {
        ParamType::$t
    };
}

macro_rules! returns {
    (errno) => {
        Returns::Errno
    };
    (never) => {
        Returns::Never
    };
}

macro_rules! build_table {
    ($( $name:ident ( $( $p:ident : $pt:ident $( ($pa:ident) )? ),* ) -> $ret:ident [ $( $r:ident : $rt:ident ),* ] ; )*) => {
        const NAMES: &[&str] = &[$(stringify!($name)),*];
        /// The 46 functions as data, in witx order.
        pub static FUNCTIONS: &[Function] = &[
            $( Function {
                index: index_of(stringify!($name)),
                name: stringify!($name),
                params: &[ $( Param { name: param_name(stringify!($p)), ty: param_type!($pt $( ($pa) )?) } ),* ],
                results: &[ $( ResultField { name: stringify!($r), ty: ResultType::$rt } ),* ],
                returns: returns!($ret),
            } ),*
        ];
    };
}

/// `a == b`, at compile time.
pub(crate) const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn index_of(name: &str) -> usize {
    let mut i = 0;
    while i < NAMES.len() {
        if str_eq(NAMES[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("function missing from its own table")
}

/// `in_` is the Rust spelling of witx `in`.
const fn param_name(name: &'static str) -> &'static str {
    if str_eq(name, "in_") {
        "in"
    } else {
        name
    }
}

for_each_function!(build_table);

/// A function by import name.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CoreType::*;

    #[test]
    fn there_are_46_functions_in_witx_order() {
        assert_eq!(FUNCTIONS.len(), 46);
        assert_eq!(FUNCTIONS[0].name, "args_get");
        assert_eq!(FUNCTIONS[45].name, "sock_shutdown");
        for (i, f) in FUNCTIONS.iter().enumerate() {
            assert_eq!(f.index, i);
        }
    }

    /// Core signatures from preview1-abi.md §2 (cross-checked with wasi-libc).
    #[test]
    fn core_signatures_match_the_abi_reference() {
        let sig = |n: &str| function(n).unwrap().core_params();
        assert_eq!(sig("path_open"), [I32, I32, I32, I32, I32, I64, I64, I32, I32]);
        assert_eq!(sig("path_filestat_set_times"), [I32, I32, I32, I32, I64, I64, I32]);
        assert_eq!(sig("fd_seek"), [I32, I64, I32, I32]);
        assert_eq!(sig("fd_readdir"), [I32, I32, I32, I64, I32]);
        assert_eq!(sig("clock_time_get"), [I32, I64, I32]);
        assert_eq!(sig("sock_recv"), [I32, I32, I32, I32, I32, I32]);
        assert_eq!(sig("poll_oneoff"), [I32, I32, I32, I32]);
        assert_eq!(sig("path_symlink"), [I32, I32, I32, I32, I32]);
        assert_eq!(sig("fd_fdstat_set_rights"), [I32, I64, I64]);
        assert_eq!(function("proc_exit").unwrap().core_results(), &[] as &[CoreType]);
        assert_eq!(sig("sched_yield"), []);
        assert_eq!(function("poll_oneoff").unwrap().params[0].name, "in");
    }
}
