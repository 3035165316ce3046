//! `main` for test binaries that host crash-isolation workers or need runtimes that may be
//! missing.
//!
//! A crash-isolated runtime ([`crate::isolated`]) re-runs the current executable as its
//! worker, which only works in a program that calls [`crate::registry::serve_if_worker`]
//! first; a test binary does that only with its own `main` (`harness = false`). This runs
//! such a binary's tests as libtest-mimic trials (same command line as `cargo test`
//! binaries: filters, `--list`, …), a panicking test being a failed trial with its message.
//!
//! A test that needs a runtime ([`needs_runtime`]) is never a silent pass when the runtime
//! is missing: it is reported ignored, with why; under `CI` it fails instead, unless
//! `WASI_CONFORM_OPTIONAL_RUNTIMES` (comma-separated names) lists the runtime
//! ([`missing_under_ci`], the rule the scenario harness follows too).

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;

use libtest_mimic::{Completion, Trial};

use crate::process::panic_message;
use crate::Availability;

/// One test: its name and its body (which panics to fail).
pub type Test = (String, Box<dyn FnOnce() + Send + 'static>);

/// Serves as a worker if asked to, else runs `tests()`: the exit code for `main` to return.
pub fn test_main(tests: impl FnOnce() -> Vec<Test>) -> ExitCode {
    run_trials(|| tests().into_iter().map(|(name, body)| trial(name, body)).collect())
}

/// [`test_main`] with ready-made trials (e.g. from [`needs_runtime`]).
pub fn run_trials(trials: impl FnOnce() -> Vec<Trial>) -> ExitCode {
    if let Some(code) = crate::registry::serve_if_worker() {
        return code;
    }
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, trials()).exit_code()
}

/// A trial whose body panics to fail, with the panic's message.
pub fn trial(name: impl Into<String>, body: impl FnOnce() + Send + 'static) -> Trial {
    Trial::test(name, move || {
        std::panic::catch_unwind(AssertUnwindSafe(body))
            .map_err(|p| panic_message(p.as_ref()).unwrap_or_else(|| "panicked".into()).into())
    })
}

/// A trial that needs the runtime `runtime`, whose availability is `availability`: run
/// when it is available; otherwise ignored with why, or failed when [`missing_under_ci`]
/// says so.
pub fn needs_runtime(
    name: impl Into<String>,
    runtime: &str,
    availability: &Availability,
    body: impl FnOnce() + Send + 'static,
) -> Trial {
    match availability {
        Availability::Available => trial(name, body),
        Availability::NotAvailable(why) => match missing_under_ci(runtime, why) {
            Some(error) => Trial::test(name, move || Err(error.into())),
            None => {
                let reason = why.clone();
                Trial::ignorable_test(name, move || Ok(Completion::ignored_with(reason)))
            }
        },
    }
}

/// Under `CI`, a missing runtime is an error unless `WASI_CONFORM_OPTIONAL_RUNTIMES` names
/// it: the error's text, or `None` when its absence is allowed.
pub fn missing_under_ci(runtime: &str, why: &str) -> Option<String> {
    std::env::var_os("CI")?;
    let optional = std::env::var("WASI_CONFORM_OPTIONAL_RUNTIMES").unwrap_or_default();
    if optional.split(',').any(|n| n.trim() == runtime) {
        return None;
    }
    Some(format!(
        "runtime `{runtime}` is not available under CI ({why}); install it before the tests, or name it in \
         WASI_CONFORM_OPTIONAL_RUNTIMES if no registry has it"
    ))
}

/// Named plain functions as [`Test`]s.
pub fn tests(fns: &[(&str, fn())]) -> Vec<Test> {
    fns.iter().map(|(name, f)| (name.to_string(), Box::new(*f) as Box<dyn FnOnce() + Send>)).collect()
}
