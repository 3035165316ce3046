//! The report as data: what `report.json` holds (schema `wasi-conform/report/v1`, documented
//! in `reports/README.md`) and what every renderer ([`super::html`], [`super::markdown`],
//! [`super::junit`]) reads. Built by [`super::collect`], compared by [`super::baseline`].
//!
//! v1 readers ignore fields they do not know: later additions keep the schema name, a
//! change of meaning gets a new one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasi_conform_runners::matrix::CaseResult;
use wasi_conform_suite::verdict::StepSeen;

/// The schema name written into, and required of, every `report.json`.
pub const SCHEMA: &str = "wasi-conform/report/v1";

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub meta: Meta,
    /// Every runtime asked for, available or not, in report order.
    pub runtimes: Vec<RuntimeInfo>,
    /// The 46 preview1 functions in witx order (the matrix's columns).
    pub functions: Vec<String>,
    /// The scenarios run, in suite order.
    pub scenarios: Vec<ScenarioInfo>,
    /// One per (available runtime, scenario), runtime by runtime in report order.
    pub results: Vec<ResultRow>,
    /// The axes of the capability-denial matrix (`<function>/deny-*` scenarios).
    pub denial: DenialAxes,
    pub divergences: Divergences,
    /// A wasi-testsuite-format directory run through the same adapters, when asked for.
    pub wasi_testsuite: Option<WasiTestsuite>,
    /// Changes against a previous report, when `--baseline` was given.
    pub baseline: Option<BaselineDiff>,
}

/// Where and when the report was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The `wasi-conform` package version.
    pub project_version: String,
    /// `git rev-parse HEAD` of the checkout, when it is one.
    pub git_commit: Option<String>,
    /// Whether the checkout had uncommitted changes (`git status --porcelain`).
    pub git_dirty: Option<bool>,
    /// When the run started, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub date_utc: String,
    pub host: Host,
    /// The scenario filter (`--filter`), when the report covers part of the suite only.
    pub filter: Option<String>,
    /// Wall-clock seconds for the whole run.
    pub elapsed_s: f64,
}

/// The machine the runtimes ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// `std::env::consts::OS` (`linux`, `macos`, `windows`).
    pub os: String,
    /// `std::env::consts::ARCH` (`x86_64`, `aarch64`).
    pub arch: String,
}

/// One runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub name: String,
    pub version: String,
    pub available: bool,
    /// Why it is not available.
    pub reason: Option<String>,
    /// Its expectation file, repository-relative, when it has one.
    pub expectations: Option<String>,
    /// Wall-clock seconds to run every scenario on it.
    pub elapsed_s: f64,
}

/// One scenario, as written: the same for every runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// `<function>/<name>`.
    pub id: String,
    pub function: String,
    pub summary: String,
    pub spec: String,
    /// `must`, `should` or `de-facto`.
    pub strength: String,
    /// The scenario file, repository-relative.
    pub source: String,
    pub steps: Vec<StepInfo>,
    /// How the program must end: `exit 0`, `exit with one of [0, 1] (…)`, `a trap`.
    pub end: String,
    /// Its cell of the capability-denial matrix, for generated `deny-*` scenarios.
    pub denial: Option<DenialCell>,
    /// Divergence case ids (`A1`) its `spec` cites.
    pub cites: Vec<String>,
}

/// One step as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInfo {
    /// 1-based line in the scenario file.
    pub line: usize,
    /// `path_open(fd=$sandbox, dirflags=symlink_follow, path="a", …)`.
    pub call: String,
    /// The errno expected (`perm`, `one of perm, notcapable (…)`), when one is stated.
    pub expect: Option<String>,
}

/// Which cell of the denial matrix a scenario is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenialCell {
    /// The escape vector (`dotdot`, `absolute`, …).
    pub vector: String,
    /// The path argument (`path_open`, `path_rename (new_path)`).
    pub column: String,
}

/// The axes of the denial matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenialAxes {
    pub vectors: Vec<Vector>,
    pub columns: Vec<String>,
}

/// One escape vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vector {
    pub name: String,
    pub title: String,
}

/// The result of one scenario (or wasi-testsuite test) on one runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub runtime: String,
    pub scenario: String,
    /// Against the expectation file: `pass`, `fail`, `expected-fail`, `unexpected-pass`,
    /// `error`.
    pub status: String,
    /// The verdict alone: `pass`, `fail`, `escape`, `timeout`, `crash`, `error`.
    pub verdict: String,
    /// The differences (one per line), the known-failure reason, or what went wrong.
    pub message: String,
    /// One command that reproduces this result.
    pub reproduce: String,
    /// How the run ended (`exit 0`, `trap (…)`), when it ran.
    pub ending: Option<String>,
    /// Per step, what the call returned against the scenario's errno.
    pub steps: Vec<StepSeen>,
}

impl ResultRow {
    /// Whether the runtime behaved as the scenario says (whatever the expectation file says).
    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }
}

/// Known divergences and what the fuzzer found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergences {
    /// The cases of `suite/divergences.toml`, each with the scenarios citing it.
    pub cases: Vec<Case>,
    /// `fuzz/findings.json` (schema `wasi-conform/findings/v1`), when the file exists.
    pub findings: Option<Vec<Finding>>,
}

/// One divergence case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub title: String,
    pub links: Vec<String>,
    /// Scenario ids whose `spec` cites it.
    pub cited_by: Vec<String>,
}

/// One deduplicated divergence found by the differential fuzzer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub signature: String,
    pub function: String,
    pub runtimes: Vec<String>,
    pub expected: String,
    pub observed: String,
    pub count: u64,
    /// The minimised scenario, repository-relative.
    pub scenario: Option<String>,
    pub explanation: String,
}

/// A wasi-testsuite-format directory run through the adapters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasiTestsuite {
    /// The directory as given.
    pub dir: String,
    /// One per runtime × test, runtime by runtime.
    pub results: Vec<TestRow>,
}

/// The result of one wasi-testsuite test on one runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRow {
    pub runtime: String,
    /// The test's id: its path under the directory, without `.wasm`.
    pub test: String,
    /// The suite it belongs to (its `manifest.json` name, or its directory).
    pub suite: String,
    /// `pass`, `fail`, `not-available` (runtime not installed, or a test it cannot run), `error`.
    pub status: String,
    /// `pass`, `fail`, `escape`, `timeout`, `crash`, `not-available`, `error`.
    pub verdict: String,
    pub message: String,
    pub reproduce: String,
}

impl TestRow {
    /// A row from the wasi-testsuite runner's result.
    pub fn from_case(r: &CaseResult) -> TestRow {
        TestRow {
            runtime: r.runtime.clone(),
            test: r.scenario.clone(),
            suite: r.function.clone(),
            status: r.status.to_owned(),
            verdict: r.verdict.to_owned(),
            message: r.message.clone(),
            reproduce: r.reproduce.clone(),
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }

    /// Whether the test ran at all.
    pub fn ran(&self) -> bool {
        self.status != "not-available"
    }
}

/// What changed since a previous report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineDiff {
    /// The previous report's date, version and commit.
    pub date_utc: String,
    pub project_version: String,
    pub git_commit: Option<String>,
    /// Scenarios in this report and not in the previous one, and the reverse.
    pub scenarios_added: Vec<String>,
    pub scenarios_removed: Vec<String>,
    /// Per runtime present (with results) in either report.
    pub runtimes: Vec<RuntimeDiff>,
}

/// One runtime's changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeDiff {
    pub runtime: String,
    /// `new` (results now, none before), `gone` (results before, none now) or `both`.
    pub presence: String,
    /// Scenarios in both reports that passed before and do not now.
    pub newly_failing: Vec<Change>,
    /// Scenarios in both reports that did not pass before and do now.
    pub newly_passing: Vec<Change>,
}

/// One scenario's change of status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub scenario: String,
    pub before: String,
    pub now: String,
}

/// Passed and total results per (runtime, function), for the matrix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub total: usize,
}

impl Tally {
    /// `passed / total`, or `None` when nothing was run.
    pub fn ratio(self) -> Option<f64> {
        (self.total > 0).then(|| self.passed as f64 / self.total as f64)
    }

    fn add(&mut self, passed: bool) {
        self.total += 1;
        self.passed += usize::from(passed);
    }
}

/// A runtime on the capability-denial scenarios.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenialSummary {
    pub tally: Tally,
    /// Runs that changed something outside the preopens (verdict `escape`).
    pub escapes: usize,
    /// Scenarios not passed, per escape vector.
    pub failing_vectors: BTreeMap<String, usize>,
}

impl Report {
    /// Tallies per runtime and function (`function` = scenario's function).
    pub fn tallies(&self) -> BTreeMap<(&str, &str), Tally> {
        let function_of: BTreeMap<&str, &str> =
            self.scenarios.iter().map(|s| (s.id.as_str(), s.function.as_str())).collect();
        let mut out: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
        for r in &self.results {
            let f = function_of.get(r.scenario.as_str()).copied().unwrap_or("?");
            out.entry((r.runtime.as_str(), f)).or_default().add(r.passed());
        }
        out
    }

    /// The tally of every result of one runtime.
    pub fn runtime_tally(&self, runtime: &str) -> Tally {
        let mut t = Tally::default();
        for r in self.results.iter().filter(|r| r.runtime == runtime) {
            t.add(r.passed());
        }
        t
    }

    /// Number of results of one runtime with each status.
    pub fn status_counts(&self, runtime: &str) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for r in self.results.iter().filter(|r| r.runtime == runtime) {
            *out.entry(r.status.as_str()).or_default() += 1;
        }
        out
    }

    /// The statuses a report can hold, in table order.
    pub const STATUSES: [&'static str; 5] = ["pass", "expected-fail", "fail", "unexpected-pass", "error"];

    /// One runtime's results on the capability-denial scenarios.
    pub fn denial_summary(&self, runtime: &str) -> DenialSummary {
        let vector_of: BTreeMap<&str, &str> = self
            .scenarios
            .iter()
            .filter_map(|sc| sc.denial.as_ref().map(|d| (sc.id.as_str(), d.vector.as_str())))
            .collect();
        let mut out = DenialSummary::default();
        for row in self.results.iter().filter(|x| x.runtime == runtime) {
            let Some(v) = vector_of.get(row.scenario.as_str()) else { continue };
            out.tally.add(row.passed());
            if !row.passed() {
                *out.failing_vectors.entry((*v).to_owned()).or_default() += 1;
            }
            if row.verdict == "escape" {
                out.escapes += 1;
            }
        }
        out
    }

    /// `results` by (runtime, scenario).
    pub fn result_index(&self) -> BTreeMap<(&str, &str), &ResultRow> {
        self.results.iter().map(|r| ((r.runtime.as_str(), r.scenario.as_str()), r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_ratio() {
        assert_eq!(Tally { passed: 0, total: 0 }.ratio(), None);
        assert_eq!(Tally { passed: 3, total: 4 }.ratio(), Some(0.75));
    }
}
