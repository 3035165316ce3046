//! The in-memory file system the reference runs on.
//!
//! It is a table of inodes, numbered sequentially from 1 ([`Fs::ROOT`]). An inode is a
//! directory (a map from names to inode numbers), a regular file (its bytes) or a symbolic
//! link (its target, never interpreted here: see [`crate::path`]). Hard links are several
//! directory entries naming the same inode.
//!
//! The rules it keeps, all from POSIX:
//! - `nlink` of a file or symlink is the number of entries naming it; `nlink` of a directory
//!   is 2 (its entry in its parent and its own `.`) plus its number of subdirectories (their
//!   `..`); removing a directory sets its `nlink` to 0;
//! - creating, removing or renaming an entry sets the directory's `mtim` and `ctim`; changing
//!   an inode's link count (link, unlink, rename) sets its `ctim`;
//! - inodes are never freed: a descriptor may still refer to a removed file, which keeps its
//!   contents, as an unlinked-but-open file does on POSIX.
//!
//! This module only performs the changes; checking that they are allowed (the name is free,
//! a directory is empty, a rename does not move a directory into itself, …) is the caller's
//! job, and breaking one of those invariants panics.
//!
//! [`Fs::seed`] builds a scenario fixture ([`Tree`]) and [`Fs::export`] gives the tree back
//! in the same form, to compare with a scenario's expected final tree.

use std::collections::BTreeMap;

use wasi_conform_abi::types::filetype;
use wasi_conform_case::fixture::{Node, Tree};

/// An inode number (`filestat.ino`).
pub type Ino = u64;

/// What an inode is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory: its entries (never `.` or `..`), sorted by name.
    Dir(BTreeMap<Vec<u8>, Ino>),
    /// A regular file and its contents.
    File(Vec<u8>),
    /// A symbolic link and its target, exactly as created.
    Symlink(Vec<u8>),
}

/// One file system object and its metadata.
#[derive(Debug, Clone)]
pub struct Inode {
    pub kind: Kind,
    /// The number of hard links (see the module docs for directories).
    pub nlink: u64,
    /// Last access, in nanoseconds since the Unix epoch.
    pub atim: u64,
    /// Last data modification.
    pub mtim: u64,
    /// Last status change.
    pub ctim: u64,
    /// For directories: the parent directory (the root is its own parent). For other kinds:
    /// the directory the inode was created in (informational only; a file may have several
    /// parents through hard links).
    pub parent: Ino,
}

/// The whole file system: every inode ever created, indexed by number.
#[derive(Debug, Clone)]
pub struct Fs {
    /// `inodes[i]` is inode `i + 1`.
    inodes: Vec<Inode>,
}

impl Fs {
    /// The root directory. Preopens are directories somewhere under it.
    pub const ROOT: Ino = 1;
    /// The device number reported in filestat.dev.
    pub const DEV: u64 = 1;

    /// A file system holding only an empty root directory (nlink 2: its `.` and `..`).
    pub fn new(now: u64) -> Fs {
        let root =
            Inode { kind: Kind::Dir(BTreeMap::new()), nlink: 2, atim: now, mtim: now, ctim: now, parent: Fs::ROOT };
        Fs { inodes: vec![root] }
    }

    /// The inode `ino`. Panics if there is no such inode: inode numbers only come from this
    /// file system, so that is a bug in the caller.
    pub fn inode(&self, ino: Ino) -> &Inode {
        ino.checked_sub(1).and_then(|i| self.inodes.get(i as usize)).unwrap_or_else(|| panic!("unknown inode {ino}"))
    }

    /// The inode `ino`, writable. Panics like [`Fs::inode`].
    pub fn inode_mut(&mut self, ino: Ino) -> &mut Inode {
        ino.checked_sub(1)
            .and_then(|i| self.inodes.get_mut(i as usize))
            .unwrap_or_else(|| panic!("unknown inode {ino}"))
    }

    /// The witx `filetype` value of `ino`: `directory`, `regular_file` or `symbolic_link`.
    pub fn filetype(&self, ino: Ino) -> u8 {
        match self.inode(ino).kind {
            Kind::Dir(_) => filetype::DIRECTORY,
            Kind::File(_) => filetype::REGULAR_FILE,
            Kind::Symlink(_) => filetype::SYMBOLIC_LINK,
        }
    }

    /// Whether `ino` is a directory.
    pub fn is_dir(&self, ino: Ino) -> bool {
        matches!(self.inode(ino).kind, Kind::Dir(_))
    }

    /// The entry `name` of directory `dir`; `None` if `dir` is not a directory or has no such
    /// entry. `.` and `..` are not entries: path resolution handles them.
    pub fn child(&self, dir: Ino, name: &[u8]) -> Option<Ino> {
        match &self.inode(dir).kind {
            Kind::Dir(entries) => entries.get(name).copied(),
            _ => None,
        }
    }

    /// The entries of directory `dir`, sorted by name, without `.` and `..` (empty if `dir`
    /// is not a directory).
    pub fn entries(&self, dir: Ino) -> Vec<(Vec<u8>, Ino)> {
        match &self.inode(dir).kind {
            Kind::Dir(entries) => entries.iter().map(|(n, &i)| (n.clone(), i)).collect(),
            _ => Vec::new(),
        }
    }

    /// Creates directory `parent/name` (the name must be free): nlink 2, and the parent
    /// gains a link (the new directory's `..`).
    pub fn add_dir(&mut self, parent: Ino, name: &[u8], now: u64) -> Ino {
        let ino = self.alloc(Kind::Dir(BTreeMap::new()), 2, parent, now);
        self.insert_entry(parent, name, ino, now);
        self.inode_mut(parent).nlink += 1;
        ino
    }

    /// Creates regular file `parent/name` with `data` (the name must be free): nlink 1.
    pub fn add_file(&mut self, parent: Ino, name: &[u8], data: Vec<u8>, now: u64) -> Ino {
        let ino = self.alloc(Kind::File(data), 1, parent, now);
        self.insert_entry(parent, name, ino, now);
        ino
    }

    /// Creates symbolic link `parent/name` pointing at `target` (the name must be free):
    /// nlink 1. The target is stored as is.
    pub fn add_symlink(&mut self, parent: Ino, name: &[u8], target: &[u8], now: u64) -> Ino {
        let ino = self.alloc(Kind::Symlink(target.to_vec()), 1, parent, now);
        self.insert_entry(parent, name, ino, now);
        ino
    }

    /// Adds hard link `parent/name` to the existing non-directory `ino` (the name must be
    /// free): its nlink grows by one and its ctim is set.
    pub fn add_link(&mut self, parent: Ino, name: &[u8], ino: Ino, now: u64) {
        assert!(!self.is_dir(ino), "hard link to directory {ino}");
        self.insert_entry(parent, name, ino, now);
        let inode = self.inode_mut(ino);
        inode.nlink += 1;
        inode.ctim = now;
    }

    /// Removes the entry `parent/name` (it must exist) and returns what it named. A file or
    /// symlink loses a link; a removed directory (which the caller has checked is empty) gets
    /// nlink 0 and its parent loses the link of its `..`. The inode itself stays, for the
    /// descriptors still open on it.
    pub fn remove_entry(&mut self, parent: Ino, name: &[u8], now: u64) -> Ino {
        let ino = match &mut self.inode_mut(parent).kind {
            Kind::Dir(entries) => entries.remove(name),
            _ => None,
        };
        let ino = ino.unwrap_or_else(|| panic!("no entry {:?} in {parent}", String::from_utf8_lossy(name)));
        self.touch_dir(parent, now);
        if self.is_dir(ino) {
            self.inode_mut(ino).nlink = 0;
            self.inode_mut(parent).nlink -= 1;
        } else {
            self.inode_mut(ino).nlink -= 1;
        }
        self.inode_mut(ino).ctim = now;
        ino
    }

    /// Moves `from_parent/from_name` to `to_parent/to_name`, replacing an existing target
    /// (caller has checked the POSIX rules); updates a moved directory's `parent` and link
    /// counts.
    ///
    /// As POSIX `rename` says, if both names already name the same inode (the same entry,
    /// or two hard links of one file) nothing happens.
    pub fn rename_entry(&mut self, from_parent: Ino, from_name: &[u8], to_parent: Ino, to_name: &[u8], now: u64) {
        let ino = self
            .child(from_parent, from_name)
            .unwrap_or_else(|| panic!("no entry {:?} in {from_parent}", String::from_utf8_lossy(from_name)));
        match self.child(to_parent, to_name) {
            Some(existing) if existing == ino => return,
            Some(_) => {
                self.remove_entry(to_parent, to_name, now);
            }
            None => {}
        }
        if let Kind::Dir(entries) = &mut self.inode_mut(from_parent).kind {
            entries.remove(from_name);
        }
        self.touch_dir(from_parent, now);
        self.insert_entry(to_parent, to_name, ino, now);
        if self.is_dir(ino) {
            // The moved directory's `..` now links to its new parent.
            self.inode_mut(from_parent).nlink -= 1;
            self.inode_mut(to_parent).nlink += 1;
            self.inode_mut(ino).parent = to_parent;
        }
        self.inode_mut(ino).ctim = now;
    }

    /// Creates the fixture tree under `dir` (parents implied, Node::Hardlink links to the
    /// named file of the same tree), all timestamps `now`.
    ///
    /// The tree is assumed valid as the scenario loader checks it (relative paths without
    /// `.`/`..`, parents not files, hard links naming a file of the tree); a broken fixture
    /// panics.
    pub fn seed(&mut self, dir: Ino, tree: &Tree, now: u64) {
        // Hard links last: their targets must exist, and may sort after them.
        for (path, node) in tree {
            let (parent, name) = self.seed_parent(dir, path, now);
            match node {
                Node::Dir => {
                    if self.child(parent, name).is_none() {
                        self.add_dir(parent, name, now);
                    }
                }
                Node::File(data) => {
                    self.add_file(parent, name, data.clone(), now);
                }
                Node::Symlink(target) => {
                    self.add_symlink(parent, name, target.as_bytes(), now);
                }
                Node::Hardlink(_) => {}
            }
        }
        for (path, node) in tree {
            if let Node::Hardlink(target) = node {
                let (tparent, tname) = self.seed_parent(dir, target, now);
                let ino = self.child(tparent, tname).unwrap_or_else(|| panic!("hard link target {target:?} missing"));
                let (parent, name) = self.seed_parent(dir, path, now);
                self.add_link(parent, name, ino, now);
            }
        }
    }

    /// The tree under `dir` in the same form (paths joined with '/', every directory listed
    /// as Node::Dir, files with contents, symlinks with targets; lossy UTF-8 for names and
    /// targets). Hard links show as files, each with the contents.
    pub fn export(&self, dir: Ino) -> Tree {
        let mut tree = Tree::new();
        self.export_into(dir, "", &mut tree);
        tree
    }

    fn export_into(&self, dir: Ino, prefix: &str, tree: &mut Tree) {
        for (name, ino) in self.entries(dir) {
            let path = format!("{prefix}{}", String::from_utf8_lossy(&name));
            match &self.inode(ino).kind {
                Kind::Dir(_) => {
                    tree.insert(path.clone(), Node::Dir);
                    self.export_into(ino, &format!("{path}/"), tree);
                }
                Kind::File(data) => {
                    tree.insert(path, Node::File(data.clone()));
                }
                Kind::Symlink(target) => {
                    tree.insert(path, Node::Symlink(String::from_utf8_lossy(target).into_owned()));
                }
            }
        }
    }

    /// For fixture path `a/b/c` under `dir`: creates the directories `a` and `a/b` if
    /// missing, and returns (inode of `a/b`, `c`).
    fn seed_parent<'p>(&mut self, dir: Ino, path: &'p str, now: u64) -> (Ino, &'p [u8]) {
        let mut components = path.split('/').filter(|c| !c.is_empty()).peekable();
        let mut parent = dir;
        while let Some(c) = components.next() {
            if components.peek().is_none() {
                return (parent, c.as_bytes());
            }
            parent = match self.child(parent, c.as_bytes()) {
                Some(ino) => {
                    assert!(self.is_dir(ino), "fixture path {path:?} lies under a non-directory");
                    ino
                }
                None => self.add_dir(parent, c.as_bytes(), now),
            };
        }
        panic!("empty fixture path")
    }

    /// A new, unlinked inode.
    fn alloc(&mut self, kind: Kind, nlink: u64, parent: Ino, now: u64) -> Ino {
        self.inodes.push(Inode { kind, nlink, atim: now, mtim: now, ctim: now, parent });
        self.inodes.len() as Ino
    }

    /// Adds the entry `dir/name` → `ino`; the name must be free.
    fn insert_entry(&mut self, dir: Ino, name: &[u8], ino: Ino, now: u64) {
        match &mut self.inode_mut(dir).kind {
            Kind::Dir(entries) => {
                let old = entries.insert(name.to_vec(), ino);
                assert!(old.is_none(), "entry {:?} already exists in {dir}", String::from_utf8_lossy(name));
            }
            _ => panic!("inode {dir} is not a directory"),
        }
        self.touch_dir(dir, now);
    }

    /// A directory's entries changed: its mtim and ctim.
    fn touch_dir(&mut self, dir: Ino, now: u64) {
        let inode = self.inode_mut(dir);
        inode.mtim = now;
        inode.ctim = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(s: &str) -> Node {
        Node::File(s.as_bytes().to_vec())
    }

    fn tree(nodes: &[(&str, Node)]) -> Tree {
        nodes.iter().map(|(p, n)| (p.to_string(), n.clone())).collect()
    }

    #[test]
    fn new_has_an_empty_root() {
        let fs = Fs::new(7);
        let root = fs.inode(Fs::ROOT);
        assert_eq!(root.kind, Kind::Dir(BTreeMap::new()));
        assert_eq!((root.nlink, root.parent, root.atim, root.mtim, root.ctim), (2, Fs::ROOT, 7, 7, 7));
        assert_eq!(fs.filetype(Fs::ROOT), 3);
    }

    #[test]
    #[should_panic(expected = "unknown inode 0")]
    fn unknown_inode_panics() {
        Fs::new(0).inode(0);
    }

    #[test]
    fn seed_and_export_round_trip() {
        let mut fs = Fs::new(0);
        let fixture = tree(&[
            ("a/b/c.txt", file("deep")),
            ("empty", Node::Dir),
            ("f", file("hello")),
            ("0link", Node::Hardlink("f".into())),
            ("sym", Node::Symlink("a/b".into())),
            ("dangling", Node::Symlink("../nowhere".into())),
        ]);
        fs.seed(Fs::ROOT, &fixture, 5);
        let expected = tree(&[
            ("0link", file("hello")),
            ("a", Node::Dir),
            ("a/b", Node::Dir),
            ("a/b/c.txt", file("deep")),
            ("dangling", Node::Symlink("../nowhere".into())),
            ("empty", Node::Dir),
            ("f", file("hello")),
            ("sym", Node::Symlink("a/b".into())),
        ]);
        assert_eq!(fs.export(Fs::ROOT), expected);
        // Seeding the export (no hard links left) gives the same tree again.
        let mut again = Fs::new(0);
        again.seed(Fs::ROOT, &expected, 5);
        assert_eq!(again.export(Fs::ROOT), expected);

        let f = fs.child(Fs::ROOT, b"f").unwrap();
        assert_eq!(fs.child(Fs::ROOT, b"0link"), Some(f));
        assert_eq!(fs.inode(f).nlink, 2);
        let a = fs.child(Fs::ROOT, b"a").unwrap();
        let b = fs.child(a, b"b").unwrap();
        // root: 2 + subdirectories `a` and `empty`; `a`: 2 + `b`; `b`: 2.
        assert_eq!((fs.inode(Fs::ROOT).nlink, fs.inode(a).nlink, fs.inode(b).nlink), (4, 3, 2));
        assert_eq!((fs.inode(a).parent, fs.inode(b).parent), (Fs::ROOT, a));
        let sym = fs.child(Fs::ROOT, b"sym").unwrap();
        assert_eq!((fs.filetype(f), fs.filetype(sym)), (4, 7));
        // Every created inode has the seed time; the root's entries changed then too.
        assert!(fs.inodes[1..].iter().all(|i| (i.atim, i.mtim, i.ctim) == (5, 5, 5)));
        assert_eq!((fs.inode(Fs::ROOT).mtim, fs.inode(Fs::ROOT).ctim), (5, 5));
        let names: Vec<Vec<u8>> = fs.entries(Fs::ROOT).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"0link"[..], b"a", b"dangling", b"empty", b"f", b"sym"]);
    }

    #[test]
    fn seed_under_a_subdirectory_and_sequential_inodes() {
        let mut fs = Fs::new(0);
        let sandbox = fs.add_dir(Fs::ROOT, b"sandbox", 1);
        assert_eq!(sandbox, 2);
        fs.seed(sandbox, &tree(&[("x", file("1")), ("y", file("2"))]), 1);
        assert_eq!(fs.child(sandbox, b"x"), Some(3));
        assert_eq!(fs.child(sandbox, b"y"), Some(4));
        assert_eq!(fs.export(Fs::ROOT).keys().collect::<Vec<_>>(), ["sandbox", "sandbox/x", "sandbox/y"]);
    }

    #[test]
    fn add_and_remove_link_counts() {
        let mut fs = Fs::new(0);
        let d = fs.add_dir(Fs::ROOT, b"d", 1);
        assert_eq!((fs.inode(Fs::ROOT).nlink, fs.inode(d).nlink), (3, 2));
        assert_eq!((fs.inode(Fs::ROOT).mtim, fs.inode(Fs::ROOT).ctim), (1, 1));
        let sub = fs.add_dir(d, b"sub", 2);
        assert_eq!((fs.inode(d).nlink, fs.inode(sub).nlink), (3, 2));

        let f = fs.add_file(d, b"f", b"data".to_vec(), 3);
        fs.add_link(Fs::ROOT, b"g", f, 4);
        assert_eq!((fs.inode(f).nlink, fs.inode(f).ctim, fs.inode(f).mtim), (2, 4, 3));
        // Adding files does not change a directory's link count.
        assert_eq!(fs.inode(d).nlink, 3);

        assert_eq!(fs.remove_entry(d, b"f", 5), f);
        assert_eq!((fs.inode(f).nlink, fs.inode(f).ctim), (1, 5));
        assert_eq!(fs.child(Fs::ROOT, b"g"), Some(f));
        assert_eq!(fs.remove_entry(Fs::ROOT, b"g", 6), f);
        // Unlinked but still there, with its data, for open descriptors.
        assert_eq!((fs.inode(f).nlink, &fs.inode(f).kind), (0, &Kind::File(b"data".to_vec())));

        assert_eq!(fs.remove_entry(d, b"sub", 7), sub);
        assert_eq!((fs.inode(d).nlink, fs.inode(sub).nlink), (2, 0));
        assert_eq!((fs.inode(d).mtim, fs.inode(d).ctim), (7, 7));
        fs.remove_entry(Fs::ROOT, b"d", 8);
        assert_eq!((fs.inode(Fs::ROOT).nlink, fs.inode(d).nlink), (2, 0));
        assert!(fs.entries(Fs::ROOT).is_empty());

        let s = fs.add_symlink(Fs::ROOT, b"s", b"t", 9);
        assert_eq!((fs.inode(s).nlink, &fs.inode(s).kind), (1, &Kind::Symlink(b"t".to_vec())));
    }

    #[test]
    fn rename_link_counts() {
        let mut fs = Fs::new(0);
        let a = fs.add_dir(Fs::ROOT, b"a", 0);
        let b = fs.add_dir(Fs::ROOT, b"b", 0);
        let d = fs.add_dir(a, b"d", 0);
        assert_eq!((fs.inode(a).nlink, fs.inode(b).nlink), (3, 2));

        // A directory moving to another parent takes its `..` link along.
        fs.rename_entry(a, b"d", b, b"e", 1);
        assert_eq!((fs.inode(a).nlink, fs.inode(b).nlink, fs.inode(d).nlink), (2, 3, 2));
        assert_eq!((fs.child(a, b"d"), fs.child(b, b"e")), (None, Some(d)));
        assert_eq!((fs.inode(d).parent, fs.inode(d).ctim, fs.inode(a).mtim, fs.inode(b).mtim), (b, 1, 1, 1));

        // Within one directory nothing changes but the name.
        fs.rename_entry(b, b"e", b, b"f", 2);
        assert_eq!((fs.inode(b).nlink, fs.child(b, b"f"), fs.child(b, b"e")), (3, Some(d), None));

        // Replacing an empty directory: the replaced one is gone (nlink 0) and its parent
        // loses its link.
        let victim = fs.add_dir(a, b"victim", 3);
        assert_eq!(fs.inode(a).nlink, 3);
        fs.rename_entry(b, b"f", a, b"victim", 4);
        assert_eq!((fs.inode(victim).nlink, fs.child(a, b"victim")), (0, Some(d)));
        assert_eq!((fs.inode(a).nlink, fs.inode(b).nlink, fs.inode(d).parent), (3, 2, a));

        // Replacing a file: the replaced file loses a link, the moved one keeps its count.
        let x = fs.add_file(Fs::ROOT, b"x", b"x".to_vec(), 5);
        let y = fs.add_file(Fs::ROOT, b"y", b"y".to_vec(), 5);
        fs.rename_entry(Fs::ROOT, b"x", Fs::ROOT, b"y", 6);
        assert_eq!((fs.inode(x).nlink, fs.inode(y).nlink), (1, 0));
        assert_eq!((fs.child(Fs::ROOT, b"x"), fs.child(Fs::ROOT, b"y")), (None, Some(x)));

        // Two hard links of one file: POSIX says do nothing.
        fs.add_link(Fs::ROOT, b"x2", x, 7);
        fs.rename_entry(Fs::ROOT, b"y", Fs::ROOT, b"x2", 8);
        assert_eq!((fs.child(Fs::ROOT, b"y"), fs.child(Fs::ROOT, b"x2"), fs.inode(x).nlink), (Some(x), Some(x), 2));
        // And the root's count never moved: 2 + `a` + `b`.
        assert_eq!(fs.inode(Fs::ROOT).nlink, 4);
    }

    #[test]
    #[should_panic(expected = "already exists")]
    fn adding_an_existing_name_panics() {
        let mut fs = Fs::new(0);
        fs.add_file(Fs::ROOT, b"f", Vec::new(), 0);
        fs.add_dir(Fs::ROOT, b"f", 0);
    }
}
