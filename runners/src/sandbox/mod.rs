//! The per-run sandbox: a fresh temporary directory holding each preopen's fixture tree,
//! plus canary files *outside* the preopens that must be untouched after the run.
//!
//! The layout and the canaries are `wasi_conform_case::sandbox`'s (the reference models the
//! same); the whole directory is removed when the sandbox is dropped.
//!
//! A kept sandbox ([`Sandbox::reset`]) knows its preopens' state — as laid out, or as read
//! back after a run — and lays the next fixture out by changing only what differs
//! (`relayout.rs`).
//!
//! Sandboxes are made under `$WASI_CONFORM_SANDBOX_DIR` if set, else under `/dev/shm` when
//! it is a writable directory (tmpfs: creating and removing a sandbox there costs about a
//! third of what it costs on a disk-backed `/tmp`, which dominates an in-process run), else
//! under the system temporary directory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

mod relayout;
use relayout::State;

use wasi_conform_case::fixture::{Fixture, Node, Tree};
use wasi_conform_case::outcome::Canaries;
use wasi_conform_case::sandbox::{changes, preopen_dir, Watched as Kind, CANARY, HOST_WATCHED, LAYOUT};

/// What [`Sandbox::hand_out`] took: what was known of the preopens before a run.
pub struct Handed(Option<Vec<State>>);

/// A prepared run directory.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// (guest name, host path) per preopen, in fixture order.
    preopens: Vec<(String, PathBuf)>,
    before: Watched,
    /// Host paths outside the run directory that are watched too ([`HOST_WATCHED`], and any
    /// [`Sandbox::watching_host`] adds).
    host: Vec<String>,
    /// Whether this sandbox is kept between runs: set by its first [`Sandbox::reset`]. Only
    /// a kept sandbox remembers its preopens' state; one used once pays nothing for it.
    kept: AtomicBool,
    /// For a kept sandbox, each preopen's state as last known: as laid out, or as read back
    /// after a run; `None` while a run may have changed them and nobody has read them back.
    known: Mutex<Option<Vec<State>>>,
}

/// What is compared outside the preopens: each entry's node (contents, link target) and
/// the metadata an escape could change without touching contents — link count,
/// modification time, permissions. Access times are left out: reading the canary
/// legitimately updates them on some mounts, and a read is not a change.
type Watched = BTreeMap<String, (Node, u64, i128, u32)>;

impl Sandbox {
    /// Creates the directory, the fixture trees and the canaries.
    pub fn create(fixture: &Fixture) -> std::io::Result<Sandbox> {
        let dir = tempfile::Builder::new().prefix("wasi-conform-").tempdir_in(parent_dir())?;
        for (path, kind) in LAYOUT {
            match kind {
                Kind::Dir => std::fs::create_dir(dir.path().join(path))?,
                Kind::Canary => std::fs::write(dir.path().join(path), CANARY)?,
            }
        }
        let mut preopens = Vec::new();
        for p in &fixture.preopens {
            let host = dir.path().join(preopen_dir(&p.binding));
            std::fs::create_dir(&host)?;
            materialise(&host, &p.tree)?;
            preopens.push((p.name.clone(), host));
        }
        let host = HOST_WATCHED.iter().map(|h| h.to_string()).collect();
        Ok(Sandbox::watching(dir, preopens, host))
    }

    /// A sandbox whose directories are laid out: the canary snapshot is taken now.
    fn watching(dir: tempfile::TempDir, preopens: Vec<(String, PathBuf)>, host: Vec<String>) -> Sandbox {
        let mut s = Sandbox {
            dir,
            preopens,
            before: Watched::new(),
            host,
            kept: AtomicBool::new(false),
            known: Mutex::new(None),
        };
        s.before = s.watched();
        s
    }

    /// A copy of this sandbox in a new directory under `parent` (for a runtime that cannot
    /// use the directory this one is in): the same layout, contents, symlinks, hard links and
    /// permissions, with canaries of its own, compared like this sandbox's.
    pub fn copy_in(&self, parent: &Path) -> std::io::Result<Sandbox> {
        let dir = tempfile::Builder::new().prefix("wasi-conform-").tempdir_in(parent)?;
        copy_tree(self.dir.path(), dir.path(), &mut HashMap::new())?;
        let mut preopens = Vec::new();
        for (guest, host) in &self.preopens {
            let rel = host.strip_prefix(self.dir.path()).map_err(std::io::Error::other)?;
            preopens.push((guest.clone(), dir.path().join(rel)));
        }
        Ok(Sandbox::watching(dir, preopens, self.host.clone()))
    }

    /// Whether [`Sandbox::reset`] can lay `fixture` out here: the same preopens (guest names
    /// and bindings, in order).
    pub fn fits(&self, fixture: &Fixture) -> bool {
        self.preopens.len() == fixture.preopens.len()
            && self
                .preopens
                .iter()
                .zip(&fixture.preopens)
                .all(|((guest, host), p)| *guest == p.name && host.ends_with(preopen_dir(&p.binding)))
    }

    /// Gives the preopens `fixture`'s contents: the state [`Sandbox::create`] would give, for
    /// a sandbox whose canaries are intact (the caller checks them; the snapshot they are
    /// compared with is kept). Only what differs from `fixture` is changed (`relayout.rs`;
    /// nothing when nothing differs), from the preopens' state as last known, or as read now.
    /// The preopen directories themselves stay, so nothing outside them changes, not even a
    /// directory's modification time. From the first reset on, the sandbox is kept: it
    /// remembers its preopens' state.
    pub fn reset(&self, fixture: &Fixture) -> std::io::Result<()> {
        self.kept.store(true, Ordering::SeqCst);
        let mut known = self.known.lock().map_err(|_| std::io::Error::other("a run panicked while laying out"))?;
        let now = known.take().filter(|k| k.len() == self.preopens.len());
        let mut want = Vec::new();
        for (k, ((_, host), p)) in self.preopens.iter().zip(&fixture.preopens).enumerate() {
            // The preopen directory was made like every directory a layout makes: its
            // permission bits are the ones new directories get here.
            let perms = std::fs::metadata(host)?.mode() & 0o7777;
            let state = relayout::of_fixture(&p.tree, perms);
            let read;
            let now = match &now {
                Some(now) => &now[k],
                None => {
                    read = relayout::read(host).1;
                    &read
                }
            };
            relayout::relayout(host, now, &state, &p.tree)?;
            want.push(state);
        }
        *known = Some(want);
        drop(known);
        self.debug_check_known();
        Ok(())
    }

    /// In debug builds (the tests), that the directories are in the state this sandbox
    /// believes they are in: a layout that went wrong panics here rather than showing up as
    /// a runtime's divergence.
    fn debug_check_known(&self) {
        if cfg!(debug_assertions) {
            if let Some(known) = self.known.lock().ok().and_then(|k| k.clone()) {
                for ((guest, host), want) in self.preopens.iter().zip(known) {
                    let (_, got) = relayout::read(host);
                    assert_eq!(got, want, "the sandbox's preopen {guest} is not laid out as its fixture says");
                }
            }
        }
    }

    /// Marks the preopens as possibly changed (a run is about to get them) and returns
    /// what was known of them, for [`Sandbox::hand_back_unused`].
    pub fn hand_out(&self) -> Handed {
        Handed(self.known.lock().ok().and_then(|mut k| k.take()))
    }

    /// After a run that did not use the preopens (the runtime had its own file system or a
    /// copy): they are as they were before it.
    pub fn hand_back_unused(&self, handed: Handed) {
        if let Ok(mut k) = self.known.lock() {
            *k = handed.0;
        }
    }

    /// (guest name, host directory) of each preopen.
    pub fn preopens(&self) -> &[(String, PathBuf)] {
        &self.preopens
    }

    /// The run directory (for adapters that need a working directory inside it).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Snapshot of each preopen, by guest name. A kept sandbox also remembers the state read,
    /// for the next [`Sandbox::reset`].
    pub fn final_trees(&self) -> BTreeMap<String, Tree> {
        if !self.kept.load(Ordering::SeqCst) {
            return self.preopens.iter().map(|(name, host)| (name.clone(), snapshot(host))).collect();
        }
        let mut states = Vec::new();
        let trees = self
            .preopens
            .iter()
            .map(|(name, host)| {
                let (tree, state) = relayout::read(host);
                states.push(state);
                (name.clone(), tree)
            })
            .collect();
        if let Ok(mut k) = self.known.lock() {
            *k = Some(states);
        }
        trees
    }

    /// Watches these host paths too (absolute, outside the run directory), from now on.
    pub fn watching_host(mut self, paths: impl IntoIterator<Item = String>) -> Sandbox {
        self.host.extend(paths);
        self.before = self.watched();
        self
    }

    /// Compares everything outside the preopens, and the watched host paths, with how it
    /// was before the run.
    pub fn check_canaries(&self) -> Canaries {
        let after = self.watched();
        let changed = changes(&self.before, &after, |b, a| if a.0 != b.0 { "modified" } else { "metadata changed" });
        if changed.is_empty() {
            Canaries::Intact
        } else {
            Canaries::Changed(changed)
        }
    }

    fn watched(&self) -> Watched {
        let skip: Vec<&Path> = self.preopens.iter().map(|(_, h)| h.as_path()).collect();
        let mut entries = Vec::new();
        walk(self.dir.path(), self.dir.path(), &skip, &mut entries);
        // Host paths: their own metadata only (never a directory's contents or a file's).
        for host in &self.host {
            let Ok(meta) = std::fs::symlink_metadata(host) else { continue };
            let node = match meta.file_type() {
                t if t.is_symlink() => Node::Symlink(
                    std::fs::read_link(host).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default(),
                ),
                t if t.is_dir() => Node::Dir,
                _ => Node::File(Vec::new()),
            };
            entries.push((format!("host:{host}"), node, meta));
        }
        entries
            .into_iter()
            .map(|(p, n, m)| {
                let mtime = m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128;
                (p, (n, m.nlink(), mtime, m.mode()))
            })
            .collect()
    }
}

/// Where sandboxes are created (see the module docs).
fn parent_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(d) = std::env::var_os("WASI_CONFORM_SANDBOX_DIR") {
            return PathBuf::from(d);
        }
        let shm = Path::new("/dev/shm");
        let writable = shm.is_dir() && tempfile::Builder::new().prefix("wasi-conform-probe-").tempdir_in(shm).is_ok();
        if writable {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        }
    })
}

/// Writes a fixture tree under `dir` (which exists).
pub fn materialise(dir: &Path, tree: &Tree) -> std::io::Result<()> {
    // Directories and files first, then links (their targets must exist for hard links).
    let mut made: HashSet<PathBuf> = HashSet::from([dir.to_owned()]);
    for (p, n) in tree {
        let path = dir.join(p);
        if let Some(parent) = path.parent().filter(|d| !made.contains(*d)) {
            std::fs::create_dir_all(parent)?;
            made.extend(parent.ancestors().take_while(|a| a.starts_with(dir)).map(Path::to_owned));
        }
        match n {
            Node::Dir => {
                std::fs::create_dir_all(&path)?;
                made.insert(path);
            }
            Node::File(bytes) => std::fs::write(&path, bytes)?,
            Node::Symlink(_) | Node::Hardlink(_) => {}
        }
    }
    for (p, n) in tree {
        let path = dir.join(p);
        match n {
            Node::Symlink(target) => std::os::unix::fs::symlink(target, &path)?,
            Node::Hardlink(target) => std::fs::hard_link(dir.join(target), &path)?,
            Node::Dir | Node::File(_) => {}
        }
    }
    Ok(())
}

/// The tree under `dir` (directories, files with contents, symlinks with targets).
pub fn snapshot(dir: &Path) -> Tree {
    let mut entries = Vec::new();
    walk(dir, dir, &[], &mut entries);
    entries.into_iter().map(|(p, n, _)| (p, n)).collect()
}

/// Every entry under `dir` but `skip`, with its path relative to `base`, its node and its
/// own metadata (a link's, not its target's).
fn walk(base: &Path, dir: &Path, skip: &[&Path], out: &mut Vec<(String, Node, std::fs::Metadata)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if skip.contains(&path.as_path()) {
            continue;
        }
        let rel = path.strip_prefix(base).unwrap_or(&path).to_string_lossy().into_owned();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(&path).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
            out.push((rel, Node::Symlink(target), meta));
        } else if ft.is_dir() {
            out.push((rel, Node::Dir, meta));
            walk(base, &path, skip, out);
        } else {
            out.push((rel, Node::File(std::fs::read(&path).unwrap_or_default()), meta));
        }
    }
}

/// Copies the tree at `from` to the existing directory `to`: directories, files and their
/// permissions, symlinks as they are, hard links as hard links (`seen`: (device, inode) →
/// first copy).
fn copy_tree(from: &Path, to: &Path, seen: &mut HashMap<(u64, u64), PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst, seen)?;
            std::fs::set_permissions(&dst, meta.permissions())?;
        } else if let Some(first) = (meta.nlink() > 1).then(|| seen.get(&(meta.dev(), meta.ino()))).flatten() {
            std::fs::hard_link(first, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?; // contents and permissions
            if meta.nlink() > 1 {
                seen.insert((meta.dev(), meta.ino()), dst);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use wasi_conform_case::fixture::Preopen;

    fn fixture(tree: &[(&str, Node)]) -> Fixture {
        let tree = tree.iter().map(|(p, n)| (p.to_string(), n.clone())).collect();
        Fixture {
            preopens: vec![Preopen { name: "/sandbox".into(), binding: "sandbox".into(), tree }],
            ..Fixture::default()
        }
    }

    fn ino(s: &Sandbox, p: &str) -> u64 {
        std::fs::symlink_metadata(s.preopens()[0].1.join(p)).unwrap().ino()
    }

    /// A run: the preopens are handed out, changed by `change`, and read back.
    fn run(s: &Sandbox, change: impl FnOnce(&Path)) {
        s.hand_out();
        change(&s.preopens()[0].1);
        s.final_trees();
    }

    /// A sandbox as the fuzzer keeps it: made, then reset once.
    fn kept(f: &Fixture) -> Sandbox {
        let s = Sandbox::create(f).unwrap();
        s.reset(f).unwrap();
        s
    }

    fn pair() -> Fixture {
        fixture(&[
            ("a", Node::File(b"x".to_vec())),
            ("b", Node::Hardlink("a".into())),
            ("d/l", Node::Symlink("../a".into())),
        ])
    }

    #[test]
    fn a_run_that_changes_nothing_keeps_the_layout() {
        let f = pair();
        let s = kept(&f);
        let before = ino(&s, "a");
        run(&s, |d| drop(std::fs::read(d.join("a")).unwrap()));
        s.reset(&f).unwrap();
        assert_eq!(ino(&s, "a"), before, "an unchanged preopen is not laid out again");
    }

    #[test]
    fn changes_the_tree_does_not_show_are_reset() {
        let f = pair();
        // A hard link broken and a file of the same contents put in its place.
        let s = kept(&f);
        run(&s, |d| {
            std::fs::remove_file(d.join("b")).unwrap();
            std::fs::write(d.join("b"), b"x").unwrap();
        });
        assert_eq!(s.final_trees(), Sandbox::create(&f).unwrap().final_trees(), "the trees alone look the same");
        s.reset(&f).unwrap();
        assert_eq!(ino(&s, "a"), ino(&s, "b"), "the hard link is laid out again");
        // A mode changed.
        run(&s, |d| std::fs::set_permissions(d.join("a"), std::fs::Permissions::from_mode(0o400)).unwrap());
        s.reset(&f).unwrap();
        assert_ne!(std::fs::metadata(s.preopens()[0].1.join("a")).unwrap().mode() & 0o777, 0o400);
        // A file removed and made again with the same contents is the same state.
        run(&s, |d| {
            std::fs::remove_file(d.join("d/l")).unwrap();
            std::os::unix::fs::symlink("../a", d.join("d/l")).unwrap();
        });
        let kept = ino(&s, "a");
        s.reset(&f).unwrap();
        assert_eq!(ino(&s, "a"), kept);
    }

    #[test]
    fn a_run_not_read_back_or_another_fixture_is_reset() {
        let f = pair();
        let s = kept(&f);
        s.hand_out(); // a run whose end state nobody read
        std::fs::write(s.preopens()[0].1.join("a"), b"z").unwrap();
        s.reset(&f).unwrap();
        assert_eq!(std::fs::read(s.preopens()[0].1.join("a")).unwrap(), b"x");
        let g = fixture(&[("a", Node::File(b"y".to_vec()))]);
        s.reset(&g).unwrap();
        assert_eq!(s.final_trees()["/sandbox"], g.preopens[0].tree);
        // And the state of the new layout is what later runs are compared with.
        let now = ino(&s, "a");
        run(&s, |_| {});
        s.reset(&g).unwrap();
        assert_eq!(ino(&s, "a"), now);
    }

    #[test]
    fn host_paths_outside_the_run_directory_are_watched() {
        let elsewhere = tempfile::tempdir().unwrap();
        let (made, existing) = (elsewhere.path().join("made"), elsewhere.path().join("existing"));
        std::fs::create_dir(&existing).unwrap();
        let watch = [&made, &existing].map(|p| p.to_string_lossy().into_owned());
        let s = Sandbox::create(&pair()).unwrap().watching_host(watch.clone());
        assert_eq!(s.check_canaries(), Canaries::Intact);
        // What a runtime that resolved an absolute path on the host would do.
        std::fs::write(&made, b"escaped").unwrap();
        std::fs::remove_dir(&existing).unwrap();
        std::os::unix::fs::symlink("/nowhere", &existing).unwrap();
        let changed = match s.check_canaries() {
            Canaries::Changed(c) => c,
            Canaries::Intact => panic!("the host changes are not seen"),
        };
        assert_eq!(changed, [format!("host:{} (modified)", watch[1]), format!("host:{} (created)", watch[0])]);
        // A copy watches them too.
        let copy = s.copy_in(elsewhere.path()).unwrap();
        std::fs::remove_file(&made).unwrap();
        assert!(matches!(copy.check_canaries(), Canaries::Changed(c) if c == [format!("host:{} (removed)", watch[0])]));
    }

    #[test]
    fn a_runtime_that_did_not_use_the_sandbox_leaves_it_as_it_was() {
        let f = pair();
        let s = kept(&f);
        let before = ino(&s, "a");
        let was = s.hand_out();
        s.hand_back_unused(was);
        s.reset(&f).unwrap();
        assert_eq!(ino(&s, "a"), before);
    }
}
