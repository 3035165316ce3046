//! Running scenarios on runtimes and reading the verdicts against the expectation files:
//! the loop behind `cargo test` and every CLI command that runs the suite (`run`, `report`,
//! `bench`, `run --wasi-testsuite`).
//!
//! Per runtime, every command does the same: a runtime that is not available gets one
//! `not-available` row per scenario with why ([`not_available_rows`]); an available one
//! has its expectation file read ([`expectations`]) and its scenarios run [`jobs`] at a
//! time ([`par_map`], [`run_all`]). [`run_runtime`] is the three steps at once.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use wasi_conform_case::outcome::Outcome;
use wasi_conform_case::test_case::KNOWN_HANG_BUDGET;
use wasi_conform_suite::compile::{self, CompileError, Compiled};
use wasi_conform_suite::expectations::{classify, Expectations, ExpectationsError, Status};
use wasi_conform_suite::scenario::Scenario;
use wasi_conform_suite::verdict::{self, Verdict};

use crate::{execute, Availability, Runtime};

/// A scenario ready to run: compiled once, run on every runtime.
pub struct Prepared {
    pub scenario: Scenario,
    pub compiled: Result<Compiled, CompileError>,
}

impl Prepared {
    pub fn new(scenario: Scenario) -> Self {
        let compiled = compile::compile(&scenario);
        Prepared { scenario, compiled }
    }
}

/// The result of one scenario on one runtime.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub scenario: String,
    pub function: String,
    pub runtime: String,
    pub status: &'static str,
    /// Verdict class: pass, fail, escape, timeout, crash (or error / not-available).
    pub verdict: &'static str,
    /// The explanation: differences, the known-failure reason, or why it could not run.
    pub message: String,
    /// One command that reproduces this result.
    pub reproduce: String,
    pub elapsed_ms: f64,
    #[serde(skip)]
    pub status_enum: Status,
}

impl CaseResult {
    /// The row of a test a runtime cannot run, with why (`reproduce` may be empty).
    pub fn not_available(
        runtime: &str,
        scenario: String,
        function: String,
        why: String,
        reproduce: String,
    ) -> CaseResult {
        CaseResult {
            scenario,
            function,
            runtime: runtime.to_owned(),
            status: Status::NotAvailable.as_str(),
            verdict: "not-available",
            message: why,
            reproduce,
            elapsed_ms: 0.0,
            status_enum: Status::NotAvailable,
        }
    }
}

/// One `not-available` row per scenario for a runtime that cannot run, with why.
pub fn not_available_rows(runtime: &str, prepared: &[Prepared], why: &str) -> Vec<CaseResult> {
    prepared
        .iter()
        .map(|p| {
            let function = p.scenario.function.name.to_owned();
            CaseResult::not_available(runtime, p.scenario.id.clone(), function, why.to_owned(), String::new())
        })
        .collect()
}

/// An expectation file that could not be read, with the runtime it is for.
#[derive(Debug, thiserror::Error)]
#[error("expectations of {runtime}")]
pub struct MatrixError {
    pub runtime: String,
    #[source]
    pub source: ExpectationsError,
}

/// A runtime's expectation file in `dir` (none: no known failures).
pub fn expectations(dir: &Path, runtime: &str) -> Result<Expectations, MatrixError> {
    Expectations::load(dir, runtime).map_err(|source| MatrixError { runtime: runtime.to_owned(), source })
}

/// Parallel runs: `requested`, else one per CPU; at least one.
pub fn jobs(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1)
}

/// Applies `run` to every item with `jobs` threads; results in input order.
pub fn par_map<T: Sync, R: Send>(items: &[T], jobs: usize, run: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { return };
                let r = run(item);
                out.lock().expect("results lock").push((i, r));
            });
        }
    });
    let mut v = out.into_inner().expect("results lock");
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, r)| r).collect()
}

/// Every prepared scenario on one runtime with `jobs` threads; results in input order.
pub fn run_all(rt: &dyn Runtime, prepared: &[Prepared], exp: &Expectations, jobs: usize) -> Vec<CaseResult> {
    par_map(prepared, jobs, |p| run_case(rt, p, exp))
}

/// One runtime over every prepared scenario: its `not-available` rows, or its expectation
/// file (in `exp_dir`) read and the scenarios run with `jobs` threads.
pub fn run_runtime(
    rt: &dyn Runtime,
    prepared: &[Prepared],
    exp_dir: &Path,
    jobs: usize,
) -> Result<Vec<CaseResult>, MatrixError> {
    if let Availability::NotAvailable(why) = rt.availability() {
        return Ok(not_available_rows(rt.name(), prepared, &why));
    }
    let exp = expectations(exp_dir, rt.name())?;
    Ok(run_all(rt, prepared, &exp, jobs))
}

/// The command that reproduces one scenario on one runtime (with `--suite` when the
/// scenario is not part of the built-in suite).
pub fn reproduce_command(runtime: &str, scenario: &Scenario) -> String {
    let builtin = wasi_conform_suite::discover::suite_dir();
    let suite = match scenario.source.parent().and_then(|p| p.parent()) {
        Some(dir) if !scenario.source.starts_with(&builtin) => format!(" --suite {}", dir.display()),
        _ => String::new(),
    };
    format!("cargo run --release -- run --runtime {runtime}{suite} --scenario {}", scenario.id)
}

/// Runs one prepared scenario on one runtime.
pub fn run_case(rt: &dyn Runtime, p: &Prepared, exp: &Expectations) -> CaseResult {
    run_and_judge(rt, p, exp).0
}

/// A [`CaseResult`] with what a report shows beside it.
#[derive(Debug, Clone)]
pub struct Observed {
    pub result: CaseResult,
    /// Each step's returned errno against the scenario's (empty when the trace was unreadable
    /// or the scenario did not compile).
    pub steps: Vec<verdict::StepSeen>,
    /// How the run ended (`exit 0`, `trap (…)`), when it ran.
    pub ending: Option<String>,
}

/// [`run_case`], keeping the per-step observations for reports (decoded only here: the
/// suite and `run` do not need them).
pub fn run_case_observed(rt: &dyn Runtime, p: &Prepared, exp: &Expectations) -> Observed {
    let (result, outcome) = run_and_judge(rt, p, exp);
    match (&p.compiled, outcome) {
        (Ok(compiled), Some(outcome)) => Observed {
            result,
            steps: verdict::steps_seen(&p.scenario, &compiled.layout, &outcome),
            ending: Some(outcome.ending.to_string()),
        },
        _ => Observed { result, steps: Vec::new(), ending: None },
    }
}

/// Runs and judges one scenario; the outcome, when it ran.
fn run_and_judge(rt: &dyn Runtime, p: &Prepared, exp: &Expectations) -> (CaseResult, Option<Outcome>) {
    let id = &p.scenario.id;
    let mk = |status: Status, verdict: &'static str, message: String, elapsed: Duration| CaseResult {
        scenario: id.clone(),
        function: p.scenario.function.name.to_owned(),
        runtime: rt.name().to_owned(),
        status: status.as_str(),
        verdict,
        message,
        reproduce: reproduce_command(rt.name(), &p.scenario),
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
        status_enum: status,
    };
    let compiled = match &p.compiled {
        Ok(c) => c,
        Err(e) => return (mk(Status::Error, "error", e.to_string(), Duration::ZERO), None),
    };
    let known = exp.get(id);
    let outcome = match known {
        Some(k) if k.hangs() => {
            let mut case = compiled.case.clone();
            case.limits.timeout = case.limits.timeout.min(KNOWN_HANG_BUDGET);
            execute(rt, &case)
        }
        _ => execute(rt, &compiled.case),
    };
    let v = verdict::judge(&p.scenario, &compiled.layout, &outcome);
    let status = classify(&v, known);
    let message = match (status, known, &v) {
        (Status::ExpectedFail, Some(k), v) => format!("known failure: {}\n{}", k.reason, v.message()),
        // A listed failure judged `fail`: its ending contradicts the entry (see `classify`).
        (Status::Fail, Some(k), Verdict::Timeout) => format!(
            "known failure ({}) now hangs until the {} ms budget: add `verdict = \"timeout\"` to its entry in \
             suite/expectations/{}.toml, so that the hang costs {} ms, not the full budget, on every run\n{}",
            k.reason,
            compiled.case.limits.timeout.as_millis(),
            rt.name(),
            KNOWN_HANG_BUDGET.as_millis(),
            v.message()
        ),
        (Status::Fail, Some(k), v) => format!(
            "listed as a known hang (`verdict = \"timeout\"`, {}) but it ended otherwise: correct its entry in \
             suite/expectations/{}.toml\n{}",
            k.reason,
            rt.name(),
            v.message()
        ),
        (Status::UnexpectedPass, Some(k), Verdict::NotApplicable(why)) => format!(
            "listed as a known failure ({}) but it does not apply here ({why}): remove it from \
             suite/expectations/{}.toml",
            k.reason,
            rt.name()
        ),
        (Status::UnexpectedPass, Some(k), _) => format!(
            "listed as a known failure ({}) but it passes: remove it from suite/expectations/{}.toml",
            k.reason,
            rt.name()
        ),
        (_, _, Verdict::Pass) => String::new(),
        (_, _, v) => v.message(),
    };
    (mk(status, v.kind(), message, outcome.elapsed), Some(outcome))
}
