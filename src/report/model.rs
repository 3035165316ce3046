//! The report as data: what `report.json` holds (schema `wasi-conform/report/v2`, documented
//! in `reports/README.md`) and what every renderer ([`super::html`], [`super::markdown`],
//! [`super::junit`]) reads. Built by [`super::collect`], compared by [`super::baseline`];
//! the per-runtime headline figures are [`super::figures`], the capability-denial reading
//! [`super::denial`].
//!
//! Readers ignore fields they do not know: later additions keep the schema name, a change
//! of meaning gets a new one. v2 (strength `choice`, status `not-applicable`, expectation
//! causes, the headline figures) changed what "conformance" means, hence the new name; a
//! v1 report still reads (for `--baseline`), its missing fields taking their defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasi_conform_runners::matrix::CaseResult;
use wasi_conform_suite::expectations::Status;
use wasi_conform_suite::observe::StepSeen;
use wasi_conform_suite::scenario::Strength;

use super::figures::Figures;

/// The schema name written into every `report.json`.
pub const SCHEMA: &str = "wasi-conform/report/v2";
/// The previous schema, still read (as a baseline, or by `--from`).
pub const SCHEMA_V1: &str = "wasi-conform/report/v1";

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
    /// Real programs (`programs/workloads/`) traced on every runtime with `diff`.
    #[serde(default)]
    pub programs: Vec<ProgramRow>,
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
    /// The headline figures, computed from `results` ([`Report::refresh_figures`]); `None`
    /// when it is not available (or in a v1 report).
    #[serde(default)]
    pub figures: Option<Figures>,
}

/// One scenario, as written: the same for every runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// `<function>/<name>`.
    pub id: String,
    pub function: String,
    pub summary: String,
    pub spec: String,
    /// `must`, `should`, `de-facto` or `choice`.
    pub strength: String,
    /// For a `choice` scenario: the reference's pick and why.
    #[serde(default)]
    pub choice: Option<String>,
    /// Capabilities the runtime must have for the scenario to apply (`rights`).
    #[serde(default)]
    pub requires: Vec<String>,
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
    /// Whether that expectation accepts `success` (false when none is stated).
    #[serde(default)]
    pub accepts_success: bool,
    /// For a step the loader added to probe a `require:`d capability: that capability.
    #[serde(default)]
    pub probe: Option<String>,
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
    /// `not-applicable`, `error`.
    pub status: String,
    /// The verdict alone: `pass`, `fail`, `escape`, `timeout`, `crash`, `not-applicable`,
    /// `error`.
    pub verdict: String,
    /// The root cause its expectation entry names (`cause`), when the scenario is listed
    /// with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
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

    /// Whether the scenario applies to the runtime (it has every capability the scenario
    /// requires): a result that is not applicable is neither a pass nor a failure.
    pub fn applicable(&self) -> bool {
        self.verdict != "not-applicable"
    }

    /// The status as the enum; `None` for a name this version does not know.
    pub fn status(&self) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == self.status)
    }
}

impl ScenarioInfo {
    /// The strength as the enum; `None` for a name this version does not know.
    pub fn strength(&self) -> Option<Strength> {
        Strength::ALL.into_iter().find(|s| s.as_str() == self.strength)
    }

    /// Whether it is a conformance scenario (`must`, `should`, `de-facto`; not `choice`).
    pub fn counts_for_conformance(&self) -> bool {
        self.strength().is_some_and(Strength::counts_for_conformance)
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

/// One real-program workload on one runtime, compared with the reference by `diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramRow {
    /// `<program>/<workload>` (`programs/workloads/<program>.toml`).
    pub workload: String,
    /// The registry package the module ships in.
    pub package: String,
    pub runtime: String,
    /// `agrees`, `differs`, `crash`, `timeout`, `escape`, `not-available` (the runtime),
    /// `not-installed` (the program: `programs/install.sh`).
    pub verdict: String,
    /// How the run ended (or why it did not run).
    pub ending: String,
    /// Preview1 calls traced, and the reference's.
    pub calls: usize,
    pub reference_calls: usize,
    pub elapsed_ms: u64,
    /// The first diverging call: `#N expected … observed …`, when there is one.
    pub first_divergence: Option<String>,
    /// Other differences: ending, stdout, stderr, final tree.
    pub other: Vec<String>,
    /// The reason `programs/expectations/<runtime>.toml` gives, when the difference is known.
    pub known: Option<String>,
    pub reproduce: String,
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

/// Scenarios passed among those that apply (results that are not `not-applicable`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub passed: usize,
    pub applicable: usize,
}

impl Tally {
    /// `passed / applicable`, or `None` when nothing applied.
    pub fn ratio(self) -> Option<f64> {
        (self.applicable > 0).then(|| self.passed as f64 / self.applicable as f64)
    }

    pub(crate) fn add(&mut self, passed: bool) {
        self.applicable += 1;
        self.passed += usize::from(passed);
    }
}

impl Report {
    /// Conformance tallies per runtime and function (`function` = scenario's function):
    /// the `must`, `should` and `de-facto` scenarios that apply, as in the headline's
    /// conformance figure (whose sum they are).
    pub fn tallies(&self) -> BTreeMap<(&str, &str), Tally> {
        let scenarios = self.scenario_index();
        let mut out: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
        for r in self.results.iter().filter(|r| r.applicable()) {
            let Some(sc) = scenarios.get(r.scenario.as_str()).filter(|sc| sc.counts_for_conformance()) else {
                continue;
            };
            out.entry((r.runtime.as_str(), sc.function.as_str())).or_default().add(r.passed());
        }
        out
    }

    /// Number of results of one runtime with each status.
    pub fn status_counts(&self, runtime: &str) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for r in self.results.iter().filter(|r| r.runtime == runtime) {
            *out.entry(r.status.as_str()).or_default() += 1;
        }
        out
    }

    /// The statuses a report's results can hold, in table and filter order.
    pub const STATUSES: [Status; 6] = [
        Status::Pass,
        Status::ExpectedFail,
        Status::NotApplicable,
        Status::Fail,
        Status::UnexpectedPass,
        Status::Error,
    ];

    /// `results` by (runtime, scenario).
    pub fn result_index(&self) -> BTreeMap<(&str, &str), &ResultRow> {
        self.results.iter().map(|r| ((r.runtime.as_str(), r.scenario.as_str()), r)).collect()
    }

    /// `scenarios` by id.
    pub fn scenario_index(&self) -> BTreeMap<&str, &ScenarioInfo> {
        self.scenarios.iter().map(|s| (s.id.as_str(), s)).collect()
    }

    /// Recomputes every available runtime's [`Figures`] from the results (after collecting,
    /// and after reading a report, so that the stored figures always match its results).
    pub fn refresh_figures(&mut self) {
        let figures: Vec<Option<Figures>> =
            self.runtimes.iter().map(|rt| rt.available.then(|| super::figures::figures(self, &rt.name))).collect();
        for (rt, f) in self.runtimes.iter_mut().zip(figures) {
            rt.figures = f;
        }
    }
}

/// How a status is named in tables and filters: `fail` is an *unexpected* failure (one the
/// expectation file does not list), so that a 0 beside it cannot read as "no failures".
pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::ExpectedFail => "known failure",
        Status::NotApplicable => "not applicable",
        Status::Fail => "unexpected failure",
        Status::UnexpectedPass => "unexpected pass",
        Status::Error => "error",
        Status::NotAvailable => "not available",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_ratio() {
        assert_eq!(Tally { passed: 0, applicable: 0 }.ratio(), None);
        assert_eq!(Tally { passed: 3, applicable: 4 }.ratio(), Some(0.75));
    }

    #[test]
    fn every_status_has_a_label_and_round_trips() {
        for s in Status::ALL {
            assert!(!status_label(s).is_empty());
        }
        let mut row = crate::report::testdata::sample().results[0].clone();
        for s in Report::STATUSES {
            row.status = s.as_str().to_owned();
            assert_eq!(row.status(), Some(s));
        }
        row.status = "later".into();
        assert_eq!(row.status(), None);
    }
}
