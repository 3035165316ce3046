//! Deno, through its `node:wasi` (a native implementation in Deno's Node compatibility
//! layer), driven by `runners/js/runner.mjs` in long-lived worker processes — the machinery
//! is [`crate::js`]; this file says only what is particular to Deno.
//!
//! - Binary: `DENO_BIN`, else `<repo>/node_modules/@deno/linux-x64-glibc/deno` (what
//!   `npm ci` at the repository root installs: `package.json` pins the version; the package
//!   puts the binary at its root, not under `bin/`), else `deno` on `PATH`. Version:
//!   `deno --version`, first line (`deno 2.9.6 (stable, …)` → `2.9.6`).
//! - Command line: `deno run --allow-read --allow-write --no-config --no-lock --no-prompt
//!   --v8-flags=--max-old-space-size=N runner.mjs --stdio=descriptors --close-through-wasi
//!   --worker` (`--close-through-wasi`: see Stdio below). Read and write are the only
//!   permissions (no net, env, run, ffi, sys); no configuration file,
//!   lock file or `package.json` is looked for or written. Environment: `PATH`,
//!   `DENO_NO_UPDATE_CHECK=1`, `DENO_NO_PACKAGE_JSON=1`, `NO_COLOR=1`, and `DENO_DIR` in the
//!   adapter's own temporary directory, so Deno's caches are never written elsewhere.
//!   `--max-old-space-size` is `case.limits.memory_bytes` in MiB (at least 64).
//! - Stdio: the three pipes are opened by the runner and passed as `new WASI({stdin, stdout,
//!   stderr})`; Deno duplicates each (`fcntl(F_DUPFD_CLOEXEC)`) into a "HostFile" stdio entry
//!   (which fdstat reports as a regular file, and which fd_seek/fd_pwrite answer with badf,
//!   as they do for inherited stdio). Those duplicates, and the files the guest opened, belong
//!   to the instance's `WasiContext`, a cppgc object of Deno's (`ext/node/ops/wasi.rs`): they
//!   are closed by its `fd_close` or when the collector finalizes it, never when the runner
//!   closes its own descriptors. Until one of them is closed the adapter sees no end of the
//!   guest's output.
//!
//!   The runner used to force a full collection (`--expose-gc`, `gc()` after one turn of the
//!   event loop) after every run and rely on it. That was the cause of a rare crash verdict
//!   "the guest's output pipe was still open after the run": measured by driving
//!   `runner.mjs` directly and reading the worker's `/proc/<pid>/fd` after every answer, the
//!   duplicates were still open after 1 run in 5000 unloaded and 2 in 9465 with four busy
//!   loops on the 2 CPUs (load ~9), each time at the same runs of a fresh worker (its 137th
//!   or 511th: a point in V8's collection schedule, not the guest). There a `WeakRef` (in a
//!   copy of the runner run with `--allow-all`, to read `/proc/self/fd`) showed the `WASI` object itself still alive after that `gc()`, after a further
//!   `gc({execution: 'async'})` run from a task and after another synchronous `gc()`; only a
//!   fourth collection, another turn later, freed it. A worker blocked reading its next
//!   request collects nothing, so the adapter waited its 5 s in vain. Now the
//!   runner closes every descriptor of the instance through the instance's own `fd_close`
//!   after each run (`Spec::close_through_wasi`, `--close-through-wasi`: numbers 0 to 4095,
//!   ~0.2 ms; Deno hands out the lowest free number), deterministically and without a
//!   collection: 0 descriptors left open in 24675 runs under the same load, and 0 crashes in
//!   35 rounds of the whole suite through the adapter (24745 runs) at load ~10; the forced
//!   collection and `--expose-gc` are gone. A guest that renumbers a descriptor beyond 4095
//!   (`fd_renumber` grows Deno's table) leaves it open: the adapter finds it in the worker's
//!   `/proc/<pid>/fd` after the answer and retires the worker (see [`crate::js`]).
//! - Sandbox: Deno refuses every path under `/dev` (and `/proc`, `/sys`) without
//!   `--allow-all`, even with `--allow-read --allow-write` and even through a symlink
//!   (<https://github.com/denoland/deno/issues/30979>), and sandboxes live in `/dev/shm` by
//!   default. So a sandbox there is copied, for the run, into the adapter's temporary
//!   directory (layout, contents, symlinks, hard links, modes), Deno runs on the copy, and
//!   the copy's final trees and canary check are the run's (`Spec::unreachable_dirs`; the
//!   copy is skipped when `WASI_CONFORM_SANDBOX_DIR` points elsewhere).
//!
//! Endings: `wasi.start()` returning a number (the `proc_exit` code: Deno honours
//! `returnOnExit`, or 0 when `_start` returned) → `Exit(code)`; a
//! `WebAssembly.RuntimeError` → `Trap`, by V8's message (as for Node); a `RangeError` about
//! the call stack → `Other`; any other exception out of `start()` → `HostError`; a module
//! that fails to compile or instantiate, a `WASI` that cannot be set up, or a worker that
//! dies → `Crash` (with the tail of its stderr); no response in time → `Timeout` (the worker
//! is killed and replaced). Deno's host functions answer an out-of-bounds guest pointer
//! with errno `fault`, never a trap.
//!
//! Cost per run (`cargo run --release -- bench --runtime deno --rounds 1`; measured here on 2
//! shared CPUs): the whole suite at 233 runs/s, median 3.7 ms a run with its sandbox (with
//! the forced collection: 12 runs/s, median 24 ms); `bench_notes`: process per run ~70-110 ms
//! (Deno's start-up with the Node compatibility layer), worker ~3 ms (was ~26-32 ms, mostly
//! the collection), worker without the module cache about the same.

use crate::js::{Binary, JsRuntime, Spec, StdioMode};

/// Deno's [`Spec`].
pub static SPEC: Spec = Spec {
    name: "deno",
    binary: Binary {
        env: "DENO_BIN",
        bundled: Some("node_modules/@deno/linux-x64-glibc/deno"),
        exe: "deno",
        install: "installs @deno/linux-x64-glibc, pinned in package.json",
    },
    version_args: &["--version"],
    version: |out| {
        let line = out.lines().next().unwrap_or("").trim();
        let line = line.strip_prefix("deno ").unwrap_or(line);
        line.split_whitespace().next().unwrap_or(line).to_owned()
    },
    env: &[("DENO_NO_UPDATE_CHECK", "1"), ("DENO_NO_PACKAGE_JSON", "1"), ("NO_COLOR", "1")],
    command: |cmd, launch| {
        cmd.env("DENO_DIR", launch.state_dir.join("deno-dir"))
            .arg("run")
            .arg("--allow-read")
            .arg("--allow-write")
            .arg("--no-config")
            .arg("--no-lock")
            .arg("--no-prompt")
            .arg(format!("--v8-flags=--max-old-space-size={}", launch.heap_mb));
    },
    stdio: StdioMode::Descriptors,
    // Its `WASI` owns duplicates of the stdio descriptors until closed (see Stdio above).
    close_through_wasi: true,
    max_runs_per_worker: 2000,
    // Deno refuses /dev, /proc and /sys paths without --allow-all (denoland/deno#30979).
    unreachable_dirs: &["/dev/", "/proc/", "/sys/"],
    missing_imports: &[],
};

/// The Deno adapter.
pub fn runtime() -> JsRuntime {
    JsRuntime::new(&SPEC)
}
