//! Bun, through its `node:wasi` (a JavaScript port of wasi-js inside Bun, over `node:fs`),
//! driven by `runners/js/runner.mjs` in long-lived worker processes — the machinery is
//! [`crate::js`]; this file says only what is particular to Bun.
//!
//! - Binary: `BUN_BIN`, else `<repo>/node_modules/@oven/bun-linux-x64/bin/bun` (what
//!   `npm ci` at the repository root installs: `package.json` pins the version), else
//!   `bun` on `PATH`. Version: `bun --version` (`1.4.5`).
//! - Command line: `bun runner.mjs --stdio=takeover --worker`, environment empty but for
//!   `PATH`, `NO_COLOR` and `BUN_RUNTIME_TRANSPILER_CACHE_PATH=0` (no transpiler cache
//!   written under `$HOME`). Bun has no JS heap limit flag: `case.limits.memory_bytes` is
//!   not enforced on the heap (linear memory is fixed in size by the compiled modules).
//! - `node:wasi` differences the runner works around: no `getImportObject()` (the imports
//!   are `{wasi_snapshot_preview1: wasi.wasiImport}`); the `stdin`/`stdout`/`stderr` and
//!   `returnOnExit` options are ignored. Stdio: the guest's fds 0-2 are always the process's
//!   descriptors 0-2, so the runner uses `--stdio=takeover`: for each run it opens the three
//!   pipes *as* descriptors 0, 1 and 2 (the protocol travels on other descriptors), then
//!   puts `/dev/null` and its stderr back. A guest that closes its stdout closes descriptor
//!   1 of the worker, which is therefore re-established after every run.
//! - Descriptors: Bun's `WASI` never closes what it opened (preopens, guest files); the
//!   runner closes what a run left inside its preopens.
//!
//! Endings: `proc_exit(code)` makes Bun's `node:wasi` call `process.exit(code)`; while the
//! guest runs the runner replaces `process.exit` by a function that throws, so the worker
//! survives and the run is `Exit(code)` (the full u32; a Bun process of its own would exit
//! with `code & 0xff`). `_start` returning → `Exit(0)` (Bun's `start()` returns nothing).
//! A `WebAssembly.RuntimeError` → `Trap`, by JavaScriptCore's message: `Unreachable code
//! should not be executed` → `Unreachable`, `Out of bounds memory access` →
//! `MemoryOutOfBounds`, else `Other`; `RangeError: Maximum call stack size exceeded` →
//! `Other`; any other exception out of `start()` → `HostError` — with Bun this is common:
//! its host functions throw JS errors (`RangeError` from a `DataView` for a guest pointer
//! out of bounds, `Error: invalid clockId`, `TypeError`) instead of returning an errno. A
//! module that fails to compile or instantiate (Bun's `wasiImport` has no `sock_accept`, so
//! every module importing it fails with a `LinkError`), or a worker that dies (e.g. `proc_raise` of
//! a fatal signal, which Bun forwards to its own process) → `Crash` (Bun's own last words
//! are on the guest's stderr then, descriptor 2 being the guest's during a run); no response
//! in time → `Timeout` (the worker is killed and replaced).
//!
//! Cost per run (`cargo run --release -- bench --runtime bun`, the `bench_notes`; measured
//! here on 2 loaded CPUs): process per run ~23 ms, worker ~3 ms with the module cached,
//! ~3.6 ms sending and compiling it every run.

use crate::js::{first_line, Binary, JsRuntime, Spec, StdioMode};

/// Bun's [`Spec`].
pub static SPEC: Spec = Spec {
    name: "bun",
    binary: Binary {
        env: "BUN_BIN",
        bundled: Some("node_modules/@oven/bun-linux-x64/bin/bun"),
        exe: "bun",
        install: "installs @oven/bun-linux-x64, pinned in package.json",
    },
    version_args: &["--version"],
    version: first_line,
    env: &[("NO_COLOR", "1"), ("BUN_RUNTIME_TRANSPILER_CACHE_PATH", "0")],
    command: |_, _| {},
    stdio: StdioMode::Takeover,
    close_through_wasi: false,
    max_runs_per_worker: 2000,
    unreachable_dirs: &[],
    missing_imports: &["sock_accept"],
};

/// The Bun adapter.
pub fn runtime() -> JsRuntime {
    JsRuntime::new(&SPEC)
}
