//! `wasi-conform run`: scenarios × runtimes → a summary table, failure details with a
//! reproduce command each, and optionally a JSON file (schema in README.md).
//!
//! The table's columns are [`COLUMNS`]: a failure the expectation file lists is
//! `expected-fail`, one it does not list `unexpected-fail` (so that a 0 there cannot read as
//! "no failures"), and a scenario that requires a capability the runtime lacks is
//! `not-applicable`. Under the table, each runtime that is not available, with why and how
//! to install it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use wasi_conform_runners::matrix::{self, CaseResult, Prepared};
use wasi_conform_runners::{registry, Availability, Runtime};
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::Status;

#[derive(clap::Args)]
pub struct RunArgs {
    /// A directory of your own scenarios (`<function>/<name>.yaml`); default: the built-in suite.
    #[arg(long)]
    suite: Option<PathBuf>,
    /// Expectation files directory; default: the built-in `suite/expectations`.
    #[arg(long)]
    expectations: Option<PathBuf>,
    /// Comma-separated runtime names; default: all.
    #[arg(long, value_delimiter = ',')]
    runtime: Vec<String>,
    /// Only scenarios whose id contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Only the scenario with exactly this id.
    #[arg(long)]
    scenario: Option<String>,
    /// Write every result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Parallel runs (default: number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run a directory of wasi-testsuite tests (`*.wasm` + `*.json`) instead of scenarios;
    /// `--filter`/`--scenario` match test ids (paths without `.wasm`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["suite", "expectations"])]
    wasi_testsuite: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let runtimes = registry::select(&args.runtime)?;
    if let Some(dir) = &args.wasi_testsuite {
        return run_wasi_testsuite(&args, dir, &runtimes);
    }
    let loaded = match &args.suite {
        Some(dir) => discover::load_dir(dir),
        None => discover::load_builtin(),
    };
    let mut scenarios = match loaded {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            bail!("{} scenario file(s) could not be loaded", errors.len());
        }
    };
    scenarios.retain(|s| {
        args.filter.as_ref().is_none_or(|f| s.id.contains(f.as_str()))
            && args.scenario.as_ref().is_none_or(|id| s.id == *id)
    });
    if scenarios.is_empty() {
        bail!("no scenario matches");
    }
    let exp_dir = args.expectations.clone().unwrap_or_else(|| discover::suite_dir().join("expectations"));
    let prepared: Vec<Prepared> = scenarios.into_iter().map(Prepared::new).collect();
    let jobs = matrix::jobs(args.jobs);

    let mut results: Vec<CaseResult> = Vec::new();
    let mut versions = Vec::new();
    for rt in &runtimes {
        versions.push(runtime_json(rt.as_ref()));
        results.extend(matrix::run_runtime(rt.as_ref(), &prepared, &exp_dir, jobs)?);
    }

    finish(&args, &runtimes, versions, &results)
}

/// A runtime in the JSON output's `runtimes` list.
fn runtime_json(rt: &dyn Runtime) -> serde_json::Value {
    let avail = rt.availability();
    serde_json::json!({
        "name": rt.name(),
        "version": rt.version(),
        "available": avail == Availability::Available,
        "reason": match &avail { Availability::Available => None, Availability::NotAvailable(w) => Some(w.clone()) },
    })
}

/// Failures, the summary table and the JSON file, for scenarios and wasi-testsuite tests.
fn finish(
    args: &RunArgs,
    runtimes: &[Box<dyn Runtime>],
    versions: Vec<serde_json::Value>,
    results: &[CaseResult],
) -> Result<ExitCode> {
    print_failures(results);
    let unexpected = print_summary(runtimes, results);
    print_not_available(&versions);
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "schema": "wasi-conform/run/v1",
            "runtimes": versions,
            "results": results,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if unexpected { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `run --wasi-testsuite DIR`: see [`crate::wasi_testsuite`].
fn run_wasi_testsuite(args: &RunArgs, dir: &std::path::Path, runtimes: &[Box<dyn Runtime>]) -> Result<ExitCode> {
    let jobs = matrix::jobs(args.jobs);
    let keep = |id: &str| {
        args.filter.as_ref().is_none_or(|f| id.contains(f.as_str())) && args.scenario.as_ref().is_none_or(|s| id == s)
    };
    let results = match (&args.filter, &args.scenario) {
        (None, None) => crate::wasi_testsuite::run_dir(dir, runtimes, jobs)?,
        _ => crate::wasi_testsuite::run::run_filtered(dir, runtimes, jobs, &keep)?,
    };
    if results.is_empty() {
        bail!("no wasi-testsuite test under {} matches", dir.display());
    }
    let versions = runtimes.iter().map(|rt| runtime_json(rt.as_ref())).collect();
    finish(args, runtimes, versions, &results)
}

fn print_failures(results: &[CaseResult]) {
    for r in results.iter().filter(|r| r.status_enum.is_unexpected()) {
        println!("{} {} on {}: {}", r.status.to_uppercase(), r.scenario, r.runtime, r.verdict);
        for line in r.message.lines() {
            println!("    {line}");
        }
        println!("    reproduce: {}\n", r.reproduce);
    }
}

/// The table's columns, in order: the report's statuses, then `not-available` (a report
/// lists unavailable runtimes apart; the run table counts their skipped scenarios).
pub const COLUMNS: [Status; 7] = {
    let s = crate::report::model::Report::STATUSES;
    [s[0], s[1], s[2], s[3], s[4], s[5], Status::NotAvailable]
};

/// A column's heading: `fail` is the failure the expectation file does not list.
pub fn heading(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::ExpectedFail => "expected-fail",
        Status::NotApplicable => "not-applicable",
        Status::Fail => "unexpected-fail",
        Status::UnexpectedPass => "unexpected-pass",
        Status::Error => "error",
        Status::NotAvailable => "not-available",
    }
}

/// The per-runtime table as text.
pub fn summary_table(runtimes: &[&str], results: &[CaseResult]) -> String {
    let mut counts: BTreeMap<&str, BTreeMap<Status, usize>> = BTreeMap::new();
    for r in results {
        *counts.entry(r.runtime.as_str()).or_default().entry(r.status_enum).or_default() += 1;
    }
    let mut out = format!("{:<12}", "runtime");
    for s in COLUMNS {
        out.push_str(&format!(" {:>15}", heading(s)));
    }
    out.push('\n');
    for rt in runtimes {
        out.push_str(&format!("{rt:<12}"));
        let c = counts.get(rt);
        for s in COLUMNS {
            out.push_str(&format!(" {:>15}", c.and_then(|c| c.get(&s)).copied().unwrap_or(0)));
        }
        out.push('\n');
    }
    out
}

/// Prints the per-runtime table; returns whether anything was unexpected.
fn print_summary(runtimes: &[Box<dyn Runtime>], results: &[CaseResult]) -> bool {
    let names: Vec<&str> = runtimes.iter().map(|r| r.name()).collect();
    print!("{}", summary_table(&names, results));
    results.iter().any(|r| r.status_enum.is_unexpected())
}

/// Under the table: each runtime that is not available, why, and how to install it (the
/// runner's reason carries the hint), from the `runtimes` list of the JSON output.
fn print_not_available(versions: &[serde_json::Value]) {
    let missing: Vec<(&str, &str)> = versions
        .iter()
        .filter(|v| v["available"] == false)
        .map(|v| (v["name"].as_str().unwrap_or("?"), v["reason"].as_str().unwrap_or("")))
        .collect();
    if missing.is_empty() {
        return;
    }
    println!("\nnot available (their scenarios were not run):");
    for (name, why) in missing {
        println!("  {name}: {why}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(runtime: &str, status: Status) -> CaseResult {
        CaseResult {
            scenario: "s/x".into(),
            function: "s".into(),
            runtime: runtime.into(),
            status: status.as_str(),
            verdict: "pass",
            message: String::new(),
            reproduce: String::new(),
            elapsed_ms: 0.0,
            status_enum: status,
        }
    }

    #[test]
    fn table_columns() {
        let results = [
            result("wasmtime", Status::Pass),
            result("wasmtime", Status::NotApplicable),
            result("wasmtime", Status::NotApplicable),
            result("wasmtime", Status::ExpectedFail),
            result("node", Status::NotAvailable),
        ];
        let t = summary_table(&["wasmtime", "node"], &results);
        let lines: Vec<Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(
            lines[0],
            [
                "runtime",
                "pass",
                "expected-fail",
                "not-applicable",
                "unexpected-fail",
                "unexpected-pass",
                "error",
                "not-available"
            ]
        );
        assert_eq!(lines[1], ["wasmtime", "1", "1", "2", "0", "0", "0", "0"]);
        assert_eq!(lines[2], ["node", "0", "0", "0", "0", "0", "0", "1"]);
        // Every status has a column.
        for s in Status::ALL {
            assert!(COLUMNS.contains(&s), "{s:?}");
        }
    }
}
