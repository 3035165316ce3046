//! The fixture: everything a guest starts with — preopened directories with their file
//! trees, argv, the environment and stdin. Scenarios declare it, adapters lay it out in a
//! sandbox, the reference seeds its model with it, and final trees are compared in it.

use std::collections::BTreeMap;

/// Everything the guest starts with.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    /// Preopened directories, in the order the runtime is asked to open them.
    pub preopens: Vec<Preopen>,
    /// The whole argv, argv\[0\] included.
    pub args: Vec<String>,
    /// The whole guest environment, `KEY=VALUE` strings in order.
    pub env: Vec<String>,
    /// Bytes on stdin.
    pub stdin: Vec<u8>,
}

/// A preopened directory.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The name the guest sees (`fd_prestat_dir_name`), e.g. `/sandbox`.
    pub name: String,
    /// The binding steps use for its fd: the name without leading `/` or `./`.
    pub binding: String,
    /// Initial contents.
    pub tree: Tree,
}

/// A file tree: relative paths (`a`, `dir/b`) to nodes. Parents are implied.
pub type Tree = BTreeMap<String, Node>;

/// One entry of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory (needed only for empty ones; parents are implied).
    Dir,
    /// A regular file with these bytes.
    File(Vec<u8>),
    /// A symbolic link with this target (any string: relative, absolute, dangling, escaping).
    Symlink(String),
    /// A hard link to another file of the same tree (fixtures only).
    Hardlink(String),
}
