//! The descriptor table: what each fd is, its rights (base and inheriting), its flags and,
//! for files, its offset.
//!
//! Numbering follows the de-facto convention (preview1-abi.md §6): 0, 1, 2 are stdio,
//! preopens are 3, 4, … in order, and a new descriptor takes the lowest free number.
//! Rights are *enforced*: an operation needs its right (witx `rights` doc comments), and
//! rights can only be reduced (`fd_fdstat_set_rights`).

use std::collections::BTreeMap;

use wasi_conform_abi::types::RIGHTS;
use wasi_conform_abi::Errno;

use crate::fs::Ino;

/// What a descriptor refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handle {
    Stdin,
    Stdout,
    Stderr,
    /// A directory; `preopen` is its guest name if it was preopened.
    Dir {
        ino: Ino,
        preopen: Option<String>,
    },
    /// A regular file (or a symlink opened without following it is never a handle here).
    File {
        ino: Ino,
        offset: u64,
    },
}

/// One open descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub handle: Handle,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    /// `fdflags` bits.
    pub flags: u16,
}

/// A right by witx name (the table in `wasi-conform-abi` is the one source).
pub fn right(name: &str) -> u64 {
    RIGHTS.bit(name).unwrap_or_else(|| panic!("`{name}` is not a right"))
}

/// Rights that apply to directories: the `path_*` family, `fd_readdir` and the
/// metadata/sync rights (the preopen base set of preview1-abi.md §3.20, plus syncs).
pub fn dir_rights() -> u64 {
    [
        "fd_fdstat_set_flags",
        "fd_sync",
        "fd_datasync",
        "fd_advise",
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
        "fd_filestat_set_times",
        "path_symlink",
        "path_remove_directory",
        "path_unlink_file",
    ]
    .iter()
    .fold(0, |acc, n| acc | right(n))
}

/// Rights that only mean something on a directory: the `path_*` family and `fd_readdir`.
fn directory_only_rights() -> u64 {
    RIGHTS.flags.iter().filter(|n| n.starts_with("path_") || **n == "fd_readdir").fold(0, |acc, n| acc | right(n))
}

/// Rights that apply to regular files (and other non-directories): every right but the
/// directory-only ones.
pub fn file_rights() -> u64 {
    RIGHTS.all() & !directory_only_rights()
}

impl Descriptor {
    /// `errno::notcapable` unless every right in `needed` is held.
    pub fn require(&self, needed: u64) -> Result<(), Errno> {
        if self.rights_base & needed == needed {
            Ok(())
        } else {
            Err(Errno::Notcapable)
        }
    }
}

/// The table.
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    fds: BTreeMap<u32, Descriptor>,
}

impl FdTable {
    /// `errno::badf` if `fd` is not open.
    pub fn get(&self, fd: u32) -> Result<&Descriptor, Errno> {
        self.fds.get(&fd).ok_or(Errno::Badf)
    }

    pub fn get_mut(&mut self, fd: u32) -> Result<&mut Descriptor, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::Badf)
    }

    /// Places a descriptor at the lowest free number.
    pub fn insert(&mut self, d: Descriptor) -> u32 {
        let fd = (0..).find(|n| !self.fds.contains_key(n)).expect("fewer than 2^32 descriptors");
        self.fds.insert(fd, d);
        fd
    }

    /// Places a descriptor at a given number (stdio and preopens at start-up).
    pub fn insert_at(&mut self, fd: u32, d: Descriptor) {
        self.fds.insert(fd, d);
    }

    pub fn remove(&mut self, fd: u32) -> Result<Descriptor, Errno> {
        self.fds.remove(&fd).ok_or(Errno::Badf)
    }

    /// `fd_renumber`: both must be open; `to` is closed and replaced by `from`.
    pub fn renumber(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        self.get(from)?;
        self.get(to)?;
        if from != to {
            let d = self.fds.remove(&from).expect("checked above");
            self.fds.insert(to, d);
        }
        Ok(())
    }

    /// Every open descriptor referring to an inode (to keep it alive, for stats).
    pub fn iter(&self) -> impl Iterator<Item = (&u32, &Descriptor)> {
        self.fds.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(ino: Ino) -> Descriptor {
        Descriptor { handle: Handle::File { ino, offset: 0 }, rights_base: 0, rights_inheriting: 0, flags: 0 }
    }

    #[test]
    fn lowest_free_number_is_reused_after_close() {
        let mut t = FdTable::default();
        for i in 0..4 {
            t.insert_at(i, file(i as u64));
        }
        assert_eq!(t.insert(file(9)), 4);
        t.remove(2).unwrap();
        assert_eq!(t.insert(file(10)), 2);
        assert_eq!(t.remove(2).map(|d| d.handle), Ok(Handle::File { ino: 10, offset: 0 }));
        assert_eq!(t.remove(2), Err(Errno::Badf));
    }

    #[test]
    fn renumber_needs_both_open_and_replaces_the_target() {
        let mut t = FdTable::default();
        t.insert_at(3, file(1));
        t.insert_at(4, file(2));
        assert_eq!(t.renumber(3, 9), Err(Errno::Badf));
        assert_eq!(t.renumber(9, 3), Err(Errno::Badf));
        assert_eq!(t.renumber(3, 3), Ok(()));
        assert_eq!(t.renumber(3, 4), Ok(()));
        assert_eq!(t.get(3), Err(Errno::Badf));
        assert_eq!(t.get(4).map(|d| d.handle.clone()), Ok(Handle::File { ino: 1, offset: 0 }));
    }

    #[test]
    fn rights_are_required() {
        let mut d = file(1);
        d.rights_base = right("fd_read");
        assert_eq!(d.require(right("fd_read")), Ok(()));
        assert_eq!(d.require(right("fd_read") | right("fd_seek")), Err(Errno::Notcapable));
    }
}
