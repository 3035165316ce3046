//! Derived views: outputs of a call that are not a result value but something the host
//! wrote into guest memory — bytes read, a link's contents, directory entries, argv.
//!
//! A view is checked in a step's `expect` under its name, next to the results of the
//! function table. Which functions have which views is stated here, once: the loader, the
//! verdict, the self-checking compiler and the fuzz normaliser all ask [`views`] or
//! [`kind`]; [`crate::observe`] decodes each kind.

use wasi_conform_abi::Function;

/// How a view is decoded and written in an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// Raw bytes.
    Bytes,
    /// A list of NUL-terminated strings pointed to by a pointer array.
    Strings,
    /// `dirent` records: a set of name → filetype.
    Entries,
    /// `event` records, keyed by userdata.
    Events,
    /// Random bytes: only "not all zero" is checkable.
    Random,
}

/// The views of a function: (name, kind).
///
/// - `read`: the bytes placed in the iovec buffers, concatenated, cut at `nread`;
/// - `contents`: `path_readlink`'s buffer cut at `bufused`;
/// - `name`: `fd_prestat_dir_name`'s buffer, all `path_len` bytes;
/// - `entries`: the complete `dirent`s in `fd_readdir`'s buffer (a truncated last entry is
///   not listed);
/// - `args` / `environ`: the strings the pointer array points to;
/// - `events`: `poll_oneoff`'s events, cut at `nevents`;
/// - `buf`: `random_get`'s bytes.
pub fn views(f: &Function) -> &'static [(&'static str, ViewKind)] {
    match f.name {
        "fd_read" | "fd_pread" | "sock_recv" => &[("read", ViewKind::Bytes)],
        "path_readlink" => &[("contents", ViewKind::Bytes)],
        "fd_prestat_dir_name" => &[("name", ViewKind::Bytes)],
        "fd_readdir" => &[("entries", ViewKind::Entries)],
        "args_get" => &[("args", ViewKind::Strings)],
        "environ_get" => &[("environ", ViewKind::Strings)],
        "poll_oneoff" => &[("events", ViewKind::Events)],
        "random_get" => &[("buf", ViewKind::Random)],
        _ => &[],
    }
}

/// The kind of `f`'s view called `name`, if it has one.
pub fn kind(f: &Function, name: &str) -> Option<ViewKind> {
    views(f).iter().find(|(n, _)| *n == name).map(|(_, kind)| *kind)
}
