//! [`TestCase`]: what a runtime adapter is given — a compiled module, the fixture to lay
//! out in its sandbox, the invocation, limits, and which part of guest memory to return.

use std::sync::Arc;
use std::time::Duration;

use crate::scenario::Fixture;

/// Everything a runtime needs to run one scenario.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Scenario id (`fd_write/stdout-basic`).
    pub id: String,
    /// The compiled core wasm module (exports `memory` and `_start`).
    pub module: Arc<Vec<u8>>,
    /// The same module, also writing its trace to fd 2 in frames, for runtimes whose guest
    /// memory cannot be read after the run (see [`crate::compile::TraceSink`]).
    pub module_stderr_trace: Arc<Vec<u8>>,
    /// Preopens with their initial trees, argv, env, stdin.
    pub fixture: Fixture,
    /// Guest memory the adapter must return after the run: `[0, capture_len)`.
    /// It holds the trace and every step's outputs (see [`crate::trace`]).
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

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: Duration::from_secs(10), memory_bytes: 256 << 20 }
    }
}
