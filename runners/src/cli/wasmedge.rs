//! WasmEdge's `wasmedge` command line (interpreter), one process per run through
//! [`crate::cli`], which documents what every command-line runtime shares (module
//! file, empty environment, pipes, frames, time and memory limits).
//!
//! - Binary: `WASMEDGE_BIN`, else `wasmedge` on `PATH`; otherwise not available. WasmEdge
//!   is on no package registry; build it from source (`-DWASMEDGE_USE_LLVM=OFF
//!   -DWASMEDGE_BUILD_PLUGINS=OFF`; its fmt and spdlog dependencies must be given as local
//!   sources, since Debian's fmt 9 is too old). Version: `wasmedge --version`
//!   (`wasmedge version 0.17.1`), the last word.
//! - Command line: `wasmedge run --dir=GUEST:HOST… --env=KEY=VALUE… -- FILE ARGS…`. The
//!   `run` subcommand and `--` make the parse independent of the file's name (a file called
//!   `run` or `compile` would otherwise be taken for a subcommand); the `--opt=value` form
//!   keeps a value starting with `-` from being read as an option. Every word after the file
//!   is the guest's.
//! - argv: WasmEdge passes the module's *file name with its extension replaced by
//!   `.wasm`* as the guest's `argv[0]` (`runtimeTool.cpp`: `InputPath.filename()
//!   .replace_extension("wasm")`): `scenario.wasm` stays itself, `x` becomes `x.wasm`,
//!   `a.out` becomes `a.wasm`, and an `args[0]` that is not a plain file name becomes
//!   `module.wasm`. There is no option to set it.
//! - Preopens: `--dir=GUEST:HOST`, guest first, split at the first `:` (a guest name with a
//!   `:` cannot be expressed); WasmEdge canonicalises the guest name (`/sandbox` is reported
//!   as `sandbox` by `fd_prestat_dir_name`) and orders preopens its own way.
//!   Environment: each `--env` entry is passed verbatim.
//!
//! Endings (from `lib/driver/runtimeTool.cpp`): `_start` returning or `proc_exit(n)` →
//! exit status `n` (modulo 256) → `Exit(n)`. A trap or a host function error is logged by
//! spdlog on **stdout**, after everything the guest wrote there (`[date time] [error]
//! execution failed: unreachable, Code: 0x40a`, then lines naming the instruction, the call
//! stack and the function) and the process exits with `128 + SIGABRT` = 134: status 134
//! with that log line → `Trap`, classified by its text, and the log (from that line to the
//! end) is removed from stdout. A module WasmEdge refuses exits 1 before any
//! trace frame → `Crash`. Killed by a signal → `Crash`; past the time limit → `Timeout`
//! (the adapter kills the process group; `--time-limit` is not used). Memory:
//! `RLIMIT_DATA`.

use regex::Regex;

use crate::cli::{CliRuntime, Program, Spec, Stream, Template, TrapRule, Version};

/// Exit status of a WasmEdge run that trapped (`128 + SIGABRT`).
pub const TRAP_EXIT: i32 = 134;

/// The WasmEdge adapter.
pub fn runtime() -> CliRuntime {
    CliRuntime::new(Spec {
        name: "wasmedge",
        program: Program {
            env: Some("WASMEDGE_BIN".into()),
            exe: "wasmedge".into(),
            install: "set WASMEDGE_BIN to the wasmedge binary (WasmEdge is on no package registry: build it \
                      with cmake -DWASMEDGE_USE_LLVM=OFF -DWASMEDGE_BUILD_PLUGINS=OFF)"
                .into(),
        },
        version: Version::Args(&["--version"], |out| {
            let line = crate::process::first_line(out);
            line.rsplit(' ').next().unwrap_or(&line).to_owned()
        }),
        template: Template::parse(
            &["run", "{mounts}", "{envs}", "--", "{module}", "{args}"],
            &["--dir={guest}:{host}"],
            &["--env={key}={value}"],
        )
        .expect("the wasmedge template is valid"),
        traps: vec![TrapRule {
            exit_code: Some(TRAP_EXIT),
            stream: Stream::Stdout,
            pattern: Some(
                Regex::new(r"\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+\] \[error\] execution failed: [^\n]*")
                    .expect("valid regex"),
            ),
        }],
        limit_memory: true,
    })
}
