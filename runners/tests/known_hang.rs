//! Time budgets on a real runtime (Wasmtime in-process, whose clocks really wait): a scenario's own `budget:`
//! stops a run that waits past it; a known hang (`verdict = "timeout"` in the expectation
//! entry) runs with the short known-hang budget and is an expected failure; a listed failure
//! that hangs without saying so, and a listed hang that ends otherwise, are both reported.

use std::path::Path;
use std::time::Duration;

use wasi_conform_runners::matrix::{run_case, Prepared};
use wasi_conform_runners::wasmtime::Wasmtime;
use wasi_conform_suite::case::KNOWN_HANG_BUDGET;
use wasi_conform_suite::expectations::{Entry, Expectations, KnownVerdict, Status};
use wasi_conform_suite::load::load_str;

/// A scenario that waits `seconds` on a relative monotonic clock, and expects it not to.
fn waits(seconds: u64, budget: &str) -> Prepared {
    let ns = seconds * 1_000_000_000;
    let text = format!(
        "id: poll_oneoff/waits\nsummary: s\nspec: test\nstrength: must\n{budget}steps:\n  - poll_oneoff:\n      in:\n        \
         - {{userdata: 1, clock: {{id: monotonic, timeout: {ns}, precision: 0}}}}\n    expect: {{errno: \
         success}}\n"
    );
    Prepared::new(load_str(&text, Path::new("poll_oneoff/waits.yaml")).unwrap_or_else(|e| panic!("{e}")))
}

fn listed(verdict: Option<KnownVerdict>) -> Expectations {
    let mut e = Expectations::default();
    e.entries.insert(
        "poll_oneoff/waits".into(),
        Entry {
            scenario: "poll_oneoff/waits".into(),
            reason: "waits".into(),
            link: None,
            cause: Some("waits".into()),
            verdict,
        },
    );
    e
}

#[test]
fn a_scenario_budget_stops_the_run() {
    let p = waits(30, "budget: 300ms\n");
    let r = run_case(&Wasmtime::new(), &p, &Expectations::default());
    assert_eq!((r.status_enum, r.verdict), (Status::Fail, "timeout"), "{}", r.message);
    assert!(r.elapsed_ms < 3_000.0, "took {} ms", r.elapsed_ms);
}

#[test]
fn a_known_hang_runs_with_the_short_budget() {
    let p = waits(30, "");
    let r = run_case(&Wasmtime::new(), &p, &listed(Some(KnownVerdict::Timeout)));
    assert_eq!((r.status_enum, r.verdict), (Status::ExpectedFail, "timeout"), "{}", r.message);
    assert!(
        r.elapsed_ms < (KNOWN_HANG_BUDGET + Duration::from_secs(2)).as_secs_f64() * 1e3,
        "took {} ms",
        r.elapsed_ms
    );
}

#[test]
fn a_listed_failure_that_hangs_unannounced_is_reported() {
    let p = waits(30, "budget: 300ms\n");
    let r = run_case(&Wasmtime::new(), &p, &listed(None));
    assert_eq!(r.status_enum, Status::Fail, "{}", r.message);
    assert!(r.message.contains("verdict = \"timeout\""), "{}", r.message);
}

#[test]
fn a_listed_hang_that_ends_otherwise_is_reported() {
    // Wasmtime waits 0 s and succeeds: a pass, which is an unexpected pass.
    let r = run_case(&Wasmtime::new(), &waits(0, ""), &listed(Some(KnownVerdict::Timeout)));
    assert_eq!(r.status_enum, Status::UnexpectedPass, "{}", r.message);
    // A failure other than a timeout: expects success from a poll on a closed fd.
    let text = "id: poll_oneoff/waits\nsummary: s\nspec: test\nstrength: must\nsteps:\n  - fd_close: {fd: 99}\n    expect: {errno: success}\n";
    let p = Prepared::new(load_str(text, Path::new("poll_oneoff/waits.yaml")).unwrap());
    let r = run_case(&Wasmtime::new(), &p, &listed(Some(KnownVerdict::Timeout)));
    assert_eq!((r.status_enum, r.verdict), (Status::Fail, "fail"), "{}", r.message);
    assert!(r.message.contains("listed as a known hang"), "{}", r.message);
}
