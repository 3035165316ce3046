//! Laying a kept sandbox's preopen out again with as little work as possible.
//!
//! A preopen's [`State`] is everything a guest can observe of its contents: each entry's
//! node (a file's contents, a link's target), and its mode; for a file also its link count
//! and its hard-link group (named by the group's first path, so that inode numbers
//! themselves do not count). The state a fixture gives is computed from the fixture
//! ([`of_fixture`]); the state a run left is read back from the directory ([`read`]).
//! [`relayout`] turns the one into the other: it removes every entry that differs (a
//! directory with everything under it; a file whose hard-link group differs in any way with
//! its whole group) and lays out what is missing. When nothing differs, nothing is done.
//!
//! Only inode numbers and timestamps can then differ from a sandbox made afresh, and the
//! fuzzer's oracle compares neither (`differential/src/normalise.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use wasi_conform_case::fixture::{Node, Tree};

/// What a guest can observe of a preopen's contents, by path (see the module docs).
pub type State = BTreeMap<String, Entry>;

/// One entry of a [`State`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub node: Node,
    /// The mode bits (type and permissions).
    pub mode: u32,
    /// A file's link count (0 for anything else).
    pub nlink: u64,
    /// The first path of a file's hard-link group (empty for anything else).
    pub group: String,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// Reads the state of the directory `dir`, with its tree (as [`super::snapshot`] gives it).
pub fn read(dir: &Path) -> (Tree, State) {
    let mut entries = Vec::new();
    super::walk(dir, dir, &[], &mut entries);
    // In path order, so that a group is named by its first path whatever order the
    // directory lists its entries in.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut groups: HashMap<(u64, u64), String> = HashMap::new();
    let mut tree = Tree::new();
    let mut state = State::new();
    for (p, node, m) in entries {
        let (nlink, group) = match node {
            Node::File(_) => (m.nlink(), groups.entry((m.dev(), m.ino())).or_insert_with(|| p.clone()).clone()),
            Node::Dir | Node::Symlink(_) | Node::Hardlink(_) => (0, String::new()),
        };
        state.insert(p.clone(), Entry { node: node.clone(), mode: m.mode(), nlink, group });
        tree.insert(p, node);
    }
    (tree, state)
}

/// The state [`super::materialise`] gives `tree` in a directory where new directories get
/// the permission bits `perms` (the umask applied to 0o777; files get `perms & 0o666`).
pub fn of_fixture(tree: &Tree, perms: u32) -> State {
    let dir = || Entry { node: Node::Dir, mode: S_IFDIR | perms, nlink: 0, group: String::new() };
    let mut state = State::new();
    // Hard links name a file of the tree; the group is named by its first path.
    let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, n) in tree {
        match n {
            Node::File(_) => members.entry(p.as_str()).or_default().push(p.as_str()),
            Node::Hardlink(target) => members.entry(target.as_str()).or_default().push(p.as_str()),
            Node::Dir | Node::Symlink(_) => {}
        }
    }
    for (p, n) in tree {
        for parent in Path::new(p).ancestors().skip(1) {
            let parent = parent.to_string_lossy();
            if !parent.is_empty() {
                state.entry(parent.into_owned()).or_insert_with(dir);
            }
        }
        let entry = match n {
            Node::Dir => dir(),
            Node::Symlink(_) => Entry { node: n.clone(), mode: S_IFLNK | 0o777, nlink: 0, group: String::new() },
            Node::File(_) | Node::Hardlink(_) => {
                let file = match n {
                    Node::Hardlink(t) => t.as_str(),
                    _ => p.as_str(),
                };
                let group = &members[file];
                let first = group.iter().min().copied().unwrap_or(file);
                let node = match tree.get(file) {
                    Some(Node::File(bytes)) => Node::File(bytes.clone()),
                    _ => Node::File(Vec::new()),
                };
                Entry { node, mode: S_IFREG | (perms & 0o666), nlink: group.len() as u64, group: first.to_owned() }
            }
        };
        state.insert(p.clone(), entry);
    }
    state
}

/// Turns the directory `dir`, whose state is `now`, into `tree` (whose state is `want`):
/// see the module docs.
pub fn relayout(dir: &Path, now: &State, want: &State, tree: &Tree) -> std::io::Result<()> {
    let kept = settled(now, want);
    let mut removed: Vec<&str> = Vec::new();
    for (p, e) in now {
        if kept.contains(p.as_str()) || removed.iter().any(|r| under(p, r)) {
            continue;
        }
        match e.node {
            Node::Dir => {
                std::fs::remove_dir_all(dir.join(p))?;
                removed.push(p);
            }
            Node::File(_) | Node::Symlink(_) | Node::Hardlink(_) => std::fs::remove_file(dir.join(p))?,
        }
    }
    let todo: Tree =
        tree.iter().filter(|(p, _)| !kept.contains(p.as_str())).map(|(p, n)| (p.clone(), n.clone())).collect();
    super::materialise(dir, &todo)
}

/// The paths that are the same in both states and can stay: a path only with every
/// directory above it, and a file only with its whole hard-link group (the same members, no
/// link from elsewhere, and every member staying).
fn settled<'a>(now: &'a State, want: &State) -> BTreeSet<&'a str> {
    let mut kept = same(now, want);
    loop {
        let before = kept.len();
        let parents_kept = |p: &str| {
            Path::new(p)
                .ancestors()
                .skip(1)
                .all(|a| a.as_os_str().is_empty() || kept.contains(a.to_str().unwrap_or("")))
        };
        let mut next: BTreeSet<&'a str> = kept.iter().copied().filter(|p| parents_kept(p)).collect();
        let broken: BTreeSet<&str> = now
            .iter()
            .filter(|(p, e)| matches!(e.node, Node::File(_)) && !next.contains(p.as_str()))
            .map(|(_, e)| e.group.as_str())
            .collect();
        next.retain(|p| !matches!(now[*p].node, Node::File(_)) || !broken.contains(now[*p].group.as_str()));
        kept = next;
        if kept.len() == before {
            return kept;
        }
    }
}

/// The paths whose entry is the same in both states, a file with the same hard-link group
/// (the same members, and no link from elsewhere).
fn same<'a>(now: &'a State, want: &State) -> BTreeSet<&'a str> {
    let (m_now, m_want) = (members(now), members(want));

    now.iter()
        .filter(|(p, e)| {
            want.get(*p) == Some(*e)
                && match e.node {
                    Node::File(_) => {
                        let group = &m_now[e.group.as_str()];
                        group.len() as u64 == e.nlink
                            && m_want.get(e.group.as_str()).is_some_and(|w| w.iter().eq(group.iter()))
                    }
                    Node::Dir | Node::Symlink(_) | Node::Hardlink(_) => true,
                }
        })
        .map(|(p, _)| p.as_str())
        .collect()
}

/// Each hard-link group's members, by the group's name.
fn members(s: &State) -> HashMap<&str, BTreeSet<&str>> {
    let mut m: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (p, e) in s.iter().filter(|(_, e)| matches!(e.node, Node::File(_))) {
        m.entry(e.group.as_str()).or_default().insert(p.as_str());
    }
    m
}

/// Whether `p` is `dir` or under it.
fn under(p: &str, dir: &str) -> bool {
    p == dir || p.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, Node)]) -> Tree {
        entries.iter().map(|(p, n)| (p.to_string(), n.clone())).collect()
    }

    fn file(b: &str) -> Node {
        Node::File(b.as_bytes().to_vec())
    }

    /// A fixture with every kind of entry: implied parents, an empty directory, a hard-link
    /// group of three, symlinks inside and out.
    fn rich() -> Tree {
        tree(&[
            ("a", file("x")),
            ("b", Node::Hardlink("a".into())),
            ("deep/x/y/leaf", Node::Hardlink("a".into())),
            ("deep/x/up", Node::Symlink("../../a".into())),
            ("empty", Node::Dir),
            ("f", file("")),
            ("link-out", Node::Symlink("../outside/secret".into())),
        ])
    }

    fn laid(t: &Tree) -> (tempfile::TempDir, u32) {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("p");
        std::fs::create_dir(&host).unwrap();
        let perms = std::fs::metadata(&host).unwrap().mode() & 0o7777;
        super::super::materialise(&host, t).unwrap();
        (d, perms)
    }

    #[test]
    fn a_fixture_state_is_what_laying_it_out_gives() {
        for t in [rich(), Tree::new(), tree(&[("d/e", Node::Dir)])] {
            let (d, perms) = laid(&t);
            assert_eq!(read(&d.path().join("p")).1, of_fixture(&t, perms));
        }
    }

    /// Changes a run could make, each turned back by `relayout` into the fixture's state.
    #[test]
    fn relayout_undoes_every_change() {
        type Change = fn(&Path);
        let changes: &[(&str, Change)] = &[
            ("nothing", |_| {}),
            ("a file rewritten", |d| std::fs::write(d.join("f"), "new").unwrap()),
            ("a group member unlinked", |d| std::fs::remove_file(d.join("b")).unwrap()),
            ("a member replaced by a copy", |d| {
                std::fs::remove_file(d.join("deep/x/y/leaf")).unwrap();
                std::fs::write(d.join("deep/x/y/leaf"), "x").unwrap();
            }),
            ("a new link to a member", |d| std::fs::hard_link(d.join("a"), d.join("extra")).unwrap()),
            ("a directory removed", |d| std::fs::remove_dir_all(d.join("deep")).unwrap()),
            ("a directory replaced by a file", |d| {
                std::fs::remove_dir(d.join("empty")).unwrap();
                std::fs::write(d.join("empty"), "").unwrap();
            }),
            ("a symlink retargeted", |d| {
                std::fs::remove_file(d.join("link-out")).unwrap();
                std::os::unix::fs::symlink("a", d.join("link-out")).unwrap();
            }),
            ("a rename over a member", |d| std::fs::rename(d.join("f"), d.join("b")).unwrap()),
            ("a directory's mode", |d| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(d.join("deep/x"), std::fs::Permissions::from_mode(0o700)).unwrap();
            }),
        ];
        let t = rich();
        for (what, change) in changes {
            let (d, perms) = laid(&t);
            let host = d.path().join("p");
            change(&host);
            let want = of_fixture(&t, perms);
            relayout(&host, &read(&host).1, &want, &t).unwrap();
            assert_eq!(read(&host).1, want, "after {what}");
        }
        // And from one fixture to another.
        let other = tree(&[("a", file("y")), ("deep/x", Node::Dir), ("g", Node::Hardlink("a".into()))]);
        let (d, perms) = laid(&t);
        let host = d.path().join("p");
        let want = of_fixture(&other, perms);
        relayout(&host, &read(&host).1, &want, &other).unwrap();
        assert_eq!(read(&host).1, want);
    }

    #[test]
    fn nothing_is_touched_when_nothing_differs() {
        let t = rich();
        let (d, perms) = laid(&t);
        let host = d.path().join("p");
        let ino = |p: &str| std::fs::symlink_metadata(host.join(p)).unwrap().ino();
        let before: Vec<u64> = ["a", "deep/x/up", "empty", "f"].iter().map(|p| ino(p)).collect();
        std::fs::write(host.join("f"), "changed").unwrap();
        relayout(&host, &read(&host).1, &of_fixture(&t, perms), &t).unwrap();
        let after: Vec<u64> = ["a", "deep/x/up", "empty", "f"].iter().map(|p| ino(p)).collect();
        assert_eq!(before[..3], after[..3], "entries that did not change stay");
    }
}
