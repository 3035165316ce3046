//! [`Outcome`]: what a runtime adapter reports after running a [`crate::test_case::TestCase`],
//! normalised across runtimes (each adapter documents how its runtime's events map here).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::fixture::Tree;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// `_start` returned (code 0) or `proc_exit(code)` was called.
    Exit(u32),
    /// The instance trapped.
    Trap(TrapKind),
    /// The run passed its time limit and was stopped.
    Timeout,
    /// The runtime itself failed: crashed, panicked, refused the module, or died.
    Crash(String),
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exit(c) => write!(f, "exit {c}"),
            Ending::Trap(k) => write!(f, "trap ({k})"),
            Ending::Timeout => f.write_str("timeout"),
            Ending::Crash(m) => write!(f, "runtime crash: {m}"),
        }
    }
}

/// A trap, classified; the runtime's own message is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapKind {
    pub class: TrapClass,
    pub message: String,
}

impl std::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.class, self.message)
    }
}

/// Trap classes runtimes agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapClass {
    Unreachable,
    MemoryOutOfBounds,
    /// A host function refused its arguments by trapping (bad pointer, exit code range…).
    HostError,
    Other,
}

/// Whether the files outside the preopens are as they were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canaries {
    Intact,
    /// What changed outside the sandbox: paths relative to the run directory.
    Changed(Vec<String>),
}

/// How much of an exit status a runtime can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExitWidth {
    /// The whole `u32` that `proc_exit` was given (in-process and JS-worker runtimes).
    #[default]
    Full,
    /// Its low 8 bits: a runtime driven as a process reports the guest's exit through its
    /// own process exit status, and a POSIX process cannot report more (`exit(3)`).
    LowByte,
}

impl ExitWidth {
    /// Whether an observed exit status is the expected code, as far as this width shows.
    pub fn matches(self, expected: u32, observed: u32) -> bool {
        match self {
            ExitWidth::Full => expected == observed,
            ExitWidth::LowByte => expected & 0xff == observed,
        }
    }
}

/// Everything observed of one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ending: Ending,
    /// How much of the exit status the runtime could report.
    pub exit_width: ExitWidth,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Guest memory `[0, capture_len)` after the run, if the runtime could give it.
    pub memory: Option<Vec<u8>>,
    /// Final tree of each preopen, by guest name.
    pub trees: BTreeMap<String, Tree>,
    pub canaries: Canaries,
    pub elapsed: Duration,
}
