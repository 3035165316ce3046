//! Path resolution with the sandbox enforced.
//!
//! Every `path_*` function names its object by a path relative to a directory descriptor,
//! and that directory is a sandbox root: nothing outside its subtree may be reached, whether
//! by `..`, an absolute path or a symbolic link. The reference resolves paths itself, one
//! component at a time, keeping the stack of directories it walked from the base (as cap-std
//! does), so that `..` can never leave the base and "leaving" is decided without looking
//! outside it.
//!
//! The rules, in the order they are checked (sources: POSIX/Linux; wasi-filesystem
//! `path-resolution.md` and cap-std, as summarised in `shared/research/divergences.md`
//! section A, whose "Oracle:" lines the reference follows):
//!
//! 1. An empty path → `noent` (POSIX; A7).
//! 2. A NUL byte anywhere → `inval` (A8).
//! 3. Invalid UTF-8 → `ilseq` (a witx `string` is UTF-8; Wasmtime does this).
//!    Then a path of [`PATH_MAX`] bytes or more → `nametoolong` (Linux `getname`:
//!    `PATH_MAX` counts the terminating NUL, so 4095 bytes is the longest path).
//! 4. A base that is not a directory → `notdir` (POSIX `*at`; A9).
//! 5. An absolute path (leading `/`) → `perm` (A1).
//! 6. Components are split on `/`; repeated slashes collapse; `.` stays where it is; `..`
//!    goes to the parent but never above the base: going above → `perm` (A1), even when the
//!    path would come back in (`../base-name/x`).
//!    A component longer than [`NAME_MAX`] bytes → `nametoolong` when it is looked up, in
//!    path order, whether or not it exists (POSIX `ENAMETOOLONG`: "the length of a
//!    component of a pathname is longer than {NAME_MAX}"; Linux checks it in every file
//!    system's lookup, e.g. `simple_lookup`, `ext4_lookup`), components of followed
//!    symlink targets too.
//! 7. An intermediate component that does not exist → `noent`; that is a regular file →
//!    `notdir` (POSIX; A9); that is a symlink → always followed (POSIX).
//! 8. Following a symlink: a relative target is resolved from the symlink's own directory,
//!    within the same sandbox (never above the base → `perm`, even if the path would
//!    re-enter; A3); an absolute target → `perm`, even one that would land inside (A3:
//!    "absolute targets never followed"); an empty target → `noent` (Linux); more than
//!    [`MAX_SYMLINK_EXPANSIONS`] expansions in one resolution → `loop` (Linux `MAXSYMLINKS`).
//! 9. The final component: a symlink is followed when asked ([`Follow::Yes`]), and then the
//!    result describes the final target (its directory, its name, the object or `None` if
//!    dangling); with [`Follow::No`] the result is the symlink itself.
//! 10. A trailing slash forces following a final symlink and requires a directory (POSIX;
//!     A5): an existing non-directory → `notdir`; a missing object is returned as `None`
//!     with `trailing_slash` set, for the caller to decide (`mkdir new/` is fine, creating
//!     a file `new/` is not; A5, A6). A followed final symlink whose target ends in `/`
//!     counts as a trailing slash too.
//! 11. A final `.` or `..` names that directory, with `name` `.`/`..` and `dir` the
//!     directory it was looked up in.

use wasi_conform_abi::Errno;

use crate::fs::{Fs, Ino, Kind};

/// Longest path component, in bytes (Linux `NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Paths must be shorter than this, in bytes (Linux `PATH_MAX`, which counts the NUL).
pub const PATH_MAX: usize = 4096;

/// Symlink expansions allowed in one resolution (Linux `MAXSYMLINKS`); one more is `loop`.
pub const MAX_SYMLINK_EXPANSIONS: u32 = 40;

/// Whether a final symlink is followed (witx `lookupflags::symlink_follow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    Yes,
    No,
}

/// Where a path leads: the directory holding its last component, that component, and what it
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The directory containing the final component.
    pub dir: Ino,
    /// The final component (may be `.` or `..`; never empty).
    pub name: Vec<u8>,
    /// What the final component names, after following a final symlink when asked; `None`
    /// if it does not exist.
    pub ino: Option<Ino>,
    /// The path ended with one or more `/` (or a followed final symlink's target did).
    pub trailing_slash: bool,
}

/// Resolves `path` relative to directory `base`, which acts as the sandbox root: nothing
/// outside the subtree of `base` may be reached. See the module docs for the rules.
pub fn resolve(fs: &Fs, base: Ino, path: &[u8], follow: Follow) -> Result<Target, Errno> {
    // Rule 1 (POSIX: the empty path names nothing; divergences A7).
    if path.is_empty() {
        return Err(Errno::Noent);
    }
    // Rule 2 (divergences A8: a C string would be cut short at the NUL).
    if path.contains(&0) {
        return Err(Errno::Inval);
    }
    // Rule 3 (witx `string` is UTF-8; Wasmtime returns `ilseq`).
    if std::str::from_utf8(path).is_err() {
        return Err(Errno::Ilseq);
    }
    // Rule 3, continued (Linux `getname`: ENAMETOOLONG from PATH_MAX bytes on).
    if path.len() >= PATH_MAX {
        return Err(Errno::Nametoolong);
    }
    // Rule 4 (POSIX `openat` & co. on a non-directory base: ENOTDIR; divergences A9).
    if !fs.is_dir(base) {
        return Err(Errno::Notdir);
    }
    // Rule 5 (divergences A1: cap-std/Wasmtime refuse absolute paths with `perm`).
    if path.starts_with(b"/") {
        return Err(Errno::Perm);
    }

    // The directories walked from `base`, `base` first; the current directory is the last.
    let mut dirs = vec![base];
    // The components still to resolve, the next one last.
    let mut todo = Vec::new();
    push_components(&mut todo, path);
    let mut trailing_slash = path.ends_with(b"/");
    let mut expansions = 0;

    loop {
        // Non-empty: a path, or a symlink target, has at least one component (rules 1, 5, 8).
        let name = todo.pop().expect("a component to resolve");
        let last = todo.is_empty();
        let dir = *dirs.last().expect("the base is never popped");

        // Rule 6: `.` stays; `..` pops, but never the base (divergences A1).
        if name == b"." || name == b".." {
            if name == b".." {
                if dirs.len() == 1 {
                    return Err(Errno::Perm);
                }
                dirs.pop();
            }
            if last {
                // Rule 11.
                let ino = *dirs.last().expect("the base is never popped");
                return Ok(Target { dir, name, ino: Some(ino), trailing_slash });
            }
            continue;
        }

        // Rule 6, continued (POSIX ENAMETOOLONG; Linux file systems check it in lookup).
        if name.len() > NAME_MAX {
            return Err(Errno::Nametoolong);
        }

        let Some(ino) = fs.child(dir, &name) else {
            if last {
                // Rules 9 and 10: a missing final object is for the caller to judge.
                return Ok(Target { dir, name, ino: None, trailing_slash });
            }
            // Rule 7 (POSIX ENOENT for a missing directory component).
            return Err(Errno::Noent);
        };

        match &fs.inode(ino).kind {
            Kind::Dir(_) if last => return Ok(Target { dir, name, ino: Some(ino), trailing_slash }),
            Kind::Dir(_) => dirs.push(ino),
            // Rule 7: intermediate symlinks are always followed (POSIX); rules 9 and 10 for a
            // final one.
            Kind::Symlink(target) if !last || follow == Follow::Yes || trailing_slash => {
                // Rule 8 (Linux: at most MAXSYMLINKS = 40 expansions, then ELOOP).
                expansions += 1;
                if expansions > MAX_SYMLINK_EXPANSIONS {
                    return Err(Errno::Loop);
                }
                // Rule 8 (Linux: an empty symlink target is ENOENT).
                if target.is_empty() {
                    return Err(Errno::Noent);
                }
                // Rule 8 (divergences A3, cap-std: "absolute targets never followed").
                if target.starts_with(b"/") {
                    return Err(Errno::Perm);
                }
                if last {
                    // Rule 10: `link -> dir/` resolves like `dir/`.
                    trailing_slash |= target.ends_with(b"/");
                }
                // Resolved from the symlink's directory (still the current one) with the
                // same `dirs` stack, so a target cannot climb above the base either (A3).
                push_components(&mut todo, target);
            }
            // A regular file, or a final symlink not followed.
            _ => {
                // Rule 7 (POSIX ENOTDIR for a file used as a directory; divergences A9) and
                // rule 10 (POSIX: a trailing slash requires a directory; divergences A5).
                if !last || trailing_slash {
                    return Err(Errno::Notdir);
                }
                return Ok(Target { dir, name, ino: Some(ino), trailing_slash });
            }
        }
    }
}

/// Convenience: resolve and require that the target exists; returns its ino (`noent` if it
/// does not exist).
pub fn lookup(fs: &Fs, base: Ino, path: &[u8], follow: Follow) -> Result<Ino, Errno> {
    resolve(fs, base, path, follow)?.ino.ok_or(Errno::Noent)
}

/// Puts the components of `path` on top of `todo` (the stack of components to resolve, next
/// one last); empty components (repeated or trailing slashes) are dropped.
fn push_components(todo: &mut Vec<Vec<u8>>, path: &[u8]) {
    todo.extend(path.split(|&b| b == b'/').filter(|c| !c.is_empty()).rev().map(<[u8]>::to_vec));
}

#[cfg(test)]
mod tests {
    use wasi_conform_case::fixture::{Node, Tree};

    use super::*;

    /// `/outside/secret` next to the sandbox `/sandbox`, which is the base of every test.
    struct World {
        fs: Fs,
        sandbox: Ino,
    }

    impl World {
        fn new() -> World {
            let mut fs = Fs::new(0);
            let nodes = [
                ("outside/secret", Node::File(b"secret".to_vec())),
                ("sandbox/file", Node::File(b"f".to_vec())),
                ("sandbox/dir/inner", Node::File(b"i".to_vec())),
                ("sandbox/dir/sub", Node::Dir),
                ("sandbox/escape", Node::Symlink("../outside/secret".into())),
                ("sandbox/reenter", Node::Symlink("../sandbox/file".into())),
                ("sandbox/dir/reenter", Node::Symlink("../../sandbox/file".into())),
                ("sandbox/hop1", Node::Symlink("dir/hop2".into())),
                ("sandbox/dir/hop2", Node::Symlink("../../sandbox/dir/inner".into())),
                ("sandbox/abs-in", Node::Symlink("/sandbox/file".into())),
                ("sandbox/abs-out", Node::Symlink("/outside/secret".into())),
                ("sandbox/dangling", Node::Symlink("missing".into())),
                ("sandbox/dangling-deep", Node::Symlink("nodir/missing".into())),
                ("sandbox/loop1", Node::Symlink("loop2".into())),
                ("sandbox/loop2", Node::Symlink("loop1".into())),
                ("sandbox/self", Node::Symlink("self".into())),
                ("sandbox/empty-target", Node::Symlink(String::new())),
                ("sandbox/tofile", Node::Symlink("file".into())),
                ("sandbox/todir", Node::Symlink("dir".into())),
                ("sandbox/todir-slash", Node::Symlink("dir/".into())),
                ("sandbox/tofile-slash", Node::Symlink("file/".into())),
                ("sandbox/dir/up", Node::Symlink("..".into())),
                ("sandbox/dir/sibling", Node::Symlink("../file".into())),
            ];
            let tree: Tree = nodes.into_iter().map(|(p, n)| (p.to_owned(), n)).collect();
            fs.seed(Fs::ROOT, &tree, 0);
            let sandbox = fs.child(Fs::ROOT, b"sandbox").unwrap();
            World { fs, sandbox }
        }

        fn resolve(&self, path: &str, follow: Follow) -> Result<Target, Errno> {
            resolve(&self.fs, self.sandbox, path.as_bytes(), follow)
        }

        fn lookup(&self, path: &str, follow: Follow) -> Result<Ino, Errno> {
            lookup(&self.fs, self.sandbox, path.as_bytes(), follow)
        }

        /// The inode at a sandbox-relative path, found without `path.rs`.
        fn ino(&self, path: &str) -> Ino {
            path.split('/').fold(self.sandbox, |d, c| self.fs.child(d, c.as_bytes()).expect(path))
        }

        fn target(&self, dir: &str, name: &str, ino: Option<&str>, trailing_slash: bool) -> Target {
            let at = |p: &str| if p.is_empty() { self.sandbox } else { self.ino(p) };
            Target { dir: at(dir), name: name.as_bytes().to_vec(), ino: ino.map(at), trailing_slash }
        }
    }

    use Follow::{No, Yes};

    #[test]
    fn plain_paths() {
        let w = World::new();
        assert_eq!(w.resolve("file", No), Ok(w.target("", "file", Some("file"), false)));
        assert_eq!(w.resolve("dir/inner", Yes), Ok(w.target("dir", "inner", Some("dir/inner"), false)));
        assert_eq!(w.resolve("dir//sub", No), Ok(w.target("dir", "sub", Some("dir/sub"), false)));
        assert_eq!(w.resolve("dir/new", No), Ok(w.target("dir", "new", None, false)));
        assert_eq!(w.lookup("dir/inner", No), Ok(w.ino("dir/inner")));
        assert_eq!(w.lookup("dir/new", No), Err(Errno::Noent));
    }

    #[test]
    fn malformed_paths() {
        let w = World::new();
        // A7: empty path.
        assert_eq!(w.resolve("", Yes), Err(Errno::Noent));
        // A8: NUL anywhere.
        assert_eq!(w.resolve("file\0", Yes), Err(Errno::Inval));
        assert_eq!(w.resolve("\u{12}n\0", Yes), Err(Errno::Inval));
        assert_eq!(w.resolve("dir/nested/file\0", Yes), Err(Errno::Inval));
        // Invalid UTF-8.
        assert_eq!(resolve(&w.fs, w.sandbox, b"f\xffile", Yes), Err(Errno::Ilseq));
        assert_eq!(resolve(&w.fs, w.sandbox, b"\xc3", Yes), Err(Errno::Ilseq));
        // A9: the base is not a directory.
        assert_eq!(resolve(&w.fs, w.ino("file"), b"x", Yes), Err(Errno::Notdir));
    }

    #[test]
    fn absolute_paths_are_perm() {
        // A1, A2: every absolute path, even one naming the sandbox itself.
        let w = World::new();
        for p in ["/", "/file", "/sandbox/file", "/outside/secret", "//file"] {
            assert_eq!(w.resolve(p, Yes), Err(Errno::Perm), "{p}");
        }
    }

    #[test]
    fn dot_and_dot_dot_inside_the_sandbox() {
        let w = World::new();
        assert_eq!(w.resolve(".", No), Ok(w.target("", ".", Some(""), false)));
        assert_eq!(w.resolve("./", No), Ok(w.target("", ".", Some(""), true)));
        assert_eq!(w.resolve("./file", No), Ok(w.target("", "file", Some("file"), false)));
        assert_eq!(w.resolve("dir/.", No), Ok(w.target("dir", ".", Some("dir"), false)));
        assert_eq!(w.resolve("dir/./inner", No), Ok(w.target("dir", "inner", Some("dir/inner"), false)));
        assert_eq!(w.resolve("dir/..", No), Ok(w.target("dir", "..", Some(""), false)));
        assert_eq!(w.resolve("dir/../file", No), Ok(w.target("", "file", Some("file"), false)));
        assert_eq!(w.resolve("dir/sub/../../dir/inner", No), Ok(w.target("dir", "inner", Some("dir/inner"), false)));
    }

    #[test]
    fn dot_dot_past_the_base_is_perm() {
        // A1: `..` past the root, `a/../../x`, and leaving then re-entering.
        let w = World::new();
        for p in ["..", "../", "../outside/secret", "../sandbox/file", "dir/../../sandbox/file", "dir/sub/../../../x"] {
            assert_eq!(w.resolve(p, Yes), Err(Errno::Perm), "{p}");
        }
        // Even `..` from a sandbox that is the file system root.
        assert_eq!(resolve(&w.fs, Fs::ROOT, b"..", Yes), Err(Errno::Perm));
    }

    #[test]
    fn symlinks_inside_the_sandbox() {
        let w = World::new();
        // Final symlink: followed or not.
        assert_eq!(w.resolve("tofile", Yes), Ok(w.target("", "file", Some("file"), false)));
        assert_eq!(w.resolve("tofile", No), Ok(w.target("", "tofile", Some("tofile"), false)));
        // Intermediate symlinks are always followed.
        assert_eq!(w.resolve("todir/inner", No), Ok(w.target("dir", "inner", Some("dir/inner"), false)));
        // Relative targets resolve from the symlink's own directory.
        assert_eq!(w.resolve("dir/sibling", Yes), Ok(w.target("", "file", Some("file"), false)));
        assert_eq!(w.resolve("dir/up/file", No), Ok(w.target("", "file", Some("file"), false)));
        assert_eq!(w.resolve("dir/up", Yes), Ok(w.target("dir", "..", Some(""), false)));
        // ... and within the same sandbox: `dir/up` is the base, so `..` from it leaves.
        assert_eq!(w.resolve("dir/up/..", Yes), Err(Errno::Perm));
    }

    #[test]
    fn symlinks_leaving_the_sandbox_are_perm() {
        // A3: pointing out; leaving and re-entering (directly, from a subdirectory, or in the
        // second link of a chain); absolute targets, even ones that would land inside.
        let w = World::new();
        for p in ["escape", "reenter", "dir/reenter", "hop1", "abs-in", "abs-out"] {
            assert_eq!(w.resolve(p, Yes), Err(Errno::Perm), "{p}");
            assert_eq!(w.resolve(&format!("{p}/"), No), Err(Errno::Perm), "{p}/");
            // Not followed: the symlink itself is fine to name (lstat, unlink, readlink).
            let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
            assert_eq!(w.resolve(p, No), Ok(w.target(dir, name, Some(p), false)), "{p}");
        }
        // As intermediate components they are followed, and refused, too.
        assert_eq!(w.resolve("escape/x", No), Err(Errno::Perm));
        assert_eq!(w.resolve("abs-in/x", No), Err(Errno::Perm));
        // The sandbox is the base, not the file system: with the root as base, the same link
        // stays inside and resolves.
        let secret = w.fs.child(w.fs.child(Fs::ROOT, b"outside").unwrap(), b"secret").unwrap();
        assert_eq!(lookup(&w.fs, Fs::ROOT, b"sandbox/escape", Yes), Ok(secret));
    }

    #[test]
    fn dangling_and_empty_symlinks() {
        let w = World::new();
        // Followed: the missing final target, for `creat` to create.
        assert_eq!(w.resolve("dangling", Yes), Ok(w.target("", "missing", None, false)));
        assert_eq!(w.lookup("dangling", Yes), Err(Errno::Noent));
        assert_eq!(w.resolve("dangling", No), Ok(w.target("", "dangling", Some("dangling"), false)));
        assert_eq!(w.resolve("dangling/", No), Ok(w.target("", "missing", None, true)));
        // A missing directory on the way is `noent`.
        assert_eq!(w.resolve("dangling-deep", Yes), Err(Errno::Noent));
        assert_eq!(w.resolve("dangling/x", Yes), Err(Errno::Noent));
        // Linux: an empty target names nothing.
        assert_eq!(w.resolve("empty-target", Yes), Err(Errno::Noent));
        assert_eq!(w.lookup("empty-target", No), Ok(w.ino("empty-target")));
    }

    #[test]
    fn symlink_loops() {
        let w = World::new();
        for p in ["loop1", "loop2", "self", "self/x", "loop1/"] {
            assert_eq!(w.resolve(p, Yes), Err(Errno::Loop), "{p}");
        }
        assert_eq!(w.lookup("self", No), Ok(w.ino("self")));
        assert_eq!(w.resolve("self/", No), Err(Errno::Loop));
    }

    #[test]
    fn forty_expansions_and_no_more() {
        // l0 -> l1 -> ... -> l40 -> file: resolving l1 expands 40 links, l0 41.
        let mut fs = Fs::new(0);
        let file = fs.add_file(Fs::ROOT, b"file", Vec::new(), 0);
        fs.add_symlink(Fs::ROOT, b"l40", b"file", 0);
        for i in 0..40 {
            fs.add_symlink(Fs::ROOT, format!("l{i}").as_bytes(), format!("l{}", i + 1).as_bytes(), 0);
        }
        assert_eq!(lookup(&fs, Fs::ROOT, b"l1", Follow::Yes), Ok(file));
        assert_eq!(lookup(&fs, Fs::ROOT, b"l0", Follow::Yes), Err(Errno::Loop));
        assert_eq!(lookup(&fs, Fs::ROOT, b"l0/", Follow::No), Err(Errno::Loop));
    }

    #[test]
    fn trailing_slashes() {
        let w = World::new();
        // A5: on a file, or on a symlink to one, whether asked to follow or not.
        for p in ["file/", "file//", "tofile/", "dir/inner/", "tofile-slash", "dir/sibling/"] {
            assert_eq!(w.resolve(p, Yes), Err(Errno::Notdir), "{p}");
        }
        for p in ["file/", "tofile/", "dir/sibling/"] {
            assert_eq!(w.resolve(p, No), Err(Errno::Notdir), "{p}");
        }
        // Not followed, `tofile-slash` is just a symlink.
        assert_eq!(w.lookup("tofile-slash", No), Ok(w.ino("tofile-slash")));
        // On a directory, or a symlink to one (followed even with Follow::No).
        assert_eq!(w.resolve("dir/", No), Ok(w.target("", "dir", Some("dir"), true)));
        assert_eq!(w.resolve("dir///", Yes), Ok(w.target("", "dir", Some("dir"), true)));
        assert_eq!(w.resolve("todir/", No), Ok(w.target("", "dir", Some("dir"), true)));
        assert_eq!(w.resolve("todir-slash", Yes), Ok(w.target("", "dir", Some("dir"), true)));
        assert_eq!(w.resolve("todir", No), Ok(w.target("", "todir", Some("todir"), false)));
        // A6: missing: returned for the caller (mkdir "new/" is fine).
        assert_eq!(w.resolve("new/", Yes), Ok(w.target("", "new", None, true)));
        assert_eq!(w.resolve("dir/new//", No), Ok(w.target("dir", "new", None, true)));
    }

    #[test]
    fn over_long_names_and_paths() {
        let w = World::new();
        let long = "n".repeat(NAME_MAX + 1);
        // A component of 256 bytes, existing or not, final or intermediate.
        assert_eq!(w.resolve(&long, Follow::No), Err(Errno::Nametoolong));
        assert_eq!(w.resolve(&format!("{long}/x"), Follow::No), Err(Errno::Nametoolong));
        // 255 bytes is a name like any other (missing here).
        assert_eq!(w.lookup(&"n".repeat(NAME_MAX), Follow::No), Err(Errno::Noent));
        // Checked in path order: `..` past the base comes first.
        assert_eq!(w.resolve(&format!("../{long}"), Follow::No), Err(Errno::Perm));
        // A whole path of PATH_MAX bytes, every component short.
        let path = "a/".repeat(PATH_MAX / 2);
        assert_eq!(w.resolve(&path, Follow::No), Err(Errno::Nametoolong));
        assert_eq!(w.resolve(&path[..PATH_MAX - 2], Follow::No).map(|_| ()), Err(Errno::Noent));
    }

    #[test]
    fn intermediate_non_directories() {
        // A9: a file (or a symlink to one) used as a directory is `notdir`; a missing
        // directory is `noent`.
        let w = World::new();
        assert_eq!(w.resolve("file/x", No), Err(Errno::Notdir));
        assert_eq!(w.resolve("file/..", No), Err(Errno::Notdir));
        assert_eq!(w.resolve("file/.", No), Err(Errno::Notdir));
        assert_eq!(w.resolve("tofile/x", No), Err(Errno::Notdir));
        assert_eq!(w.resolve("dir/inner/x/y", Yes), Err(Errno::Notdir));
        assert_eq!(w.resolve("nodir/x", No), Err(Errno::Noent));
        assert_eq!(w.resolve("nodir/..", No), Err(Errno::Noent));
    }
}
