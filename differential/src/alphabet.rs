//! The small alphabet generator 1 draws from: interesting paths, descriptors, integers, flag
//! bits and buffer sizes, and the fixture tree they refer to.
//!
//! Small on purpose (cap-std's `cap-primitives` fuzzer is the model): a handful of names
//! that exist, do not exist, are directories, symlinks pointing in, out, nowhere or at
//! themselves, combined with `.`/`..`, absolute prefixes, trailing slashes, NUL bytes and an
//! over-long component. Integers are the boundary values that change behaviour (0, 1,
//! sizes around the fixture's files, the largest signed and unsigned values).
//!
//! Values that would hurt the host rather than test a runtime are left out and say why
//! (and an absolute symlink target names a directory no host has, [`ABSENT_ABSOLUTE`]):
//! file sizes and write offsets stay below [`MAX_FILE_OFFSET`] (a sparse file of 2^40
//! bytes is cheap to make but the final-tree snapshot reads it whole), and `proc_raise`
//! is not generated at all (a runtime that forwards the signal kills the fuzzer).

use wasi_conform_suite::scenario::{Node, Tree};

/// The preopen every generated program gets, and its binding.
pub const PREOPEN: &str = "/sandbox";
/// `$sandbox`.
pub const PREOPEN_BINDING: &str = "sandbox";

/// Largest file size or write offset generated (1 MiB).
pub const MAX_FILE_OFFSET: u64 = 1 << 20;

/// Path components, each naming something in (or about) the fixture.
pub const PATH_ATOMS: &[&str] = &[
    ".", "..", "a", "d", "e", "d/f", "link-in", "link-dir", "link-out", "link-abs", "dangling", "loop", "new",
    "new-dir",
];

/// Whole paths that are interesting as they are.
pub const WHOLE_PATHS: &[&[u8]] = &[
    b"",
    b"/",
    b"/sandbox",
    b"/sandbox/a",
    b"../outside/secret",
    b"d/../../outside/secret",
    b"a\0b",
    b"\xffa",
    b"a/",
    b"d/",
    b"link-dir/",
    b"link-in/",
];

/// The target of `link-abs`: absolute, under a directory that no host has.
pub const ABSENT_ABSOLUTE: &str = "/wasi-conform-absent/a";

/// The over-long component: longer than NAME_MAX (255) on every host file system.
pub fn long_name() -> Vec<u8> {
    vec![b'x'; 300]
}

/// One optional fixture entry: its path and node.
pub struct FixtureEntry {
    pub path: &'static str,
    pub node: fn() -> Node,
}

/// The fixture entries, each included or not by the generator. Parents are implied.
pub const FIXTURE: &[FixtureEntry] = &[
    FixtureEntry { path: "a", node: || Node::File(b"hello".to_vec()) },
    FixtureEntry { path: "d/f", node: || Node::File(b"x".to_vec()) },
    FixtureEntry { path: "e", node: || Node::Dir },
    FixtureEntry { path: "link-in", node: || Node::Symlink("a".into()) },
    FixtureEntry { path: "link-dir", node: || Node::Symlink("d".into()) },
    FixtureEntry { path: "link-out", node: || Node::Symlink("../outside/secret".into()) },
    // An absolute target whose parent exists on no host: a runtime that resolves absolute
    // targets on the host (Deno does) gets noent, instead of creating `/a` in the host's
    // root, as it did from a fuzzing run here (a sandbox escape no canary sees).
    FixtureEntry { path: "link-abs", node: || Node::Symlink(ABSENT_ABSOLUTE.into()) },
    FixtureEntry { path: "dangling", node: || Node::Symlink("missing".into()) },
    FixtureEntry { path: "loop", node: || Node::Symlink("loop".into()) },
    FixtureEntry { path: "h", node: || Node::Hardlink("a".into()) },
];

/// Builds a tree from a choice of fixture entries (a hard link only when its target is in).
pub fn fixture_tree(include: impl Fn(usize) -> bool) -> Tree {
    let mut tree = Tree::new();
    for (i, e) in FIXTURE.iter().enumerate() {
        if include(i) {
            tree.insert(e.path.to_owned(), (e.node)());
        }
    }
    let files: Vec<String> = tree.iter().filter(|(_, n)| matches!(n, Node::File(_))).map(|(p, _)| p.clone()).collect();
    tree.retain(|_, n| match n {
        Node::Hardlink(t) => files.contains(t),
        _ => true,
    });
    tree
}

/// Descriptors that are never a live fd in a generated program, by kind.
pub const NEVER_GRANTED_FD: u64 = 100;
/// A huge descriptor, still a valid `i32`.
pub const HUGE_FD: u64 = 0x7fff_ffff;
/// The largest descriptor value.
pub const MAX_FD: u64 = u32::MAX as u64;
/// Standard input, output and error.
pub const STDIO_FDS: &[u64] = &[0, 1, 2];

/// Offsets and lengths for `u64` parameters (`offset`, `len`, `size`).
pub const SIZES_U64: &[u64] = &[0, 1, 3, 5, 6, 4096, MAX_FILE_OFFSET, i64::MAX as u64, u64::MAX];
/// Whether a `u64` value may be passed to a parameter that grows a file.
pub fn grows_file_safely(v: u64) -> bool {
    v <= MAX_FILE_OFFSET || v >= i64::MAX as u64
}
/// Timestamps for `atim`/`mtim`.
pub const TIMESTAMPS: &[u64] = &[0, 1, 1_000_000_000, 1_700_000_000_000_000_000, u64::MAX];
/// Seek deltas (`filedelta`).
pub const DELTAS: &[i64] = &[0, 1, 2, 5, 100, -1, -5, i64::MAX, i64::MIN];
/// Plain `u32` values (exit codes, counts).
pub const U32S: &[u64] = &[0, 1, 2, 3, 126, 255, 256];
/// Buffer sizes.
pub const BUFFER_SIZES: &[u32] = &[0, 1, 3, 8, 64, 300];
/// iovec buffer sizes.
pub const IOVEC_SIZES: &[u32] = &[0, 1, 2, 5, 16];
/// ciovec contents.
pub const CIOVEC_DATA: &[&[u8]] = &[b"", b"x", b"hi\n", b"0123456789"];
/// Bytes on stdin, when the program gets any.
pub const STDIN: &[u8] = b"input\n";
/// Clock timeouts for `poll_oneoff` (nanoseconds; all short).
pub const POLL_TIMEOUTS: &[u64] = &[0, 1, 1000];

/// Stateful generation's extra fixture entries (each included or not): a chain of symlinks
/// to a file, a chain to a directory, a deep tree with a link that climbs inside the
/// preopen, and a second hard link.
pub const STATEFUL_FIXTURE: &[FixtureEntry] = &[
    FixtureEntry { path: "chain1", node: || Node::Symlink("chain2".into()) },
    FixtureEntry { path: "chain2", node: || Node::Symlink("d/f".into()) },
    FixtureEntry { path: "chain-dir", node: || Node::Symlink("link-dir".into()) },
    FixtureEntry { path: "deep/x/y/z/leaf", node: || Node::File(b"deep".to_vec()) },
    FixtureEntry { path: "deep/x/up", node: || Node::Symlink("../../d".into()) },
    FixtureEntry { path: "h2", node: || Node::Hardlink("d/f".into()) },
];

/// Stateful generation's extra path atoms: the entries above and paths through them.
pub const STATEFUL_ATOMS: &[&str] =
    &["chain1", "chain-dir", "chain-dir/f", "deep/x/y/z", "deep/x/y/z/leaf", "deep/x/up", "deep/x/up/f", "h2"];

/// The buffer wasi-libc's `readdir` hands to `fd_readdir` (`DIRENT_DEFAULT_BUFFER_SIZE`).
pub const LIBC_READDIR_BUFFER: u32 = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::{seeded, GenConfig};
    use wasi_conform_case::sandbox::HOST_WATCHED;
    use wasi_conform_suite::scenario::{Arg, Data};

    /// Every absolute path a generated program writes (an argument, a symlink target in a
    /// call or in the fixture) starts with a host path the sandbox watches, so that a
    /// runtime resolving it on the host is seen changing the host (or with `/` itself, or
    /// a preopen's own name).
    #[test]
    fn absolute_paths_start_with_a_watched_host_path() {
        let mut absolute = std::collections::BTreeSet::new();
        for stateful in [true, false] {
            let cfg = GenConfig { stateful, ..GenConfig::default() };
            for i in 0..3000 {
                let p = seeded(7, i, &cfg);
                let targets = p.fixture.preopens.iter().flat_map(|o| o.tree.values()).filter_map(|n| match n {
                    Node::Symlink(t) => Some(t.as_bytes().to_vec()),
                    _ => None,
                });
                let args = p.steps.iter().flat_map(|s| &s.args).filter_map(|a| match a {
                    Arg::Str(Data::Bytes(b)) => Some(b.clone()),
                    _ => None,
                });
                for path in targets.chain(args).filter(|b| b.first() == Some(&b'/')) {
                    let first = path[1..].split(|&c| c == b'/').next().unwrap_or_default();
                    absolute.insert(String::from_utf8_lossy(first).into_owned());
                }
            }
        }
        assert!(absolute.len() > 5, "too few absolute paths generated to say anything: {absolute:?}");
        for name in absolute {
            let allowed =
                matches!(name.as_str(), "" | "." | "..") || HOST_WATCHED.contains(&format!("/{name}").as_str());
            assert!(allowed, "`/{name}` can be generated but is not in HOST_WATCHED");
        }
    }
}
