//! The run directory every runtime gets, and the canaries that tell an escape: one
//! layout, laid out by the host sandbox (`wasi-conform-runners`), modelled by the reference
//! and written by the wasi-testsuite export.
//!
//! ```text
//! <run directory>/            everything here but the preopens is watched
//!   guard                     canary one level further out
//!   root/<binding>/           one directory per preopen (binding = name without `/`)
//!   root/outside/secret       canary reachable as `../outside/secret` from a preopen
//!   root/outside/dir/inner
//! ```
//!
//! A symlink in a fixture may point at `../outside/secret`; an escape through `..` twice
//! lands in the watched top directory. A few host paths outside the run directory are
//! watched as well ([`HOST_WATCHED`]).

use std::collections::BTreeMap;

/// Contents of every canary file.
pub const CANARY: &[u8] = b"wasi-conform canary: a sandboxed guest must never read or change this\n";

/// The directory, relative to the run directory, that holds the preopens and `outside`.
pub const ROOT: &str = "root";

/// What a watched path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Dir,
    /// A file holding [`CANARY`].
    Canary,
}

/// Everything outside the preopens, relative to the run directory, parents before
/// children, in the order it is created.
pub const LAYOUT: &[(&str, Watched)] = &[
    ("guard", Watched::Canary),
    ("root", Watched::Dir),
    ("root/outside", Watched::Dir),
    ("root/outside/secret", Watched::Canary),
    ("root/outside/dir", Watched::Dir),
    ("root/outside/dir/inner", Watched::Canary),
];

/// Host paths outside every run directory that are watched too: each top-level name a
/// scenario or a generated program can write as an absolute path (`/a`, `/new`, the
/// directory of an absolute symlink target no host has). A runtime that resolves a guest's
/// absolute path, or an absolute symlink target, on the host instead of inside the preopen
/// would create or change one of them (a fuzzing run once left a file `/a` in the host's
/// root that no canary inside the run directory could see). Only their own metadata is
/// compared (type, link target, link count, modification time, mode), never a directory's
/// contents, and nothing here is ever created or removed by the harness.
///
/// They are shared by every run on the host: an escape during parallel runs may show in a
/// run other than the one that caused it (the verdict still says what changed on the host).
pub const HOST_WATCHED: &[&str] = &[
    "/a",
    "/d",
    "/e",
    "/h",
    "/new",
    "/new-dir",
    "/link-in",
    "/link-dir",
    "/link-out",
    "/link-abs",
    "/dangling",
    "/loop",
    "/missing",
    "/sandbox",
    "/wasi-conform-absent",
];

/// The directory of a preopen, relative to the run directory: `root/<binding>`.
pub fn preopen_dir(binding: &str) -> String {
    format!("{ROOT}/{binding}")
}

/// The canaries under `root/outside`, relative to it (`secret`, `dir/inner`): what a
/// harness that lays out only `outside` next to its preopens writes.
pub fn outside_canaries() -> impl Iterator<Item = &'static str> {
    LAYOUT.iter().filter(|(_, w)| *w == Watched::Canary).filter_map(|(p, _)| p.strip_prefix("root/outside/"))
}

/// The paths that changed between two snapshots of the watched paths, in the words every
/// verdict uses: `<path> (removed)`, `<path> (<how>)` for a path present in both whose
/// entries differ (`how` says in what, e.g. `modified` or `metadata changed`), then
/// `<path> (created)`.
pub fn changes<T: PartialEq>(
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    how: impl Fn(&T, &T) -> &'static str,
) -> Vec<String> {
    let mut changed = Vec::new();
    for (p, b) in before {
        match after.get(p) {
            None => changed.push(format!("{p} (removed)")),
            Some(a) if a != b => changed.push(format!("{p} ({})", how(b, a))),
            Some(_) => {}
        }
    }
    changed.extend(after.keys().filter(|p| !before.contains_key(*p)).map(|p| format!("{p} (created)")));
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_before_children() {
        for (i, (p, _)) in LAYOUT.iter().enumerate() {
            if let Some((parent, _)) = p.rsplit_once('/') {
                let at = LAYOUT.iter().position(|(q, _)| *q == parent).expect("parent listed");
                assert!(at < i, "{parent} after {p}");
            }
        }
    }

    #[test]
    fn changes_are_named_in_order() {
        let before: BTreeMap<String, u8> = [("a".into(), 1), ("b".into(), 2)].into();
        let after: BTreeMap<String, u8> = [("b".into(), 3), ("c".into(), 4)].into();
        assert_eq!(changes(&before, &after, |_, _| "modified"), ["a (removed)", "b (modified)", "c (created)"]);
        assert!(changes(&before, &before, |_, _| "modified").is_empty());
    }

    #[test]
    fn the_outside_canaries() {
        assert_eq!(outside_canaries().collect::<Vec<_>>(), ["secret", "dir/inner"]);
    }
}
