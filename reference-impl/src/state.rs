//! The state of one run of the reference ([`Wasi`]): what the guest starts with
//! ([`WasiConfig`]), the sandbox it starts in, and what it leaves behind (stdout, stderr, the
//! preopens' trees, the canaries), and the accessors the functions share (a descriptor
//! resolved to a directory or a file, file bytes, offsets, timestamps). The 46 functions
//! that change it are in `wasi.rs`; the engine binding calls them through [`Wasi::call`].

use std::collections::BTreeMap;

use wasi_conform_abi::types::{rights, RIGHTS};
use wasi_conform_abi::{Errno, Function};
use wasi_conform_case::fixture::Tree;
use wasi_conform_case::sandbox;

use crate::clock::Clock;
use crate::fault::Outcome;
use crate::fdtable::{Descriptor, FdTable, Handle, DIR_RIGHTS};
use crate::fs::{Fs, Ino, Kind};
use crate::memory::Memory;
use crate::preview1::{self, CallResult};
use crate::wasi::MAX_FILE_SIZE;

/// What the guest starts with.
#[derive(Debug, Clone, Default)]
pub struct WasiConfig {
    /// The whole argv.
    pub args: Vec<String>,
    /// The whole environment, `KEY=VALUE`.
    pub env: Vec<String>,
    pub stdin: Vec<u8>,
    /// Preopens: guest name, host-side binding (directory name), initial tree.
    pub preopens: Vec<(String, String, Tree)>,
}

/// The state of one run.
pub struct Wasi {
    pub(crate) fs: Fs,
    pub(crate) fds: FdTable,
    pub(crate) clock: Clock,
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) stdin: Vec<u8>,
    pub(crate) stdin_pos: usize,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) rng: u64,
    preopens: Vec<(String, Ino)>,
    sandbox_root: Ino,
    watched_before: Tree,
}

impl Wasi {
    /// Lays out the same sandbox the host runtimes get (`wasi_conform_case::sandbox`:
    /// `/guard`, `/root/<binding>/` per preopen, the canaries under `/root/outside`); stdio
    /// at 0–2 and the preopens from fd 3.
    pub fn new(cfg: WasiConfig) -> Wasi {
        let mut clock = Clock::default();
        let now = clock.realtime();
        let mut fs = Fs::new(now);
        let mut made: BTreeMap<&str, Ino> = BTreeMap::new();
        for (path, kind) in sandbox::LAYOUT {
            let (parent, name) = match path.rsplit_once('/') {
                Some((parent, name)) => (made[parent], name),
                None => (Fs::ROOT, *path),
            };
            let ino = match kind {
                sandbox::Watched::Dir => fs.add_dir(parent, name.as_bytes(), now),
                sandbox::Watched::Canary => fs.add_file(parent, name.as_bytes(), sandbox::CANARY.to_vec(), now),
            };
            made.insert(path, ino);
        }
        let root = made[sandbox::ROOT];
        let mut fds = FdTable::default();
        // Choice: stdio holds the rights of a stream in its direction — like uvwasi's TTY
        // set: read or write, plus fd_fdstat_set_flags, fd_filestat_get, poll_fd_readwrite
        // (no seek or tell: a pipe cannot seek).
        let stdio = |h, rw| {
            let rights = rw | rights::FD_FDSTAT_SET_FLAGS | rights::FD_FILESTAT_GET | rights::POLL_FD_READWRITE;
            Descriptor { handle: h, rights_base: rights, rights_inheriting: 0, flags: 0 }
        };
        fds.insert_at(0, stdio(Handle::Stdin, rights::FD_READ));
        fds.insert_at(1, stdio(Handle::Stdout, rights::FD_WRITE));
        fds.insert_at(2, stdio(Handle::Stderr, rights::FD_WRITE));
        let mut preopens = Vec::new();
        for (i, (guest, binding, tree)) in cfg.preopens.iter().enumerate() {
            let ino = fs.add_dir(root, binding.as_bytes(), now);
            fs.seed(ino, tree, now);
            fds.insert_at(
                3 + i as u32,
                Descriptor {
                    handle: Handle::Dir { ino, preopen: Some(guest.clone()) },
                    rights_base: DIR_RIGHTS,
                    rights_inheriting: RIGHTS.all(),
                    flags: 0,
                },
            );
            preopens.push((guest.clone(), ino));
        }
        let mut w = Wasi {
            fs,
            fds,
            clock,
            args: cfg.args.into_iter().map(String::into_bytes).collect(),
            env: cfg.env.into_iter().map(String::into_bytes).collect(),
            stdin: cfg.stdin,
            stdin_pos: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
            preopens,
            sandbox_root: root,
            watched_before: Tree::new(),
        };
        w.watched_before = w.watched();
        w
    }

    pub fn stdout(&self) -> &[u8] {
        &self.stdout
    }

    pub fn stderr(&self) -> &[u8] {
        &self.stderr
    }

    /// The final tree of each preopen, by guest name.
    pub fn trees(&self) -> BTreeMap<String, Tree> {
        self.preopens.iter().map(|(g, ino)| (g.clone(), self.fs.export(*ino))).collect()
    }

    /// Everything outside the preopens, as a tree (the canaries).
    fn watched(&self) -> Tree {
        self.fs
            .export(Fs::ROOT)
            .into_iter()
            .filter(|(p, _)| !self.preopens.iter().any(|(_, ino)| self.is_preopen_path(p, *ino)))
            .collect()
    }

    fn is_preopen_path(&self, p: &str, ino: Ino) -> bool {
        let binding = self
            .fs
            .entries(self.sandbox_root)
            .into_iter()
            .find(|(_, i)| *i == ino)
            .map(|(n, _)| sandbox::preopen_dir(&String::from_utf8_lossy(&n)));
        binding.is_some_and(|b| p == b || p.starts_with(&format!("{b}/")))
    }

    /// Paths outside the preopens that changed during the run.
    pub fn canaries_changed(&self) -> Vec<String> {
        sandbox::changes(&self.watched_before, &self.watched(), |_, _| "modified")
    }

    /// Performs one imported call with its raw core-wasm arguments (`i32`s zero-extended,
    /// `i64`s as bits), in the order of `f.core_params()`: [`preview1::dispatch`] to the
    /// function in `wasi.rs`.
    pub fn call(&mut self, f: &Function, args: &[u64], mem: &mut Memory) -> CallResult {
        preview1::dispatch(self, f, args, mem)
    }
}

/// How the functions in `wasi.rs` look at and change the state: descriptors resolved to
/// inodes, file bytes, offsets and timestamps.
impl Wasi {
    /// The real-time clock, advancing (timestamps of changes).
    pub(crate) fn now(&mut self) -> u64 {
        self.clock.realtime()
    }

    /// The directory behind a descriptor used as the base of a `path_*` call.
    /// Choice: a descriptor that is not a directory gives `notdir` (POSIX `*at` with a
    /// non-directory fd), checked after `badf` and `notcapable`.
    pub(crate) fn dir_fd(&self, fd: u32, needed: u64) -> Outcome<Ino> {
        let d = self.fds.get(fd)?;
        d.require(needed)?;
        match d.handle {
            Handle::Dir { ino, .. } => Ok(ino),
            Handle::File { .. } | Handle::Stdin | Handle::Stdout | Handle::Stderr => Err(Errno::Notdir.into()),
        }
    }

    /// The file behind a descriptor for byte I/O.
    /// Choice: a directory gives `isdir` (POSIX read/write on a directory), stdio is
    /// handled by the callers.
    pub(crate) fn file_ino(&self, fd: u32) -> Outcome<Ino> {
        match self.fds.get(fd)?.handle {
            Handle::File { ino, .. } => Ok(ino),
            Handle::Dir { .. } => Err(Errno::Isdir.into()),
            Handle::Stdin | Handle::Stdout | Handle::Stderr => Err(Errno::Spipe.into()),
        }
    }

    /// The bytes of a regular file.
    pub(crate) fn file_data(&mut self, ino: Ino) -> &mut Vec<u8> {
        match &mut self.fs.inode_mut(ino).kind {
            Kind::File(d) => d,
            Kind::Dir(_) | Kind::Symlink(_) => unreachable!("file handles only refer to regular files"),
        }
    }

    /// Sets (atim, mtim) where given (`None`: unchanged); ctim is now.
    pub(crate) fn set_times(&mut self, ino: Ino, t: (Option<u64>, Option<u64>)) {
        let now = self.now();
        let n = self.fs.inode_mut(ino);
        if let Some(a) = t.0 {
            n.atim = a;
        }
        if let Some(mt) = t.1 {
            n.mtim = mt;
        }
        n.ctim = now;
    }

    /// The guest name of a preopened directory; `badf` for any other descriptor.
    pub(crate) fn preopen_name(&self, fd: u32) -> Outcome<String> {
        match &self.fds.get(fd)?.handle {
            Handle::Dir { preopen: Some(name), .. } => Ok(name.clone()),
            Handle::Dir { preopen: None, .. }
            | Handle::File { .. }
            | Handle::Stdin
            | Handle::Stdout
            | Handle::Stderr => Err(Errno::Badf.into()),
        }
    }

    /// Writes `bytes` at `offset`, growing the file with zeros; `fbig` past
    /// [`MAX_FILE_SIZE`]. Writing nothing changes nothing, wherever `offset` is: POSIX
    /// `write`/`pwrite`, "If nbyte is zero and the file is a regular file, [...] the write()
    /// function shall return zero and have no other results" (Linux returns before its
    /// size checks).
    pub(crate) fn write_at(&mut self, ino: Ino, offset: u64, bytes: &[u8]) -> Outcome {
        if bytes.is_empty() {
            return Ok(());
        }
        let end = offset.checked_add(bytes.len() as u64).filter(|e| *e <= MAX_FILE_SIZE).ok_or(Errno::Fbig)?;
        let now = self.now();
        let data = self.file_data(ino);
        if (data.len() as u64) < end {
            data.resize(end as usize, 0);
        }
        data[offset as usize..end as usize].copy_from_slice(bytes);
        if !bytes.is_empty() {
            let n = self.fs.inode_mut(ino);
            n.mtim = now;
            n.ctim = now;
        }
        Ok(())
    }

    /// Moves a file descriptor's offset forward.
    pub(crate) fn advance(&mut self, fd: u32, by: u64) {
        if let Ok(Descriptor { handle: Handle::File { offset, .. }, .. }) = self.fds.get_mut(fd) {
            *offset += by;
        }
    }

    /// Whether directory `a` is `b` or one of its ancestors.
    pub(crate) fn is_ancestor(&self, a: Ino, mut b: Ino) -> bool {
        loop {
            if a == b {
                return true;
            }
            let p = self.fs.inode(b).parent;
            if p == b {
                return false;
            }
            b = p;
        }
    }
}
