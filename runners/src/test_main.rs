//! `main` for test binaries that host crash-isolation workers.
//!
//! A crash-isolated runtime ([`crate::isolated`]) re-runs the current executable as its
//! worker, which only works in a program that calls [`crate::isolated::serve_if_worker`]
//! first; a test binary does that only with its own `main` (`harness = false`). This runs
//! such a binary's tests as libtest-mimic trials (same command line as `cargo test`
//! binaries: filters, `--list`, …), a panicking test being a failed trial with its message.

use std::panic::AssertUnwindSafe;

/// One test: its name and its body (which panics to fail).
pub type Test = (String, Box<dyn FnOnce() + Send + 'static>);

/// Serves as a worker if asked to, else runs `tests()` and exits with libtest's status.
pub fn test_main(tests: impl FnOnce() -> Vec<Test>) -> ! {
    crate::isolated::serve_if_worker();
    let args = libtest_mimic::Arguments::from_args();
    let trials = tests()
        .into_iter()
        .map(|(name, body)| {
            libtest_mimic::Trial::test(name, move || {
                std::panic::catch_unwind(AssertUnwindSafe(body)).map_err(|p| {
                    let msg =
                        p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                    msg.unwrap_or_else(|| "panicked".into()).into()
                })
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}

/// Named plain functions as [`Test`]s.
pub fn tests(fns: &[(&str, fn())]) -> Vec<Test> {
    fns.iter().map(|(name, f)| (name.to_string(), Box::new(*f) as Box<dyn FnOnce() + Send>)).collect()
}
