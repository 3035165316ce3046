//! What differs between the JS runtimes: a [`Spec`] names the runtime, says where its
//! binary is and how it gives its version, adds its flags and environment to the runner's
//! command line, and says how the guest's stdio reach its `node:wasi`.

use std::path::Path;
use std::process::Command;

/// Everything that differs between the JS runtimes.
pub struct Spec {
    /// [`crate::Runtime::name`].
    pub name: &'static str,
    /// Where the binary is looked for.
    pub binary: Binary,
    /// Arguments that make the binary print its version, and how to read that output.
    pub version_args: &'static [&'static str],
    pub version: fn(&str) -> String,
    /// Environment of every process started (the version probe included), beyond `PATH`.
    pub env: &'static [(&'static str, &'static str)],
    /// The command line between the binary and the runner script (runtime flags), and any
    /// environment that depends on the launch.
    pub command: fn(&mut Command, &Launch<'_>),
    /// How the guest's stdio reach `node:wasi` (the runner's `--stdio`).
    pub stdio: StdioMode,
    /// The runtime's `WASI` keeps duplicates of the stdio descriptors (and the guest's files)
    /// until it is closed or garbage-collected: the runner closes them after every run
    /// through the instance's own `fd_close` (`--close-through-wasi`, see `runner.mjs`).
    pub close_through_wasi: bool,
    /// Runs after which a worker is replaced (a backstop against leaks in the runtime).
    pub max_runs_per_worker: u32,
    /// Host directories (prefixes such as `/dev/`) the runtime may not use under the
    /// permissions it is given. A sandbox under one of them (`/dev/shm`, the default place)
    /// is copied for the run to the adapter's own directory, the runtime works on the copy,
    /// and the copy's final trees and canaries are reported (`Execution::own_sandbox`).
    pub unreachable_dirs: &'static [&'static str],
    /// Preview1 functions the runtime's `node:wasi` does not provide: a module importing one
    /// fails to instantiate ([`crate::Runtime::missing_imports`]).
    pub missing_imports: &'static [&'static str],
}

/// Where a runtime's binary is looked for, in this order.
pub struct Binary {
    /// An environment variable naming the binary (`NODE_BIN`).
    pub env: &'static str,
    /// The copy `npm ci` installs, relative to the repository root.
    pub bundled: Option<&'static str>,
    /// The executable's name on `PATH`.
    pub exe: &'static str,
    /// How to install it, for the not-available message.
    pub install: &'static str,
}

/// What a [`Spec::command`] may depend on.
pub struct Launch<'a> {
    /// `case.limits.memory_bytes` in MiB (at least 64), for a heap-size flag.
    pub heap_mb: u64,
    /// A directory owned by the adapter, removed with it: the place for a runtime's caches.
    pub state_dir: &'a Path,
}

/// How the guest's stdin, stdout and stderr (named pipes) reach `node:wasi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioMode {
    /// Opened by the runner and passed as `new WASI({stdin, stdout, stderr})`.
    Descriptors,
    /// For a `node:wasi` that ignores those options and always uses descriptors 0, 1 and 2:
    /// the runner opens the pipes *as* 0, 1 and 2 for the run and carries the protocol on
    /// other descriptors.
    Takeover,
}

impl StdioMode {
    /// The runner's `--stdio` flag.
    pub(super) fn flag(self) -> &'static str {
        match self {
            StdioMode::Descriptors => "--stdio=descriptors",
            StdioMode::Takeover => "--stdio=takeover",
        }
    }
}
