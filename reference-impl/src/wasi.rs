//! The 46 preview1 functions, in witx order: the reference's implementation of
//! [`Preview1`], the trait generated from the one table (`preview1.rs`).
//!
//! Each function takes the guest memory and the raw core-wasm arguments, as the import
//! receives them; it returns `Ok(())` after writing its results through the out-pointers,
//! or a [`Fault`]. Doc comments quote the witx (`wasi_snapshot_preview1.witx`,
//! `typenames.witx`); where the witx is silent the choice is named in a comment starting
//! with "Choice:" and listed in `reference-impl/README.md`. The state they work on is
//! [`Wasi`] (`state.rs`); the records they write are encoded in `records.rs`.
//!
//! Order of checks, everywhere: pointers that must be read are read first (a bad one
//! traps), then the descriptor (`badf`), then its rights (`notcapable`), then argument
//! values (`inval`), then the operation's own errors.

use wasi_conform_abi::layout;
use wasi_conform_abi::types::{
    clockid, eventtype, fdflags, filetype, fstflags, lookupflags, oflags, rights, signal, subclockflags, whence,
    ADVICE, FDFLAGS, FSTFLAGS, LOOKUPFLAGS, OFLAGS, RIGHTS, SDFLAGS, SIGNAL, SUBCLOCKFLAGS,
};
use wasi_conform_abi::Errno;

use crate::clock::{self, RESOLUTION_NS};
use crate::fault::{Exit, Fault, Outcome, Trap};
use crate::fdtable::{Descriptor, Handle, DIR_RIGHTS, FILE_RIGHTS};
use crate::fs::{Fs, Ino, Kind};
use crate::memory::Memory;
use crate::path::{self, Follow, Target};
use crate::preview1::Preview1;
use crate::records::{self, Event, Fdstat, Filestat, Subscription, SubscriptionKind};
use crate::state::Wasi;

/// The engine binding's view of how a call ended.
pub use crate::preview1::CallResult;

/// The largest file the in-memory file system holds: 64 MiB. Choice: a write, truncation or
/// allocation past it is `fbig`, as POSIX gives when a file would exceed the file system's
/// maximum size. Real file systems allow far more (ext4 16 TiB, tmpfs 8 EiB, as sparse
/// files); the reference keeps files as plain bytes, so scenarios stay below this size or
/// above `i64::MAX`, where every runtime refuses too.
pub const MAX_FILE_SIZE: u64 = 64 << 20;

impl Preview1 for Wasi {
    /// `args_get`: "Read command-line argument data. The size of the array should match
    /// that returned by `args_sizes_get`. Each argument is expected to be `\0` terminated."
    fn args_get(&mut self, m: &mut Memory, argv: u32, argv_buf: u32) -> Outcome {
        Self::strings_get(m, &self.args, argv, argv_buf)
    }

    /// `args_sizes_get`: "Return command-line argument data sizes." — (count, total bytes
    /// including each terminating NUL).
    fn args_sizes_get(&mut self, m: &mut Memory, argc: u32, size: u32) -> Outcome {
        Self::strings_sizes(m, &self.args, argc, size)
    }

    /// `environ_get`: "Read environment variable data." — `KEY=VALUE\0` strings.
    fn environ_get(&mut self, m: &mut Memory, environ: u32, buf: u32) -> Outcome {
        Self::strings_get(m, &self.env, environ, buf)
    }

    /// `environ_sizes_get`: "Return environment variable data sizes."
    fn environ_sizes_get(&mut self, m: &mut Memory, count: u32, size: u32) -> Outcome {
        Self::strings_sizes(m, &self.env, count, size)
    }

    /// `clock_res_get`: "Return the resolution of a clock. Implementations are required to
    /// provide a non-zero value for supported clocks. ... Note: This is similar to
    /// `clock_getres` in POSIX." — "If the clock is not supported, ... errno::inval"
    /// (witx `clockid` docs). Choice: the CPU-time clocks are not supported (they were
    /// removed upstream, WASI PR #197), so they give `inval`.
    fn clock_res_get(&mut self, m: &mut Memory, id: u32, out: u32) -> Outcome {
        m.check_shape(out, layout::U64)?;
        self.supported_clock(id)?;
        m.write_u64(out, RESOLUTION_NS)?;
        Ok(())
    }

    /// `clock_time_get`: "Return the time value of a clock. Note: This is similar to
    /// `clock_gettime` in POSIX." `precision` is a hint and is ignored.
    fn clock_time_get(&mut self, m: &mut Memory, id: u32, _precision: u64, out: u32) -> Outcome {
        m.check_shape(out, layout::U64)?;
        let realtime = self.supported_clock(id)?;
        let t = if realtime { self.clock.realtime() } else { self.clock.monotonic() };
        m.write_u64(out, t)?;
        Ok(())
    }

    /// `fd_advise`: "Provide file advisory information on a file descriptor. Note: This is
    /// similar to `posix_fadvise` in POSIX." Needs `fd_advise`; advice is only a hint.
    fn fd_advise(&mut self, _m: &mut Memory, fd: u32, _offset: u64, _len: u64, advice: u32) -> Outcome {
        self.fds.get(fd)?.require(rights::FD_ADVISE)?;
        if ADVICE.name_of(advice as u64).is_none() {
            return Err(Errno::Inval.into());
        }
        self.file_ino(fd)?;
        Ok(())
    }

    /// `fd_allocate`: "Force the allocation of space in a file. Note: This is similar to
    /// `posix_fallocate` in POSIX." — the file grows to `offset + len` if smaller.
    fn fd_allocate(&mut self, _m: &mut Memory, fd: u32, offset: u64, len: u64) -> Outcome {
        self.fds.get(fd)?.require(rights::FD_ALLOCATE)?;
        let ino = self.file_ino(fd)?;
        // POSIX posix_fallocate: "[EINVAL] The len argument is less than or equal to zero".
        if len == 0 {
            return Err(Errno::Inval.into());
        }
        // POSIX: "[EINVAL] ... the offset argument is less than zero": 2^63 and up are
        // negative as an off_t.
        if offset > i64::MAX as u64 {
            return Err(Errno::Inval.into());
        }
        // POSIX: "[EFBIG] The value of offset+len is greater than the maximum file size."
        let end = offset.checked_add(len).filter(|e| *e <= MAX_FILE_SIZE).ok_or(Errno::Fbig)?;
        let now = self.now();
        let data = self.file_data(ino);
        if (data.len() as u64) < end {
            data.resize(end as usize, 0);
            let n = self.fs.inode_mut(ino);
            n.mtim = now;
            n.ctim = now;
        }
        Ok(())
    }

    /// `fd_close`: "Close a file descriptor. Note: This is similar to `close` in POSIX."
    /// Preopens and stdio may be closed too (wasi-testsuite `close_preopen`).
    fn fd_close(&mut self, _m: &mut Memory, fd: u32) -> Outcome {
        self.fds.remove(fd)?;
        Ok(())
    }

    /// `fd_datasync`: "Synchronize the data of a file to disk. Note: This is similar to
    /// `fdatasync` in POSIX." Nothing to do in memory. Choice: stdio gives `inval` (Linux
    /// `fdatasync` on a pipe).
    fn fd_datasync(&mut self, _m: &mut Memory, fd: u32) -> Outcome {
        self.sync(fd, rights::FD_DATASYNC)
    }

    /// `fd_fdstat_get`: "Get the attributes of a file descriptor. Note: This returns
    /// similar flags to `fcntl(fd, F_GETFL)` in POSIX, as well as additional fields."
    fn fd_fdstat_get(&mut self, m: &mut Memory, fd: u32, out: u32) -> Outcome {
        m.check_shape(out, layout::FDSTAT)?;
        let d = self.fds.get(fd)?;
        // Choice: stdio is a pipe here, which preview1 has no filetype for: `unknown`.
        let ty = match d.handle {
            Handle::Dir { ino, .. } | Handle::File { ino, .. } => self.fs.filetype(ino),
            Handle::Stdin | Handle::Stdout | Handle::Stderr => filetype::UNKNOWN,
        };
        let stat =
            Fdstat { filetype: ty, flags: d.flags, rights_base: d.rights_base, rights_inheriting: d.rights_inheriting };
        stat.write(m, out)?;
        Ok(())
    }

    /// `fd_fdstat_set_flags`: "Adjust the flags associated with a file descriptor. Note:
    /// This is similar to `fcntl(fd, F_SETFL, flags)` in POSIX." Undefined bits give
    /// `inval`.
    fn fd_fdstat_set_flags(&mut self, _m: &mut Memory, fd: u32, flags: u32) -> Outcome {
        let d = self.fds.get_mut(fd)?;
        d.require(rights::FD_FDSTAT_SET_FLAGS)?;
        if flags as u64 & !FDFLAGS.all() != 0 {
            return Err(Errno::Inval.into());
        }
        d.flags = flags as u16;
        Ok(())
    }

    /// `fd_fdstat_set_rights`: "Adjust the rights associated with a file descriptor. This
    /// can only be used to remove rights, and returns `errno::notcapable` if called in a
    /// way that would attempt to add rights."
    fn fd_fdstat_set_rights(&mut self, _m: &mut Memory, fd: u32, base: u64, inheriting: u64) -> Outcome {
        let d = self.fds.get_mut(fd)?;
        if base & !d.rights_base != 0 || inheriting & !d.rights_inheriting != 0 {
            return Err(Errno::Notcapable.into());
        }
        d.rights_base = base;
        d.rights_inheriting = inheriting;
        Ok(())
    }

    /// `fd_filestat_get`: "Return the attributes of an open file."
    fn fd_filestat_get(&mut self, m: &mut Memory, fd: u32, out: u32) -> Outcome {
        m.check_shape(out, layout::FILESTAT)?;
        let d = self.fds.get(fd)?;
        d.require(rights::FD_FILESTAT_GET)?;
        let ino = match d.handle {
            Handle::Dir { ino, .. } | Handle::File { ino, .. } => Some(ino),
            Handle::Stdin | Handle::Stdout | Handle::Stderr => None,
        };
        self.write_filestat(m, out, ino)
    }

    /// `fd_filestat_set_size`: "Adjust the size of an open file. If this increases the
    /// file's size, the extra bytes are filled with zeros. Note: This is similar to
    /// `ftruncate` in POSIX."
    fn fd_filestat_set_size(&mut self, _m: &mut Memory, fd: u32, size: u64) -> Outcome {
        self.fds.get(fd)?.require(rights::FD_FILESTAT_SET_SIZE)?;
        let ino = self.file_ino(fd)?;
        if size > MAX_FILE_SIZE {
            return Err(Errno::Fbig.into());
        }
        let now = self.now();
        self.file_data(ino).resize(size as usize, 0);
        let n = self.fs.inode_mut(ino);
        n.mtim = now;
        n.ctim = now;
        Ok(())
    }

    /// `fd_filestat_set_times`: "Adjust the timestamps of an open file or directory. Note:
    /// This is similar to `futimens` in POSIX."
    fn fd_filestat_set_times(&mut self, _m: &mut Memory, fd: u32, atim: u64, mtim: u64, flags: u32) -> Outcome {
        let d = self.fds.get(fd)?;
        d.require(rights::FD_FILESTAT_SET_TIMES)?;
        let ino = match d.handle {
            Handle::Dir { ino, .. } | Handle::File { ino, .. } => ino,
            // Choice: stdio has no timestamps to set here: `badf`, as Wasmtime.
            Handle::Stdin | Handle::Stdout | Handle::Stderr => return Err(Errno::Badf.into()),
        };
        let t = self.times(atim, mtim, flags)?;
        self.set_times(ino, t);
        Ok(())
    }

    /// `fd_pread`: "Read from a file descriptor, without using and updating the file
    /// descriptor's offset. Note: This is similar to `preadv` in POSIX."
    fn fd_pread(&mut self, m: &mut Memory, fd: u32, iovs: u32, n: u32, offset: u64, out: u32) -> Outcome {
        let iov = m.iovecs(iovs, n)?;
        m.check_shape(out, layout::U32)?;
        self.fds.get(fd)?.require(rights::FD_READ | rights::FD_SEEK)?;
        let ino = self.file_ino(fd)?;
        let data = self.file_data(ino).clone();
        let read = m.scatter(&iov, data.get(offset.min(data.len() as u64) as usize..).unwrap_or_default())?;
        m.write_u32(out, read)?;
        Ok(())
    }

    /// `fd_prestat_get`: "Return a description of the given preopened file descriptor."
    /// A descriptor that is not a preopen gives `badf` (wasi-libc stops its scan there).
    fn fd_prestat_get(&mut self, m: &mut Memory, fd: u32, out: u32) -> Outcome {
        m.check_shape(out, layout::PRESTAT)?;
        let name = self.preopen_name(fd)?;
        records::write_prestat_dir(m, out, name.len() as u32)?;
        Ok(())
    }

    /// `fd_prestat_dir_name`: "Return a description of the given preopened file
    /// descriptor." — writes the name, without NUL. Choice: a buffer shorter than the name
    /// gives `nametoolong` (Wasmtime; wasi-testsuite accepts it); a longer one is fine.
    fn fd_prestat_dir_name(&mut self, m: &mut Memory, fd: u32, path: u32, len: u32) -> Outcome {
        m.slice(path, len)?;
        let name = self.preopen_name(fd)?;
        if (len as usize) < name.len() {
            return Err(Errno::Nametoolong.into());
        }
        m.write_bytes(path, name.as_bytes())?;
        Ok(())
    }

    /// `fd_pwrite`: "Write to a file descriptor, without using and updating the file
    /// descriptor's offset. Note: This is similar to `pwritev` in POSIX." Choice: on an
    /// append-mode descriptor the data still goes at `offset` (POSIX `pwrite`; Linux
    /// appends, divergences.md D2).
    fn fd_pwrite(&mut self, m: &mut Memory, fd: u32, iovs: u32, n: u32, offset: u64, out: u32) -> Outcome {
        let iov = m.iovecs(iovs, n)?;
        m.check_shape(out, layout::U32)?;
        self.fds.get(fd)?.require(rights::FD_WRITE | rights::FD_SEEK)?;
        let ino = self.file_ino(fd)?;
        let bytes = m.gather(&iov)?;
        self.write_at(ino, offset, &bytes)?;
        m.write_u32(out, bytes.len() as u32)?;
        Ok(())
    }

    /// `fd_read`: "Read from a file descriptor. Note: This is similar to `readv` in POSIX."
    /// Scatter reads fill the iovecs in order (as `readv`).
    fn fd_read(&mut self, m: &mut Memory, fd: u32, iovs: u32, n: u32, out: u32) -> Outcome {
        let iov = m.iovecs(iovs, n)?;
        m.check_shape(out, layout::U32)?;
        let d = self.fds.get(fd)?;
        d.require(rights::FD_READ)?;
        let read = match d.handle {
            Handle::Stdin => {
                let read = m.scatter(&iov, &self.stdin[self.stdin_pos..])?;
                self.stdin_pos += read as usize;
                read
            }
            Handle::File { ino, offset } => {
                let data = self.file_data(ino).clone();
                let read = m.scatter(&iov, data.get(offset.min(data.len() as u64) as usize..).unwrap_or_default())?;
                self.advance(fd, read as u64);
                read
            }
            Handle::Dir { .. } => return Err(Errno::Isdir.into()),
            // Choice: reading stdout/stderr, which are write-only: `badf` (POSIX).
            Handle::Stdout | Handle::Stderr => return Err(Errno::Badf.into()),
        };
        m.write_u32(out, read)?;
        Ok(())
    }

    /// `fd_readdir`: "Read directory entries from a directory. When successful, the
    /// contents of the output buffer consist of a sequence of directory entries. Each
    /// directory entry consists of a `dirent` object, followed by `dirent::d_namlen` bytes
    /// holding the name of the directory entry. This function fills the output buffer as
    /// much as possible, potentially truncating the last directory entry. ... Entries for
    /// the special `.` and `..` directory entries are included in the sequence."
    /// Cookies are positions: `.` is 0, `..` 1, then entries in name order; `d_next` is
    /// the position after.
    fn fd_readdir(&mut self, m: &mut Memory, fd: u32, buf: u32, len: u32, cookie: u64, out: u32) -> Outcome {
        m.slice(buf, len)?;
        m.check_shape(out, layout::U32)?;
        let d = self.fds.get(fd)?;
        d.require(rights::FD_READDIR)?;
        let ino = match d.handle {
            Handle::Dir { ino, .. } => ino,
            Handle::File { .. } | Handle::Stdin | Handle::Stdout | Handle::Stderr => return Err(Errno::Notdir.into()),
        };
        let mut entries: Vec<(Vec<u8>, Ino)> = vec![(b".".to_vec(), ino), (b"..".to_vec(), self.fs.inode(ino).parent)];
        entries.extend(self.fs.entries(ino));
        let mut bytes = Vec::new();
        for (i, (name, e)) in entries.iter().enumerate().skip(cookie.min(usize::MAX as u64) as usize) {
            if bytes.len() >= len as usize {
                break;
            }
            bytes.extend(records::dirent(i as u64 + 1, *e, self.fs.filetype(*e), name));
        }
        bytes.truncate(len as usize);
        m.write_bytes(buf, &bytes)?;
        m.write_u32(out, bytes.len() as u32)?;
        Ok(())
    }

    /// `fd_renumber`: "Atomically replace a file descriptor by renumbering another file
    /// descriptor. Due to the strong focus on thread safety, this environment does not
    /// provide a mechanism to duplicate or renumber a file descriptor to an arbitrary
    /// number, like `dup2()`." Both must be open (wasi-testsuite `renumber`: `badf`).
    fn fd_renumber(&mut self, _m: &mut Memory, fd: u32, to: u32) -> Outcome {
        self.fds.renumber(fd, to)?;
        Ok(())
    }

    /// `fd_seek`: "Move the offset of a file descriptor. Note: This is similar to `lseek`
    /// in POSIX." A resulting offset before 0 is `inval`; past the end is allowed.
    fn fd_seek(&mut self, m: &mut Memory, fd: u32, delta: i64, whence: u32, out: u32) -> Outcome {
        m.check_shape(out, layout::U64)?;
        let d = self.fds.get(fd)?;
        // "fd_seek ... If this is set ... fd_tell": seek(cur, 0) only needs `fd_tell`.
        let tell_only = whence == u32::from(whence::CUR) && delta == 0;
        d.require(if tell_only { rights::FD_TELL } else { rights::FD_SEEK })?;
        let (ino, offset) = match d.handle {
            Handle::File { ino, offset } => (ino, offset),
            Handle::Dir { .. } => return Err(Errno::Isdir.into()),
            Handle::Stdin | Handle::Stdout | Handle::Stderr => return Err(Errno::Spipe.into()),
        };
        let base = match u8::try_from(whence) {
            Ok(whence::SET) => 0,
            Ok(whence::CUR) => offset as i128,
            Ok(whence::END) => self.file_data(ino).len() as i128,
            _ => return Err(Errno::Inval.into()),
        };
        let new = base + delta as i128;
        if new < 0 || new > i64::MAX as i128 {
            return Err(Errno::Inval.into());
        }
        if let Handle::File { offset, .. } = &mut self.fds.get_mut(fd)?.handle {
            *offset = new as u64;
        }
        m.write_u64(out, new as u64)?;
        Ok(())
    }

    /// `fd_sync`: "Synchronize the data and metadata of a file to disk. Note: This is
    /// similar to `fsync` in POSIX."
    fn fd_sync(&mut self, _m: &mut Memory, fd: u32) -> Outcome {
        self.sync(fd, rights::FD_SYNC)
    }

    /// `fd_tell`: "Return the current offset of a file descriptor. Note: This is similar to
    /// `lseek(fd, 0, SEEK_CUR)` in POSIX."
    fn fd_tell(&mut self, m: &mut Memory, fd: u32, out: u32) -> Outcome {
        m.check_shape(out, layout::U64)?;
        let d = self.fds.get(fd)?;
        d.require(rights::FD_TELL)?;
        match d.handle {
            Handle::File { offset, .. } => m.write_u64(out, offset).map_err(Fault::from),
            Handle::Dir { .. } => Err(Errno::Isdir.into()),
            Handle::Stdin | Handle::Stdout | Handle::Stderr => Err(Errno::Spipe.into()),
        }
    }

    /// `fd_write`: "Write to a file descriptor. Note: This is similar to `writev` in
    /// POSIX." With `fdflags::append`, "data written to the file is always appended to the
    /// file's end"; the offset then moves to the end. Writing nothing has no other result
    /// (POSIX `write` with nbyte 0 on a regular file; Linux returns before it moves an
    /// append descriptor's offset), so the offset stays.
    fn fd_write(&mut self, m: &mut Memory, fd: u32, iovs: u32, n: u32, out: u32) -> Outcome {
        let iov = m.iovecs(iovs, n)?;
        m.check_shape(out, layout::U32)?;
        let d = self.fds.get(fd)?.clone();
        d.require(rights::FD_WRITE)?;
        let bytes = m.gather(&iov)?;
        match d.handle {
            Handle::Stdout => self.stdout.extend_from_slice(&bytes),
            Handle::Stderr => self.stderr.extend_from_slice(&bytes),
            Handle::File { ino, offset } => {
                let appends = d.flags & fdflags::APPEND != 0 && !bytes.is_empty();
                let at = if appends { self.file_data(ino).len() as u64 } else { offset };
                self.write_at(ino, at, &bytes)?;
                if let Handle::File { offset, .. } = &mut self.fds.get_mut(fd)?.handle {
                    *offset = at + bytes.len() as u64;
                }
            }
            Handle::Dir { .. } => return Err(Errno::Isdir.into()),
            // Choice: writing stdin, which is read-only: `badf` (POSIX).
            Handle::Stdin => return Err(Errno::Badf.into()),
        }
        m.write_u32(out, bytes.len() as u32)?;
        Ok(())
    }

    /// `path_create_directory`: "Create a directory. Note: This is similar to `mkdirat` in
    /// POSIX." A trailing slash is allowed (POSIX `mkdir("a/")`).
    fn path_create_directory(&mut self, m: &mut Memory, fd: u32, p: u32, len: u32) -> Outcome {
        let path = Self::string(m, p, len)?;
        let base = self.dir_fd(fd, rights::PATH_CREATE_DIRECTORY)?;
        let t = path::resolve(&self.fs, base, &path, Follow::No)?;
        if t.ino.is_some() {
            return Err(Errno::Exist.into());
        }
        let now = self.now();
        self.fs.add_dir(t.dir, &t.name, now);
        Ok(())
    }

    /// `path_filestat_get`: "Return the attributes of a file or directory. Note: This is
    /// similar to `stat` in POSIX."
    fn path_filestat_get(&mut self, m: &mut Memory, fd: u32, flags: u32, p: u32, len: u32, out: u32) -> Outcome {
        let path = Self::string(m, p, len)?;
        m.check_shape(out, layout::FILESTAT)?;
        let base = self.dir_fd(fd, rights::PATH_FILESTAT_GET)?;
        let ino = path::lookup(&self.fs, base, &path, Self::lookupflags(flags)?)?;
        self.write_filestat(m, out, Some(ino))
    }

    /// `path_filestat_set_times`: "Adjust the timestamps of a file or directory. Note: This
    /// is similar to `utimensat` in POSIX."
    fn path_filestat_set_times(
        &mut self,
        m: &mut Memory,
        fd: u32,
        flags: u32,
        p: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> Outcome {
        let path = Self::string(m, p, len)?;
        let base = self.dir_fd(fd, rights::PATH_FILESTAT_SET_TIMES)?;
        let follow = Self::lookupflags(flags)?;
        let t = self.times(atim, mtim, fst)?;
        let ino = path::lookup(&self.fs, base, &path, follow)?;
        self.set_times(ino, t);
        Ok(())
    }

    /// `path_link`: "Create a hard link. Note: This is similar to `linkat` in POSIX."
    /// Choice: linking a directory is `perm` (Linux `linkat`).
    fn path_link(
        &mut self,
        m: &mut Memory,
        old_fd: u32,
        flags: u32,
        op: u32,
        ol: u32,
        new_fd: u32,
        np: u32,
        nl: u32,
    ) -> Outcome {
        let old = Self::string(m, op, ol)?;
        let new = Self::string(m, np, nl)?;
        let old_base = self.dir_fd(old_fd, rights::PATH_LINK_SOURCE)?;
        let new_base = self.dir_fd(new_fd, rights::PATH_LINK_TARGET)?;
        let src = path::lookup(&self.fs, old_base, &old, Self::lookupflags(flags)?)?;
        let t = path::resolve(&self.fs, new_base, &new, Follow::No)?;
        if t.ino.is_some() {
            return Err(Errno::Exist.into());
        }
        if self.fs.is_dir(src) {
            return Err(Errno::Perm.into());
        }
        if t.trailing_slash {
            return Err(Errno::Noent.into());
        }
        let now = self.now();
        self.fs.add_link(t.dir, &t.name, src, now);
        Ok(())
    }

    /// `path_open`: "Open a file or directory. The returned file descriptor is not
    /// guaranteed to be the lowest-numbered file descriptor not currently open; it is
    /// randomized to prevent applications from depending on making assumptions about
    /// indexes, since this is error-prone in multi-threaded contexts. The returned file
    /// descriptor is guaranteed to be less than 2**31. Note: This is similar to `openat`
    /// in POSIX." Rights: `fs_rights_base` must be a subset of the directory's inheriting
    /// rights (else `notcapable`); `creat` needs `path_create_file`, `trunc` needs
    /// `path_filestat_set_size` (witx `rights` docs).
    fn path_open(
        &mut self,
        m: &mut Memory,
        fd: u32,
        dirflags: u32,
        p: u32,
        len: u32,
        oflags: u32,
        base: u64,
        inheriting: u64,
        fdflags: u32,
        out: u32,
    ) -> Outcome {
        let path = Self::string(m, p, len)?;
        m.check_shape(out, layout::U32)?;
        let has = |flag: u16| oflags & u32::from(flag) != 0;
        let (creat, directory, excl, trunc) =
            (has(oflags::CREAT), has(oflags::DIRECTORY), has(oflags::EXCL), has(oflags::TRUNC));
        let mut needed = rights::PATH_OPEN;
        if creat {
            needed |= rights::PATH_CREATE_FILE;
        }
        if trunc {
            needed |= rights::PATH_FILESTAT_SET_SIZE;
        }
        let dir = self.dir_fd(fd, needed)?;
        let follow = Self::lookupflags(dirflags)?;
        if oflags as u64 & !OFLAGS.all() != 0 || fdflags as u64 & !FDFLAGS.all() != 0 || base & !RIGHTS.all() != 0 {
            return Err(Errno::Inval.into());
        }
        let parent = self.fds.get(fd)?;
        if base & !parent.rights_inheriting != 0 || inheriting & !parent.rights_inheriting != 0 {
            return Err(Errno::Notcapable.into());
        }
        // POSIX open: "If O_EXCL and O_CREAT are set, and path names a symbolic link,
        // open() shall fail with [EEXIST], regardless of the contents of the symbolic link."
        if creat && excl && path::resolve(&self.fs, dir, &path, Follow::No)?.ino.is_some() {
            return Err(Errno::Exist.into());
        }
        let t: Target = path::resolve(&self.fs, dir, &path, follow)?;
        let now = self.now();
        let ino = match t.ino {
            Some(_) if creat && excl => return Err(Errno::Exist.into()),
            Some(ino) => ino,
            // POSIX `open(O_CREAT)` of "new/": `isdir`.
            None if creat && (t.trailing_slash || directory) => return Err(Errno::Isdir.into()),
            None if creat => self.fs.add_file(t.dir, &t.name, Vec::new(), now),
            None => return Err(Errno::Noent.into()),
        };
        let handle = match &self.fs.inode(ino).kind {
            Kind::Dir(_) => {
                // POSIX open: "[EISDIR] The named file is a directory and oflag includes
                // O_WRONLY or O_RDWR, or includes O_CREAT without O_DIRECTORY"; truncation
                // needs write access.
                if base & rights::FD_WRITE != 0 || trunc || (creat && !directory) {
                    return Err(Errno::Isdir.into());
                }
                Handle::Dir { ino, preopen: None }
            }
            Kind::File(_) if directory || t.trailing_slash => return Err(Errno::Notdir.into()),
            Kind::File(_) => {
                if trunc {
                    self.file_data(ino).clear();
                    let n = self.fs.inode_mut(ino);
                    n.mtim = now;
                    n.ctim = now;
                }
                Handle::File { ino, offset: 0 }
            }
            // Not following a final symlink (no `symlink_follow`): `loop`, as Linux
            // `O_NOFOLLOW` (wasi-testsuite `nofollow_errors` accepts loop or notdir/acces).
            Kind::Symlink(_) if directory => return Err(Errno::Notdir.into()),
            Kind::Symlink(_) => return Err(Errno::Loop.into()),
        };
        // Rights follow the file type: a descriptor holds only the requested rights that
        // apply to what it is (a directory has no `fd_seek`, a file no `path_*`), as Wasmtime,
        // wasi-common and WAMR report them and wasi-testsuite asserts (`directory_seek`:
        // "directory does NOT have the seek right"; `path_filestat` until 2025: "files
        // shouldn't have rights for path_* syscalls even if manually given").
        let (base_mask, inheriting_mask) = match handle {
            Handle::Dir { .. } => (DIR_RIGHTS, RIGHTS.all()),
            Handle::File { .. } | Handle::Stdin | Handle::Stdout | Handle::Stderr => (FILE_RIGHTS, FILE_RIGHTS),
        };
        let new = self.fds.insert(Descriptor {
            handle,
            rights_base: base & base_mask,
            rights_inheriting: inheriting & inheriting_mask,
            flags: fdflags as u16,
        });
        m.write_u32(out, new)?;
        Ok(())
    }

    /// `path_readlink`: "Read the contents of a symbolic link. Note: This is similar to
    /// `readlinkat` in POSIX." — "If `buf` is not large enough to contain the contents
    /// of the link, the first `buf_len` bytes will be written" (WASI PR #554).
    fn path_readlink(
        &mut self,
        m: &mut Memory,
        fd: u32,
        p: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> Outcome {
        let path = Self::string(m, p, len)?;
        m.slice(buf, buf_len)?;
        m.check_shape(out, layout::U32)?;
        let base = self.dir_fd(fd, rights::PATH_READLINK)?;
        let ino = path::lookup(&self.fs, base, &path, Follow::No)?;
        let target = match &self.fs.inode(ino).kind {
            Kind::Symlink(t) => t.clone(),
            // POSIX `readlink` of a non-link: `inval`.
            Kind::File(_) | Kind::Dir(_) => return Err(Errno::Inval.into()),
        };
        let n = target.len().min(buf_len as usize);
        m.write_bytes(buf, &target[..n])?;
        m.write_u32(out, n as u32)?;
        Ok(())
    }

    /// `path_remove_directory`: "Remove a directory. Return `errno::notempty` if the
    /// directory is not empty. Note: This is similar to `unlinkat(fd, path,
    /// AT_REMOVEDIR)` in POSIX."
    fn path_remove_directory(&mut self, m: &mut Memory, fd: u32, p: u32, len: u32) -> Outcome {
        let path = Self::string(m, p, len)?;
        let base = self.dir_fd(fd, rights::PATH_REMOVE_DIRECTORY)?;
        self.refuse_symlink_with_slash(base, &path)?;
        let t = path::resolve(&self.fs, base, &path, Follow::No)?;
        let ino = t.ino.ok_or(Errno::Noent)?;
        match t.name.as_slice() {
            // POSIX `rmdir`: "." is `inval`, ".." is `notempty`.
            b"." => return Err(Errno::Inval.into()),
            b".." => return Err(Errno::Notempty.into()),
            _ => {}
        }
        match &self.fs.inode(ino).kind {
            Kind::Dir(e) if !e.is_empty() => return Err(Errno::Notempty.into()),
            Kind::Dir(_) => {}
            Kind::File(_) | Kind::Symlink(_) => return Err(Errno::Notdir.into()),
        }
        let now = self.now();
        self.fs.remove_entry(t.dir, &t.name, now);
        Ok(())
    }

    /// `path_rename`: "Rename a file or directory. Note: This is similar to `renameat` in
    /// POSIX." POSIX rules: a directory may replace only an empty directory (`notempty`
    /// otherwise), a file may not replace a directory (`isdir`), a directory may not
    /// replace a file (`notdir`) nor move into itself (`inval`).
    fn path_rename(&mut self, m: &mut Memory, fd: u32, op: u32, ol: u32, new_fd: u32, np: u32, nl: u32) -> Outcome {
        let old = Self::string(m, op, ol)?;
        let new = Self::string(m, np, nl)?;
        let old_base = self.dir_fd(fd, rights::PATH_RENAME_SOURCE)?;
        let new_base = self.dir_fd(new_fd, rights::PATH_RENAME_TARGET)?;
        let s = path::resolve(&self.fs, old_base, &old, Follow::No)?;
        let src = s.ino.ok_or(Errno::Noent)?;
        let d = path::resolve(&self.fs, new_base, &new, Follow::No)?;
        if matches!(s.name.as_slice(), b"." | b"..") || matches!(d.name.as_slice(), b"." | b"..") {
            return Err(Errno::Busy.into());
        }
        let src_dir = self.fs.is_dir(src);
        if !src_dir && (s.trailing_slash || d.trailing_slash) {
            return Err(Errno::Notdir.into());
        }
        if src_dir && self.is_ancestor(src, d.dir) {
            return Err(Errno::Inval.into());
        }
        if let Some(dst) = d.ino {
            if dst == src {
                return Ok(());
            }
            match (src_dir, &self.fs.inode(dst).kind) {
                (true, Kind::Dir(e)) if !e.is_empty() => return Err(Errno::Notempty.into()),
                (true, Kind::Dir(_)) => {}
                (true, Kind::File(_) | Kind::Symlink(_)) => return Err(Errno::Notdir.into()),
                (false, Kind::Dir(_)) => return Err(Errno::Isdir.into()),
                (false, Kind::File(_) | Kind::Symlink(_)) => {}
            }
        }
        let now = self.now();
        self.fs.rename_entry(s.dir, &s.name, d.dir, &d.name, now);
        Ok(())
    }

    /// `path_symlink`: "Create a symbolic link. Note: This is similar to `symlinkat` in
    /// POSIX." The target is "just a string" (wasi-filesystem#9) and is not resolved at
    /// creation. Choice: an absolute target is refused with `perm` — such a link could
    /// never be followed in the sandbox (divergences.md A4: Wasmtime, Wasmer, WasmEdge,
    /// wazero and WAMR all refuse it).
    fn path_symlink(&mut self, m: &mut Memory, op: u32, ol: u32, fd: u32, np: u32, nl: u32) -> Outcome {
        let target = Self::string(m, op, ol)?;
        let new = Self::string(m, np, nl)?;
        let base = self.dir_fd(fd, rights::PATH_SYMLINK)?;
        let t = path::resolve(&self.fs, base, &new, Follow::No)?;
        if t.ino.is_some() {
            return Err(Errno::Exist.into());
        }
        if t.trailing_slash {
            return Err(Errno::Noent.into());
        }
        if target.first() == Some(&b'/') {
            return Err(Errno::Perm.into());
        }
        // Choice: an empty target is `noent` and a NUL in it `inval`, as Linux `symlinkat`
        // (no host could store either).
        if target.is_empty() {
            return Err(Errno::Noent.into());
        }
        if target.contains(&0) {
            return Err(Errno::Inval.into());
        }
        let now = self.now();
        self.fs.add_symlink(t.dir, &t.name, &target, now);
        Ok(())
    }

    /// `path_unlink_file`: "Unlink a file. Return `errno::isdir` if the path refers to a
    /// directory. Note: This is similar to `unlinkat(fd, path, 0)` in POSIX."
    fn path_unlink_file(&mut self, m: &mut Memory, fd: u32, p: u32, len: u32) -> Outcome {
        let path = Self::string(m, p, len)?;
        let base = self.dir_fd(fd, rights::PATH_UNLINK_FILE)?;
        let t = path::resolve(&self.fs, base, &path, Follow::No)?;
        let ino = t.ino.ok_or(Errno::Noent)?;
        if self.fs.is_dir(ino) {
            return Err(Errno::Isdir.into());
        }
        if t.trailing_slash {
            return Err(Errno::Notdir.into());
        }
        let now = self.now();
        self.fs.remove_entry(t.dir, &t.name, now);
        Ok(())
    }

    /// `poll_oneoff`: "Concurrently poll for the occurrence of a set of events. If
    /// `nsubscriptions` is 0, returns `errno::inval`." — fd events "always trigger for
    /// regular files"; a subscription's own error goes in its event's `error`. Clock
    /// subscriptions fire when no fd event is ready, the earliest deadline first (time
    /// advances to it; nothing really sleeps).
    fn poll_oneoff(&mut self, m: &mut Memory, input: u32, output: u32, n: u32, out: u32) -> Outcome {
        if n == 0 {
            return Err(Errno::Inval.into());
        }
        let (subscription, event) = (layout::SUBSCRIPTION, layout::EVENT);
        let subscriptions = n.checked_mul(subscription.size).ok_or_else(|| Trap("subscriptions overflow".into()))?;
        m.check(input, subscriptions, subscription.align)?;
        m.check(output, n.checked_mul(event.size).ok_or_else(|| Trap("events overflow".into()))?, event.align)?;
        m.check_shape(out, layout::U32)?;
        let mut ready: Vec<Event> = Vec::new();
        let mut clocks: Vec<(u64, u64)> = Vec::new();
        let now = self.clock.peek();
        let clock_event = |userdata, error| Event { userdata, error, ty: eventtype::CLOCK, nbytes: 0 };
        for i in 0..n {
            let Subscription { userdata, kind } = Subscription::read(m, input, i)?;
            match kind {
                SubscriptionKind::Clock { id, timeout, flags } => {
                    if self.supported_clock(id).is_err() || flags as u64 & !SUBCLOCKFLAGS.all() != 0 {
                        ready.push(clock_event(userdata, Errno::Inval));
                        continue;
                    }
                    let deadline = if flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0 {
                        // Absolute: compare in the clock's own time base.
                        let current = if id == clockid::REALTIME { clock::EPOCH_2026_NS + now } else { now };
                        now + timeout.saturating_sub(current)
                    } else {
                        now.saturating_add(timeout)
                    };
                    clocks.push((userdata, deadline));
                }
                SubscriptionKind::FdReadwrite { tag, fd } => {
                    let (error, nbytes) = self.fd_readiness(fd, tag);
                    ready.push(Event { userdata, error, ty: tag, nbytes });
                }
                SubscriptionKind::Unknown => return Err(Errno::Inval.into()),
            }
        }
        if ready.is_empty() {
            let first = clocks.iter().map(|c| c.1).min().expect("n > 0 and no fd events: clocks");
            self.clock.advance(first.saturating_sub(now));
            ready.extend(clocks.iter().filter(|c| c.1 == first).map(|c| clock_event(c.0, Errno::Success)));
        }
        for (i, e) in ready.iter().enumerate() {
            e.write(m, output, i as u32)?;
        }
        m.write_u32(out, ready.len() as u32)?;
        Ok(())
    }

    /// `proc_exit`: "Terminate the process normally. An exit code of 0 indicates successful
    /// termination of the program. The meanings of other values is dependent on the
    /// environment." Choice: every u32 is a valid status (WASI PR #235's `< 126` was a
    /// proposal, not preview1 text).
    fn proc_exit(&mut self, _m: &mut Memory, rval: u32) -> Exit {
        Exit(rval)
    }

    /// `proc_raise`: "Send a signal to the process of the calling thread. Note: This is
    /// similar to `raise` in POSIX." Choice: signals whose POSIX default action is to
    /// ignore (`none`, `chld`, `cont`, `urg`, `winch`) return success; every other one ends
    /// the program — modelled as an exit with status 128 + signal, as a POSIX shell
    /// reports it. Unknown signal numbers are `inval`.
    fn proc_raise(&mut self, _m: &mut Memory, sig: u32) -> Outcome {
        if SIGNAL.name_of(sig as u64).is_none() {
            return Err(Errno::Inval.into());
        }
        match sig as u8 {
            signal::NONE | signal::CHLD | signal::CONT | signal::URG | signal::WINCH => Ok(()),
            _ => Err(Exit(128 + sig).into()),
        }
    }

    /// `sched_yield`: "Temporarily yield execution of the calling thread. Note: This is
    /// similar to `sched_yield` in POSIX."
    fn sched_yield(&mut self, _m: &mut Memory) -> Outcome {
        Ok(())
    }

    /// `random_get`: "Write high-quality random data into a buffer." Deterministic here
    /// (xorshift64*, fixed seed), so every run of the reference is identical.
    fn random_get(&mut self, m: &mut Memory, buf: u32, len: u32) -> Outcome {
        let out = m.slice_mut(buf, len)?;
        for chunk in out.chunks_mut(8) {
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let v = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }

    /// `sock_accept`: "Accept a new incoming connection. Note: This is similar to `accept`
    /// in POSIX." No descriptor here is a socket: `notsock` after `badf`.
    fn sock_accept(&mut self, m: &mut Memory, fd: u32, _flags: u32, out: u32) -> Outcome {
        m.check_shape(out, layout::U32)?;
        self.not_a_socket(fd)
    }

    /// `sock_recv`: "Receive a message from a socket. Note: This is similar to `recv` in
    /// POSIX, though it also supports reading the data into multiple buffers in the manner
    /// of `readv`."
    fn sock_recv(
        &mut self,
        m: &mut Memory,
        fd: u32,
        iovs: u32,
        n: u32,
        _flags: u32,
        out: u32,
        out_flags: u32,
    ) -> Outcome {
        m.iovecs(iovs, n)?;
        m.check_shape(out, layout::U32)?;
        m.check_shape(out_flags, layout::U16)?;
        self.not_a_socket(fd)
    }

    /// `sock_send`: "Send a message on a socket. Note: This is similar to `send` in POSIX,
    /// though it also supports writing the data from multiple buffers in the manner of
    /// `writev`."
    fn sock_send(&mut self, m: &mut Memory, fd: u32, iovs: u32, n: u32, _flags: u32, out: u32) -> Outcome {
        m.iovecs(iovs, n)?;
        m.check_shape(out, layout::U32)?;
        self.not_a_socket(fd)
    }

    /// `sock_shutdown`: "Shut down socket send and receive channels. Note: This is similar
    /// to `shutdown` in POSIX."
    fn sock_shutdown(&mut self, _m: &mut Memory, fd: u32, how: u32) -> Outcome {
        self.fds.get(fd)?;
        if how as u64 & !SDFLAGS.all() != 0 {
            return Err(Errno::Inval.into());
        }
        self.not_a_socket(fd)
    }
}

/// Helpers of the functions above.
impl Wasi {
    /// A `string` argument: in bounds (else trap), UTF-8 (else `ilseq`, the witx type is a
    /// UTF-8 string).
    fn string(m: &Memory, ptr: u32, len: u32) -> Outcome<Vec<u8>> {
        let b = m.slice(ptr, len)?.to_vec();
        if std::str::from_utf8(&b).is_err() {
            return Err(Errno::Ilseq.into());
        }
        Ok(b)
    }

    fn write_filestat(&self, m: &mut Memory, ptr: u32, ino: Option<Ino>) -> Outcome {
        let stat = match ino {
            Some(ino) => {
                let n = self.fs.inode(ino);
                let size = match &n.kind {
                    Kind::File(d) => d.len() as u64,
                    Kind::Symlink(t) => t.len() as u64,
                    Kind::Dir(e) => e.len() as u64,
                };
                let (dev, filetype, nlink) = (Fs::DEV, self.fs.filetype(ino), n.nlink);
                Filestat { dev, ino, filetype, nlink, size, atim: n.atim, mtim: n.mtim, ctim: n.ctim }
            }
            // Choice: stdio has no inode here; like Wasmtime, report zeros and filetype
            // `unknown` (a pipe has no preview1 filetype).
            None => Filestat::default(),
        };
        stat.write(m, ptr)?;
        Ok(())
    }

    /// Validates `fstflags` (witx `fstflags`; Choice: `atim` with `atim_now`, or `mtim` with
    /// `mtim_now`, is `inval` — de-facto, wasi-testsuite `fstflags_validate`) and returns
    /// the new (atim, mtim), `None` meaning unchanged.
    fn times(&mut self, atim: u64, mtim: u64, flags: u32) -> Outcome<(Option<u64>, Option<u64>)> {
        if flags as u64 & !FSTFLAGS.all() != 0 {
            return Err(Errno::Inval.into());
        }
        let flags = flags as u16; // every defined bit fits
        let both = |set: u16, set_now: u16| flags & set != 0 && flags & set_now != 0;
        if both(fstflags::ATIM, fstflags::ATIM_NOW) || both(fstflags::MTIM, fstflags::MTIM_NOW) {
            return Err(Errno::Inval.into());
        }
        let now = self.now();
        let pick = |set: u16, set_now: u16, v: u64| {
            if flags & set != 0 {
                Some(v)
            } else if flags & set_now != 0 {
                Some(now)
            } else {
                None
            }
        };
        Ok((pick(fstflags::ATIM, fstflags::ATIM_NOW, atim), pick(fstflags::MTIM, fstflags::MTIM_NOW, mtim)))
    }

    fn lookupflags(flags: u32) -> Outcome<Follow> {
        if flags as u64 & !LOOKUPFLAGS.all() != 0 {
            return Err(Errno::Inval.into());
        }
        Ok(if flags & lookupflags::SYMLINK_FOLLOW != 0 { Follow::Yes } else { Follow::No })
    }

    fn strings_get(m: &mut Memory, list: &[Vec<u8>], array: u32, buf: u32) -> Outcome {
        let mut at = buf;
        for (i, s) in list.iter().enumerate() {
            m.write_u32(array + layout::U32.size * i as u32, at)?;
            m.write_bytes(at, s)?;
            m.write_u8(at + s.len() as u32, 0)?;
            at += s.len() as u32 + 1;
        }
        Ok(())
    }

    fn strings_sizes(m: &mut Memory, list: &[Vec<u8>], count: u32, size: u32) -> Outcome {
        m.check_shape(count, layout::U32)?;
        m.check_shape(size, layout::U32)?;
        m.write_u32(count, list.len() as u32)?;
        m.write_u32(size, list.iter().map(|s| s.len() as u32 + 1).sum())?;
        Ok(())
    }

    fn supported_clock(&self, id: u32) -> Outcome<bool> {
        match id {
            clockid::REALTIME => Ok(true),
            clockid::MONOTONIC => Ok(false),
            _ => Err(Errno::Inval.into()),
        }
    }

    fn sync(&mut self, fd: u32, needed: u64) -> Outcome {
        let d = self.fds.get(fd)?;
        d.require(needed)?;
        match d.handle {
            Handle::File { .. } | Handle::Dir { .. } => Ok(()),
            Handle::Stdin | Handle::Stdout | Handle::Stderr => Err(Errno::Inval.into()),
        }
    }

    /// Choice: removing `link/` where `link` is a symlink (to a directory) is `notdir`, as
    /// Linux `rmdir`/`unlink` do: the link is not a directory and the call never removes
    /// the link's target.
    fn refuse_symlink_with_slash(&self, base: Ino, path: &[u8]) -> Outcome {
        let trimmed = path.iter().rposition(|b| *b != b'/').map(|i| &path[..=i]);
        if let Some(name) = trimmed.filter(|t| t.len() < path.len()) {
            if let Ok(t) = path::resolve(&self.fs, base, name, Follow::No) {
                if t.ino.is_some_and(|i| self.fs.filetype(i) == filetype::SYMBOLIC_LINK) {
                    return Err(Errno::Notdir.into());
                }
            }
        }
        Ok(())
    }

    /// (error, nbytes) of an `fd_read` / `fd_write` subscription (`tag` is its `eventtype`).
    fn fd_readiness(&self, fd: u32, tag: u8) -> (Errno, u64) {
        let d = match self.fds.get(fd) {
            Ok(d) => d,
            Err(e) => return (e, 0),
        };
        if d.require(rights::POLL_FD_READWRITE).is_err() {
            return (Errno::Notcapable, 0);
        }
        match (&d.handle, tag) {
            (Handle::File { ino, offset }, eventtype::FD_READ) => {
                let len = match &self.fs.inode(*ino).kind {
                    Kind::File(data) => data.len() as u64,
                    Kind::Dir(_) | Kind::Symlink(_) => 0,
                };
                (Errno::Success, len.saturating_sub(*offset))
            }
            (Handle::Stdin, eventtype::FD_READ) => (Errno::Success, (self.stdin.len() - self.stdin_pos) as u64),
            (Handle::File { .. } | Handle::Stdout | Handle::Stderr, eventtype::FD_WRITE) => (Errno::Success, 0),
            // Choice: polling a directory, or stdio in the wrong direction: `badf`.
            _ => (Errno::Badf, 0),
        }
    }

    fn not_a_socket(&self, fd: u32) -> Outcome {
        self.fds.get(fd)?;
        Err(Errno::Notsock.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::WasiConfig;
    use wasi_conform_case::fixture::{Node, Tree};

    fn wasi() -> Wasi {
        let mut tree = Tree::new();
        for name in ["a", "b", "c"] {
            tree.insert(name.to_owned(), Node::File(name.as_bytes().to_vec()));
        }
        tree.insert("sub".to_owned(), Node::Dir);
        Wasi::new(WasiConfig {
            args: vec!["prog".into()],
            env: vec![],
            stdin: vec![],
            preopens: vec![("/sandbox".into(), "sandbox".into(), tree)],
        })
    }

    /// Names in a readdir buffer (complete entries only) and the last `d_next`.
    fn names(buf: &[u8]) -> (Vec<String>, u64) {
        let (mut out, mut next, mut off) = (Vec::new(), 0, 0);
        while off + 24 <= buf.len() {
            let namlen = u32::from_le_bytes(buf[off + 16..off + 20].try_into().unwrap()) as usize;
            let Some(name) = buf.get(off + 24..off + 24 + namlen) else { break };
            next = u64::from_le_bytes(buf[off..off + 8].try_into().unwrap());
            out.push(String::from_utf8(name.to_vec()).unwrap());
            off += 24 + namlen;
        }
        (out, next)
    }

    fn readdir(w: &mut Wasi, mem: &mut [u8], len: u32, cookie: u64) -> (Vec<String>, u64, u32) {
        let mut m = Memory::new(mem);
        w.fd_readdir(&mut m, 3, 64, len, cookie, 0).unwrap();
        let used = m.read_u32(0).unwrap();
        let (n, next) = names(m.slice(64, used).unwrap());
        (n, next, used)
    }

    #[test]
    fn readdir_lists_dot_entries_first_and_cookies_resume_mid_listing() {
        let mut w = wasi();
        let mut mem = vec![0u8; 4096];
        let (all, _, used) = readdir(&mut w, &mut mem, 1024, 0);
        assert_eq!(all, [".", "..", "a", "b", "c", "sub"]);
        assert!(used < 1024, "bufused < buf_len means the end was reached");
        // A buffer for two entries and a half: the third is truncated, not listed.
        let (first, next, used) = readdir(&mut w, &mut mem, 2 * 25 + 12, 0);
        assert_eq!(first, [".", ".."]);
        assert_eq!(used, 2 * 25 + 12, "the buffer is filled completely");
        // Resuming from the last complete entry's d_next continues where it stopped.
        let (rest, _, _) = readdir(&mut w, &mut mem, 1024, next);
        assert_eq!(rest, ["a", "b", "c", "sub"]);
        // A cookie past the end lists nothing.
        assert_eq!(readdir(&mut w, &mut mem, 1024, 99).2, 0);
    }

    #[test]
    fn rights_can_only_shrink_and_are_enforced() {
        let mut w = wasi();
        let mut mem = vec![0u8; 256];
        mem[100..103].copy_from_slice(b"new");
        let mut m = Memory::new(&mut mem);
        let base = w.fds.get(3).unwrap().rights_base;
        let more = w.fd_fdstat_set_rights(&mut m, 3, base | rights::FD_READ, 0);
        assert_eq!(more, Err(Fault::Errno(Errno::Notcapable)));
        w.fd_fdstat_set_rights(&mut m, 3, base & !rights::PATH_CREATE_DIRECTORY, 0).unwrap();
        assert_eq!(w.path_create_directory(&mut m, 3, 100, 3), Err(Fault::Errno(Errno::Notcapable)));
    }

    #[test]
    fn errno_trap_and_exit_are_distinct() {
        let mut w = wasi();
        let mut mem = vec![0u8; 64];
        let mut m = Memory::new(&mut mem);
        assert_eq!(w.fd_close(&mut m, 77), Err(Fault::Errno(Errno::Badf)));
        assert!(matches!(w.fd_tell(&mut m, 3, 1), Err(Fault::Trap(_))), "misaligned out-pointer traps");
        assert!(matches!(w.args_sizes_get(&mut m, 4096, 0), Err(Fault::Trap(_))), "out of bounds traps");
        assert_eq!(w.proc_exit(&mut m, 200), Exit(200));
        assert_eq!(w.poll_oneoff(&mut m, 0, 0, 0, 0), Err(Fault::Errno(Errno::Inval)));
    }

    #[test]
    fn clocks_are_deterministic_and_monotonic() {
        let (mut a, mut b) = (wasi(), wasi());
        let mut mem = vec![0u8; 64];
        let mut read = |w: &mut Wasi| {
            let mut m = Memory::new(&mut mem);
            w.clock_time_get(&mut m, 1, 0, 8).unwrap();
            m.read_u64(8).unwrap()
        };
        let (a1, a2, b1) = (read(&mut a), read(&mut a), read(&mut b));
        assert!(a2 > a1);
        assert_eq!(a1, b1);
    }

    /// This file keeps the 46 functions in witx order.
    #[test]
    fn the_functions_are_in_witx_order() {
        let source = include_str!("wasi.rs");
        let at: Vec<usize> = wasi_conform_abi::FUNCTIONS
            .iter()
            .map(|f| source.find(&format!("\n    fn {}(", f.name)).expect("implemented here"))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]));
    }
}
