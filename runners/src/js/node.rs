//! Node.js, through `node:wasi` (`version: 'preview1'`, `returnOnExit: true`; uvwasi
//! underneath), driven by `runners/js/runner.mjs` in long-lived worker processes — the
//! machinery is [`crate::js`]; this file says only what is particular to Node.
//!
//! - Binary: `NODE_BIN`, else `node` on `PATH` (Node is part of the machine image, not
//!   pinned by `package.json`). Version: `node --version` (`v20.20.2`).
//! - Command line: `node --no-warnings --max-old-space-size=N runner.mjs
//!   --stdio=descriptors --worker`. `--no-warnings` silences the `ExperimentalWarning`
//!   `node:wasi` prints; `--max-old-space-size` is `case.limits.memory_bytes` in MiB (at
//!   least 64): it bounds the JS heap, not linear memory.
//! - Stdio: the three pipes are opened by the runner and passed as `new WASI({stdin, stdout,
//!   stderr})`, which node:wasi honours.
//! - Descriptors: uvwasi never closes the host descriptors behind an instance (preopens,
//!   files the guest left open), so the runner closes those a run left inside its preopens.
//!
//! Endings: `wasi.start()` returning a number (the `proc_exit` code under `returnOnExit`, or
//! 0 when `_start` returned) → `Exit(code)`; a `WebAssembly.RuntimeError` → `Trap`, by V8's
//! message: `unreachable` → `Unreachable`, `memory access out of bounds` →
//! `MemoryOutOfBounds`, anything else → `Other`; a `RangeError` about the call stack (stack
//! exhaustion) → `Other`; any other error thrown out of `start()` → `HostError` (what
//! node:wasi throws when it refuses its arguments; note that it answers a guest pointer out
//! of bounds with errno `overflow`, not a trap); a module that fails to compile or
//! instantiate, a `WASI` that cannot be set up, or a worker that dies → `Crash` (with the tail
//! of its stderr); no response within the time limit → `Timeout` (the worker is killed and
//! replaced).
//!
//! Cost per run (`cargo run --release -- bench --runtime node`, the `bench_notes`; measured
//! here on 2 loaded CPUs): process per run ~83 ms, worker ~3.4 ms with the module cached,
//! ~3.6 ms sending and compiling it every run.

use crate::js::{first_line, Binary, JsRuntime, Spec, StdioMode};

/// Node.js's [`Spec`].
pub static SPEC: Spec = Spec {
    name: "node",
    binary: Binary {
        env: "NODE_BIN",
        bundled: None,
        exe: "node",
        install: "Node.js (20 or later) is part of the machine image",
    },
    version_args: &["--version"],
    version: first_line,
    env: &[],
    command: |cmd, launch| {
        cmd.arg("--no-warnings").arg(format!("--max-old-space-size={}", launch.heap_mb));
    },
    stdio: StdioMode::Descriptors,
    close_through_wasi: false,
    max_runs_per_worker: 2000,
    unreachable_dirs: &[],
    missing_imports: &[],
};

/// The Node.js adapter.
pub fn runtime() -> JsRuntime {
    JsRuntime::new(&SPEC)
}
