//! The per-run sandbox: a fresh temporary directory holding each preopen's fixture tree,
//! plus canary files *outside* the preopens that must be untouched after the run.
//!
//! The layout and the canaries are `wasi_conform_case::sandbox`'s (the reference models the
//! same); the whole directory is removed when the sandbox is dropped.
//!
//! Sandboxes are made under `$WASI_CONFORM_SANDBOX_DIR` if set, else under `/dev/shm` when
//! it is a writable directory (tmpfs: creating and removing a sandbox there costs about a
//! third of what it costs on a disk-backed `/tmp`, which dominates an in-process run), else
//! under the system temporary directory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use wasi_conform_case::fixture::{Fixture, Node, Tree};
use wasi_conform_case::outcome::Canaries;
use wasi_conform_case::sandbox::{changes, preopen_dir, Watched as Kind, CANARY, LAYOUT};

/// A prepared run directory.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// (guest name, host path) per preopen, in fixture order.
    preopens: Vec<(String, PathBuf)>,
    before: Watched,
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
        let mut s = Sandbox { dir, preopens, before: Watched::new() };
        s.before = s.watched();
        Ok(s)
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
        let mut s = Sandbox { dir, preopens, before: Watched::new() };
        s.before = s.watched();
        Ok(s)
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

    /// Empties each preopen directory (the directory itself stays, so nothing outside the
    /// preopens changes, not even a directory's modification time) and lays out `fixture`
    /// in it again: the state [`Sandbox::create`] would give, for a sandbox whose canaries
    /// are intact (the caller checks them; the snapshot they are compared with is kept).
    pub fn reset(&self, fixture: &Fixture) -> std::io::Result<()> {
        for ((_, host), p) in self.preopens.iter().zip(&fixture.preopens) {
            for entry in std::fs::read_dir(host)? {
                let path = entry?.path();
                match std::fs::symlink_metadata(&path)?.is_dir() {
                    true => std::fs::remove_dir_all(&path)?,
                    false => std::fs::remove_file(&path)?,
                }
            }
            materialise(host, &p.tree)?;
        }
        Ok(())
    }

    /// (guest name, host directory) of each preopen.
    pub fn preopens(&self) -> &[(String, PathBuf)] {
        &self.preopens
    }

    /// The run directory (for adapters that need a working directory inside it).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Snapshot of each preopen, by guest name.
    pub fn final_trees(&self) -> BTreeMap<String, Tree> {
        self.preopens.iter().map(|(name, host)| (name.clone(), snapshot(host))).collect()
    }

    /// Compares everything outside the preopens with how it was before the run.
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
        use std::os::unix::fs::MetadataExt;
        let skip: Vec<&Path> = self.preopens.iter().map(|(_, h)| h.as_path()).collect();
        let mut t = Tree::new();
        walk(self.dir.path(), self.dir.path(), &skip, &mut t);
        t.into_iter()
            .map(|(p, n)| {
                let meta = std::fs::symlink_metadata(self.dir.path().join(&p)).ok();
                let (nlink, mtime, mode) = meta
                    .map(|m| (m.nlink(), m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128, m.mode()))
                    .unwrap_or_default();
                (p, (n, nlink, mtime, mode))
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

/// Writes a fixture tree under `dir`.
pub fn materialise(dir: &Path, tree: &Tree) -> std::io::Result<()> {
    // Directories and files first, then links (their targets must exist for hard links).
    for (p, n) in tree {
        let path = dir.join(p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match n {
            Node::Dir => std::fs::create_dir_all(&path)?,
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
    let mut t = Tree::new();
    walk(dir, dir, &[], &mut t);
    t
}

fn walk(base: &Path, dir: &Path, skip: &[&Path], out: &mut Tree) {
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
            out.insert(rel, Node::Symlink(target));
        } else if ft.is_dir() {
            out.insert(rel, Node::Dir);
            walk(base, &path, skip, out);
        } else {
            out.insert(rel, Node::File(std::fs::read(&path).unwrap_or_default()));
        }
    }
}

/// Copies the tree at `from` to the existing directory `to`: directories, files and their
/// permissions, symlinks as they are, hard links as hard links (`seen`: (device, inode) →
/// first copy).
fn copy_tree(from: &Path, to: &Path, seen: &mut HashMap<(u64, u64), PathBuf>) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
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
