//! [`TestCase`]: what a runtime adapter is given — a compiled module, the fixture to lay
//! out in its sandbox, the invocation, limits, and which part of guest memory to return.

use std::sync::Arc;
use std::time::Duration;

use crate::fixture::Fixture;

/// Everything a runtime needs to run one scenario.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Scenario id (`fd_write/stdout-basic`).
    pub id: String,
    /// The compiled core wasm module (exports `memory` and `_start`).
    pub module: Arc<Vec<u8>>,
    /// The same module, also writing its trace to fd 2 in frames, for runtimes whose guest
    /// memory cannot be read after the run (the frames of [`crate::frames`]).
    pub module_stderr_trace: Arc<Vec<u8>>,
    /// Preopens with their initial trees, argv, env, stdin.
    pub fixture: Fixture,
    /// Guest memory the adapter must return after the run: `[0, capture_len)`.
    /// It holds the trace and every step's outputs (decoded by the scenario language).
    pub capture_len: u32,
    pub limits: Limits,
}

/// Per-run resource limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time after which the run is stopped and reported as a timeout.
    pub timeout: Duration,
    /// Largest linear memory (and, for subprocess runtimes, heap) a run may use.
    pub memory_bytes: u64,
}

/// The time budget of a scenario that states none (`budget:`).
///
/// Measured (`wasi-conform bench --run`, all nine runtimes, 722 scenarios): the slowest run
/// that did not hang took 1.02 s (a `poll_oneoff` whose clock subscription waits 1 s); every
/// scenario that does not wait on a clock finished within 110 ms on every runtime (p99
/// 40 ms). Five seconds is about five times the slowest honest run, so a loaded machine
/// (`cargo test` running trials on every core) does not turn a slow run into a timeout.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(5);

/// The budget of a known hang: a runtime's expected failure whose entry says
/// `verdict = "timeout"` (an expectation entry's `verdict = "timeout"`). Each known hang is a
/// scenario that an honest runtime finishes at once (within 110 ms above), so half a second
/// still tells a fixed runtime (an unexpected pass) from one that still hangs, and the hang
/// costs a tenth of the default budget on every run.
pub const KNOWN_HANG_BUDGET: Duration = Duration::from_millis(500);

/// The largest budget a scenario may state.
pub const MAX_BUDGET: Duration = Duration::from_secs(60);

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: DEFAULT_BUDGET, memory_bytes: 256 << 20 }
    }
}
