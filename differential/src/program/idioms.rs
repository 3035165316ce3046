//! Stateful generation ([`GenConfig::stateful`](super::GenConfig::stateful)): programs whose
//! calls build on what earlier calls produced, so that a run gets past its first error.
//!
//! - **Descriptors by kind**: a descriptor that a path is resolved against comes mostly from
//!   the directories (the preopen, `path_open`s with `oflags.directory`); one that bytes move
//!   through, from the other opened descriptors ([`classify_fd`], [`arg`]).
//! - **Names by history**: paths come mostly from the names in the preopen — the fixture's,
//!   and those earlier steps created ([`remember`]).
//! - **Idioms** ([`Gen::idiom`]): the call sequences real programs make, with the arguments
//!   their libc computes: wasi-libc's `openat` (`fd_fdstat_get` of the directory, then
//!   `path_open` with `symlink_follow` unless `O_NOFOLLOW` and the rights it derives from the
//!   access mode, `libc-bottom-half/cloudlibc/src/libc/fcntl/openat.c`), `opendir(".")` on a
//!   preopen, `readdir` with its 4096-byte buffer (`DIRENT_DEFAULT_BUFFER_SIZE`), the
//!   startup prestat scan, create-write-close-rename, mkdir-then-open, symlink-then-resolve.
//! - **Fixture**: symlink chains, a deep tree and a second hard link
//!   ([`alphabet::STATEFUL_FIXTURE`]).
//!
//! Everything is still drawn from the fuzzer's bytes: the idioms choose their directory,
//! names, modes and follow-up call with `arbitrary`, and every value stays in the alphabet.

use arbitrary::Unstructured;
use wasi_conform_abi::types::{self, fdflags, lookupflags, oflags, rights};
use wasi_conform_abi::{Function, ParamType};
use wasi_conform_suite::scenario::{Arg, Data, Node, Scalar, Step, Tree};

use super::{FdUse, Gen};
use crate::alphabet::{self, PREOPEN_BINDING};

/// Adds some of the stateful fixture entries (a hard link only when its target is in).
pub(super) fn extend_fixture(u: &mut Unstructured, tree: &mut Tree) -> arbitrary::Result<()> {
    for e in alphabet::STATEFUL_FIXTURE {
        if u.ratio(2, 3)? {
            tree.insert(e.path.to_owned(), (e.node)());
        }
    }
    let files: Vec<String> = tree.iter().filter(|(_, n)| matches!(n, Node::File(_))).map(|(p, _)| p.clone()).collect();
    tree.retain(|_, n| match n {
        Node::Hardlink(t) => files.contains(t),
        _ => true,
    });
    Ok(())
}

/// The rights wasi-libc's `openat` asks for: every right but those that contradict the
/// access mode, i.e. all rights except `fd_datasync`, `fd_read`, `fd_write`, `fd_allocate`,
/// `fd_readdir` and `fd_filestat_set_size`, plus `fd_read | fd_readdir` when reading and the
/// four write rights when writing (its `fs_rights_inheriting` mask is the directory's, all
/// rights for a preopen here).
pub fn libc_rights(read: bool, write: bool) -> u64 {
    let contradicting = rights::FD_DATASYNC
        | rights::FD_READ
        | rights::FD_WRITE
        | rights::FD_ALLOCATE
        | rights::FD_READDIR
        | rights::FD_FILESTAT_SET_SIZE;
    let mut max = rights::ALL & !contradicting;
    if read {
        max |= rights::FD_READ | rights::FD_READDIR;
    }
    if write {
        max |= rights::FD_DATASYNC | rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE;
    }
    max
}

/// Where a function's descriptor is used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A path is resolved against it, or its entries are listed.
    Dir,
    /// Bytes, offsets or file attributes.
    File,
    Other,
}

fn role(f: &Function) -> Role {
    if f.params.iter().any(|p| matches!(p.ty, ParamType::Str)) || f.name == "fd_readdir" {
        return Role::Dir;
    }
    match f.name {
        "fd_read"
        | "fd_write"
        | "fd_pread"
        | "fd_pwrite"
        | "fd_seek"
        | "fd_tell"
        | "fd_filestat_get"
        | "fd_filestat_set_size"
        | "fd_filestat_set_times"
        | "fd_allocate"
        | "fd_advise"
        | "fd_sync"
        | "fd_datasync" => Role::File,
        _ => Role::Other,
    }
}

/// Whether the function creates the name its `param` holds.
fn creates(f: &Function, param: &str) -> bool {
    matches!(
        (f.name, param),
        ("path_create_directory", "path")
            | ("path_symlink", "new_path")
            | ("path_link", "new_path")
            | ("path_rename", "new_path")
    )
}

fn value(args: &[Arg], f: &Function, param: &str) -> Option<u64> {
    let i = f.params.iter().position(|p| p.name == param)?;
    match args.get(i) {
        Some(Arg::Scalar(Scalar::Value(v))) => Some(*v),
        _ => None,
    }
}

fn bytes<'a>(args: &'a [Arg], f: &Function, param: &str) -> Option<&'a [u8]> {
    let i = f.params.iter().position(|p| p.name == param)?;
    match args.get(i) {
        Some(Arg::Str(Data::Bytes(b))) => Some(b),
        _ => None,
    }
}

/// Records the names a call creates (whether or not it will succeed: the generator does not
/// run the program).
pub(super) fn remember(g: &mut Gen, f: &Function, args: &[Arg]) {
    let mut add = |name: &[u8]| {
        if !name.is_empty() && !g.names.iter().any(|n| n == name) {
            g.names.push(name.to_vec());
        }
    };
    for p in f.params {
        if creates(f, p.name) {
            if let Some(b) = bytes(args, f, p.name) {
                add(b);
            }
        }
    }
    if f.name == "path_open" && value(args, f, "oflags").is_some_and(|o| o & oflags::CREAT as u64 != 0) {
        if let Some(b) = bytes(args, f, "path") {
            add(b);
        }
    }
}

/// Puts the descriptor a `path_open` returns into the pool of its kind.
pub(super) fn classify_fd(g: &mut Gen, step: &Step, fd: Scalar) {
    if step.function.name != "path_open" {
        return;
    }
    if value(&step.args, step.function, "oflags").is_some_and(|o| o & oflags::DIRECTORY as u64 != 0) {
        g.dirs.push(fd);
    } else {
        g.files.push(fd);
    }
}

/// A stateful choice for one argument, or `None` to draw it as stateless generation does.
pub(super) fn arg(
    g: &mut Gen,
    f: &Function,
    name: &str,
    ty: ParamType,
    _fd_use: FdUse,
) -> arbitrary::Result<Option<Arg>> {
    Ok(match ty {
        ParamType::Fd => {
            let pool = match role(f) {
                Role::Dir => g.dirs.clone(),
                Role::File => g.files.clone(),
                Role::Other => Vec::new(),
            };
            if !pool.is_empty() && g.u.ratio(3, 4)? {
                Some(Arg::Scalar(g.u.choose(&pool)?.clone()))
            } else {
                None
            }
        }
        ParamType::Str if !(f.name == "path_symlink" && name == "old_path") => {
            if creates(f, name) && g.u.ratio(1, 2)? {
                Some(Arg::Str(Data::Bytes(g.u.choose(&[&b"new"[..], b"new-dir", b"deep/x/new"])?.to_vec())))
            } else if g.u.ratio(1, 2)? {
                let pick = g.u.int_in_range(0..=g.names.len() + alphabet::STATEFUL_ATOMS.len() - 1)?;
                let p = match g.names.get(pick) {
                    Some(n) => n.clone(),
                    None => alphabet::STATEFUL_ATOMS[pick - g.names.len()].as_bytes().to_vec(),
                };
                Some(Arg::Str(Data::Bytes(p)))
            } else {
                None
            }
        }
        ParamType::Flags(t) if std::ptr::eq(t, &types::RIGHTS) && f.name == "path_open" && g.u.ratio(1, 2)? => {
            Some(Arg::Scalar(Scalar::Value(match name {
                "fs_rights_inheriting" => rights::ALL,
                _ => libc_rights(g.u.arbitrary()?, g.u.arbitrary()?),
            })))
        }
        ParamType::Buffer if f.name == "fd_readdir" && g.u.ratio(1, 2)? => {
            let n = alphabet::LIBC_READDIR_BUFFER;
            Some(Arg::Buffer { size: n, len: n })
        }
        _ => None,
    })
}

fn v(x: u64) -> Arg {
    Arg::Scalar(Scalar::Value(x))
}

fn s(b: &[u8]) -> Arg {
    Arg::Str(Data::Bytes(b.to_vec()))
}

impl Gen<'_, '_, '_> {
    /// A call with some arguments given by parameter name and the others drawn as usual.
    fn call(&mut self, name: &str, given: Vec<(&str, Arg)>) -> arbitrary::Result<Option<Scalar>> {
        let f = wasi_conform_abi::function(name).expect("idioms name functions of the table");
        let mut args = Vec::with_capacity(f.params.len());
        for p in f.params {
            match given.iter().find(|(n, _)| *n == p.name) {
                Some((_, a)) => args.push(a.clone()),
                None => args.push(self.arg(f, p.name, p.ty, FdUse::Any)?),
            }
        }
        Ok(self.push(f, args))
    }

    fn dir(&mut self) -> arbitrary::Result<Scalar> {
        Ok(self.u.choose(&self.dirs)?.clone())
    }

    /// An existing name (the fixture's or one created earlier), or `new`.
    fn name(&mut self) -> arbitrary::Result<Vec<u8>> {
        if self.u.ratio(1, 5)? || self.names.is_empty() {
            return Ok(b"new".to_vec());
        }
        Ok(self.u.choose(&self.names)?.clone())
    }

    /// wasi-libc's `openat(dir, path, mode)`: `fd_fdstat_get(dir)`, then `path_open`.
    fn libc_open(&mut self, dir: Scalar, path: Vec<u8>, directory: bool) -> arbitrary::Result<Option<Scalar>> {
        self.call("fd_fdstat_get", vec![("fd", Arg::Scalar(dir.clone()))])?;
        let (read, write) = match self.u.int_in_range(0..=2u8)? {
            0 => (true, false),
            1 => (false, true),
            _ => (true, true),
        };
        let mut o = 0u64;
        if directory {
            o |= oflags::DIRECTORY as u64;
        } else if write && self.u.ratio(1, 2)? {
            o |= (oflags::CREAT | oflags::TRUNC) as u64;
        }
        let follow = if self.u.ratio(7, 8)? { lookupflags::SYMLINK_FOLLOW as u64 } else { 0 };
        let fdf = if write && self.u.ratio(1, 4)? { fdflags::APPEND as u64 } else { 0 };
        self.call(
            "path_open",
            vec![
                ("fd", Arg::Scalar(dir)),
                ("dirflags", v(follow)),
                ("path", s(&path)),
                ("oflags", v(o)),
                ("fs_rights_base", v(libc_rights(read || directory, write && !directory))),
                ("fs_rights_inheriting", v(rights::ALL)),
                ("fdflags", v(fdf)),
            ],
        )
    }

    /// One idiom (see the module docs), 1–4 calls.
    pub(super) fn idiom(&mut self) -> arbitrary::Result<()> {
        match self.u.int_in_range(0..=5u8)? {
            // open a file the libc way and use it
            0 => {
                let dir = self.dir()?;
                let name = self.name()?;
                if let Some(f) = self.libc_open(dir, name, false)? {
                    let fd = Arg::Scalar(f);
                    match self.u.int_in_range(0..=3u8)? {
                        0 => self.call("fd_read", vec![("fd", fd)])?,
                        1 => self.call("fd_write", vec![("fd", fd)])?,
                        2 => self.call("fd_seek", vec![("fd", fd)])?,
                        _ => self.call("fd_filestat_get", vec![("fd", fd)])?,
                    };
                }
            }
            // opendir(".") on a preopen (or a directory opened before), then readdir
            1 => {
                let dir = if self.u.ratio(1, 2)? { Scalar::Binding(PREOPEN_BINDING.into()) } else { self.dir()? };
                let path = if self.u.ratio(3, 4)? { b".".to_vec() } else { self.name()? };
                if let Some(d) = self.libc_open(dir, path, true)? {
                    let n = alphabet::LIBC_READDIR_BUFFER;
                    self.call(
                        "fd_readdir",
                        vec![("fd", Arg::Scalar(d)), ("buf", Arg::Buffer { size: n, len: n }), ("cookie", v(0))],
                    )?;
                }
            }
            // the startup prestat scan
            2 => {
                self.call("fd_prestat_get", vec![("fd", v(3))])?;
                let len = alphabet::PREOPEN.len() as u32;
                self.call("fd_prestat_dir_name", vec![("fd", v(3)), ("path", Arg::Buffer { size: len, len })])?;
                self.call("fd_prestat_get", vec![("fd", v(4))])?;
            }
            // create, write, close, rename
            3 => {
                let dir = self.dir()?;
                let f = self.call(
                    "path_open",
                    vec![
                        ("fd", Arg::Scalar(dir.clone())),
                        ("dirflags", v(lookupflags::SYMLINK_FOLLOW as u64)),
                        ("path", s(b"new")),
                        ("oflags", v((oflags::CREAT | oflags::TRUNC) as u64)),
                        ("fs_rights_base", v(libc_rights(true, true))),
                        ("fs_rights_inheriting", v(rights::ALL)),
                        ("fdflags", v(0)),
                    ],
                )?;
                if let Some(f) = f {
                    self.call(
                        "fd_write",
                        vec![("fd", Arg::Scalar(f.clone())), ("iovs", Arg::Ciovecs(vec![b"0123456789".to_vec()]))],
                    )?;
                    self.call("fd_close", vec![("fd", Arg::Scalar(f))])?;
                }
                let to = self.name()?;
                self.call(
                    "path_rename",
                    vec![
                        ("fd", Arg::Scalar(dir.clone())),
                        ("old_path", s(b"new")),
                        ("new_fd", Arg::Scalar(dir)),
                        ("new_path", s(&to)),
                    ],
                )?;
            }
            // mkdir, then open it and stat through it
            4 => {
                let dir = self.dir()?;
                self.call("path_create_directory", vec![("fd", Arg::Scalar(dir.clone())), ("path", s(b"new-dir"))])?;
                if let Some(d) = self.libc_open(dir, b"new-dir".to_vec(), true)? {
                    self.call("path_filestat_get", vec![("fd", Arg::Scalar(d)), ("flags", v(0)), ("path", s(b"."))])?;
                }
            }
            // symlink, then read it back and resolve it
            _ => {
                let dir = self.dir()?;
                let target = self.name()?;
                self.call(
                    "path_symlink",
                    vec![("old_path", s(&target)), ("fd", Arg::Scalar(dir.clone())), ("new_path", s(b"new"))],
                )?;
                self.call("path_readlink", vec![("fd", Arg::Scalar(dir.clone())), ("path", s(b"new"))])?;
                self.call(
                    "path_filestat_get",
                    vec![
                        ("fd", Arg::Scalar(dir)),
                        ("flags", v(lookupflags::SYMLINK_FOLLOW as u64)),
                        ("path", s(b"new")),
                    ],
                )?;
            }
        }
        Ok(())
    }
}
