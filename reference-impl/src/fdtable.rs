//! The descriptor table: what each fd is, its rights (base and inheriting), its flags and,
//! for files, its offset.
//!
//! Numbering follows the de-facto convention (preview1-abi.md §6): 0, 1, 2 are stdio,
//! preopens are 3, 4, … in order, and a new descriptor takes the lowest free number.
//! Rights are *enforced*: an operation needs its right (witx `rights` doc comments), and
//! rights can only be reduced (`fd_fdstat_set_rights`).

use std::collections::BTreeMap;

use wasi_conform_abi::types::rights;
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

/// Rights that only mean something on a directory: the `path_*` family and `fd_readdir`.
pub const DIRECTORY_ONLY_RIGHTS: u64 = rights::PATH_CREATE_DIRECTORY
    | rights::PATH_CREATE_FILE
    | rights::PATH_LINK_SOURCE
    | rights::PATH_LINK_TARGET
    | rights::PATH_OPEN
    | rights::FD_READDIR
    | rights::PATH_READLINK
    | rights::PATH_RENAME_SOURCE
    | rights::PATH_RENAME_TARGET
    | rights::PATH_FILESTAT_GET
    | rights::PATH_FILESTAT_SET_SIZE
    | rights::PATH_FILESTAT_SET_TIMES
    | rights::PATH_SYMLINK
    | rights::PATH_REMOVE_DIRECTORY
    | rights::PATH_UNLINK_FILE;

/// Rights that apply to directories: the directory-only ones plus the metadata and sync
/// rights (the preopen base set of preview1-abi.md §3.20, plus syncs).
pub const DIR_RIGHTS: u64 = DIRECTORY_ONLY_RIGHTS
    | rights::FD_FDSTAT_SET_FLAGS
    | rights::FD_SYNC
    | rights::FD_DATASYNC
    | rights::FD_ADVISE
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_TIMES;

/// Rights that apply to regular files (and other non-directories): every right but the
/// directory-only ones.
pub const FILE_RIGHTS: u64 = rights::ALL & !DIRECTORY_ONLY_RIGHTS;

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
    use wasi_conform_abi::types::RIGHTS;

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
        d.rights_base = rights::FD_READ;
        assert_eq!(d.require(rights::FD_READ), Ok(()));
        assert_eq!(d.require(rights::FD_READ | rights::FD_SEEK), Err(Errno::Notcapable));
    }

    /// The directory-only rights are exactly those the witx names `path_*`, and `fd_readdir`.
    #[test]
    fn directory_only_rights_follow_the_names() {
        let named = RIGHTS
            .flags
            .iter()
            .filter(|n| n.starts_with("path_") || **n == "fd_readdir")
            .fold(0, |acc, n| acc | RIGHTS.bit(n).unwrap());
        assert_eq!(DIRECTORY_ONLY_RIGHTS, named);
        assert_eq!(DIR_RIGHTS.count_ones(), 21);
        assert_eq!(FILE_RIGHTS | DIRECTORY_ONLY_RIGHTS, RIGHTS.all());
    }
}
