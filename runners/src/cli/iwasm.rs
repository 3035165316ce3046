//! WAMR's `iwasm` (WebAssembly Micro Runtime, its `product-mini` command line), one
//! process per run through [`crate::cli`], which documents what every command-line
//! runtime shares (module file, empty environment, pipes, frames, time and memory limits).
//!
//! - Binary: `IWASM_BIN`, else `iwasm` on `PATH`; otherwise not available. WAMR is on no
//!   package registry; build it from source (`product-mini/platforms/linux`, default
//!   interpreter; `-DWAMR_BUILD_SIMD=0` avoids a download of SIMDe that the default SIMD
//!   build needs). Version: the first line of `iwasm --version` (`iwasm 2.4.5`), without
//!   the name.
//! - Command line: `iwasm --map-dir=GUEST::HOST… --env=KEY=VALUE… FILE ARGS…`. iwasm reads
//!   options while a word starts with `-`, so the module's file name never does
//!   ([`crate::cli::module_file_name`]); the words after the file are the guest's.
//! - argv: iwasm passes the file name as typed as the guest's `argv[0]`, so the guest sees
//!   exactly `args[0]` when it is a plain file name, and `module.wasm` otherwise.
//! - Preopens: `--map-dir` with the guest name first and `::` between (a guest name with
//!   `::` in it cannot be expressed). Environment: iwasm refuses an `--env` with no `=`;
//!   the template always writes one.
//!
//! Endings (from `product-mini/platforms/posix/main.c`): `_start` returning or
//! `proc_exit(n)` → the process exits with the WASI exit code (`n` modulo 256, the
//! operating system's truncation) → `Exit(n)`. A trap makes iwasm print the exception
//! (`Exception: unreachable`, `Exception: out of bounds memory access`, …) with `printf`,
//! i.e. on **stdout** after everything the guest wrote there, and exit with status 1:
//! exit status 1 with that last line → `Trap`, classified by its text, and the line is
//! removed from stdout. A module iwasm refuses (load or instantiation errors, also printed
//! on stdout) exits 1 before any trace frame → `Crash`. Killed by a signal → `Crash`; past
//! the time limit → `Timeout` (iwasm's own `--timeout` exists only in thread-manager
//! builds, so the adapter kills the process group). Memory: `RLIMIT_DATA`.

use regex::Regex;

use crate::cli::{first_line, CliRuntime, Program, Spec, Stream, Template, TrapRule, Version};

/// The iwasm adapter.
pub fn runtime() -> CliRuntime {
    CliRuntime::new(Spec {
        name: "iwasm",
        program: Program {
            env: Some("IWASM_BIN".into()),
            exe: "iwasm".into(),
            install: "set IWASM_BIN to the iwasm binary (WAMR is on no package registry: build \
                      product-mini/platforms/linux with cmake -DWAMR_BUILD_SIMD=0)"
                .into(),
        },
        version: Version::Args(&["--version"], |out| {
            let line = first_line(out);
            line.strip_prefix("iwasm ").unwrap_or(&line).to_owned()
        }),
        template: Template::parse(
            &["{mounts}", "{envs}", "{module}", "{args}"],
            &["--map-dir={guest}::{host}"],
            &["--env={key}={value}"],
        )
        .expect("the iwasm template is valid"),
        traps: vec![TrapRule {
            exit_code: Some(1),
            stream: Stream::Stdout,
            pattern: Some(Regex::new(r"Exception: [^\n]*\n?\z").expect("valid regex")),
        }],
        limit_memory: true,
    })
}
