//! Running the suite for a report: every selected runtime over the scenarios (with the
//! same loop as `wasi-conform run`: [`matrix::par_map`] over [`run_case_observed`]), and turning scenarios, results (with their expectation entry's
//! `cause`), divergence cases and fuzzing findings into a [`Report`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasi_conform_abi::{Errno, FUNCTIONS};
use wasi_conform_runners::matrix::{self, run_case_observed, Observed, Prepared};
use wasi_conform_runners::{Availability, Runtime};
use wasi_conform_suite::denial::{self, divergences};
use wasi_conform_suite::expectations::Expectations;
use wasi_conform_suite::scenario::Scenario;
use wasi_conform_suite::verdict::describe_call_as_written;

use super::model::*;

/// The schema `fuzz/findings.json` must declare.
pub const FINDINGS_SCHEMA: &str = "wasi-conform/findings/v1";

/// One runtime's run: its description and its results.
pub struct RuntimeRun {
    pub info: RuntimeInfo,
    pub results: Vec<ResultRow>,
}

/// Runs every prepared scenario on one runtime (or records why it cannot run).
pub fn run_runtime(
    rt: &dyn Runtime,
    prepared: &[Prepared],
    expectations_dir: &Path,
    repo: &Path,
    jobs: usize,
) -> Result<RuntimeRun> {
    let started = Instant::now();
    let mut info = RuntimeInfo {
        name: rt.name().to_owned(),
        version: rt.version(),
        available: true,
        reason: None,
        expectations: None,
        elapsed_s: 0.0,
        figures: None,
    };
    if let Availability::NotAvailable(why) = rt.availability() {
        info.available = false;
        info.reason = Some(why);
        return Ok(RuntimeRun { info, results: Vec::new() });
    }
    let exp = matrix::expectations(expectations_dir, rt.name())?;
    info.expectations = exp.source.as_deref().map(|p| relative(repo, p));
    let observed = matrix::par_map(prepared, jobs, |p| run_case_observed(rt, p, &exp));
    info.elapsed_s = seconds(started.elapsed());
    Ok(RuntimeRun { info, results: observed.into_iter().map(|o| row(o, &exp)).collect() })
}

fn row(o: Observed, exp: &Expectations) -> ResultRow {
    let r = o.result;
    ResultRow {
        cause: exp.get(&r.scenario).and_then(|e| e.cause.clone()),
        runtime: r.runtime,
        scenario: r.scenario,
        status: r.status.to_owned(),
        verdict: r.verdict.to_owned(),
        message: r.message,
        reproduce: r.reproduce,
        ending: o.ending,
        steps: o.steps,
    }
}

/// A scenario as the report describes it.
pub fn scenario_info(s: &Scenario, repo: &Path, cells: &BTreeMap<String, DenialCell>) -> ScenarioInfo {
    ScenarioInfo {
        id: s.id.clone(),
        function: s.function.name.to_owned(),
        summary: s.summary.clone(),
        spec: s.spec.clone(),
        strength: s.strength.as_str().to_owned(),
        choice: s.choice.clone(),
        requires: s.require.iter().map(|c| c.as_str().to_owned()).collect(),
        source: relative(repo, &s.source),
        steps: s
            .steps
            .iter()
            .map(|st| StepInfo {
                line: st.line,
                call: describe_call_as_written(st),
                expect: st.expect.errno.as_ref().map(|e| match e {
                    wasi_conform_suite::scenario::ErrnoExpect::One(x) => x.name().to_owned(),
                    wasi_conform_suite::scenario::ErrnoExpect::OneOf { because, .. } => {
                        format!("{} ({because})", e.describe())
                    }
                }),
                accepts_success: st.expect.errno.as_ref().is_some_and(|e| e.allows(Errno::Success)),
                probe: st.probe.map(|c| c.as_str().to_owned()),
            })
            .collect(),
        end: s.end.describe(),
        denial: cells.get(&s.id).cloned(),
        cites: divergences::cited(&s.spec),
    }
}

/// The denial matrix's axes, and its cell for every generated scenario id.
pub fn denial_axes() -> (DenialAxes, BTreeMap<String, DenialCell>) {
    let axes = DenialAxes {
        vectors: denial::VECTORS
            .iter()
            .map(|v| Vector { name: v.name.to_owned(), title: v.title.to_owned() })
            .collect(),
        columns: denial::COLUMNS.iter().map(|c| c.label()).collect(),
    };
    let cells = denial::generate()
        .into_iter()
        .map(|g| (g.id, DenialCell { vector: g.vector.to_owned(), column: g.column }))
        .collect();
    (axes, cells)
}

/// The divergence cases with the scenarios citing each, and the fuzzer's findings.
pub fn divergences(scenarios: &[ScenarioInfo], findings: Option<Vec<Finding>>) -> Result<Divergences> {
    let cases = divergences::builtin().map_err(anyhow::Error::msg).context("suite/divergences.toml")?;
    let cases = cases
        .into_iter()
        .map(|c| Case {
            cited_by: scenarios.iter().filter(|s| s.cites.contains(&c.id)).map(|s| s.id.clone()).collect(),
            id: c.id,
            title: c.title,
            links: c.links,
        })
        .collect();
    Ok(Divergences { cases, findings })
}

/// `fuzz/findings.json`, when it exists.
pub fn load_findings(path: &Path) -> Result<Option<Vec<Finding>>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        schema: String,
        findings: Vec<Finding>,
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let file: File = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if file.schema != FINDINGS_SCHEMA {
        bail!("{}: schema `{}`, expected `{FINDINGS_SCHEMA}`", path.display(), file.schema);
    }
    Ok(Some(file.findings))
}

/// The 46 functions in witx order.
pub fn functions() -> Vec<String> {
    FUNCTIONS.iter().map(|f| f.name.to_owned()).collect()
}

/// `path` relative to the repository, with `/` separators; as is when outside it.
pub fn relative(repo: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(repo).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// A duration in seconds, to the millisecond: short decimals survive the JSON round trip
/// (`report --from` re-renders the committed report.json byte for byte), a full-precision
/// `f64` may come back one unit in the last place off.
pub fn seconds(d: std::time::Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_file_is_optional_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("findings.json");
        assert!(load_findings(&path).unwrap().is_none());
        std::fs::write(&path, r#"{"schema":"other","findings":[]}"#).unwrap();
        assert!(format!("{:?}", load_findings(&path).unwrap_err()).contains("expected `wasi-conform/findings/v1`"));
        std::fs::write(
            &path,
            r#"{"schema":"wasi-conform/findings/v1","findings":[{"signature":"s","function":"path_open",
            "runtimes":["node"],"expected":"perm","observed":"noent","count":3,"scenario":null,"explanation":"x"}]}"#,
        )
        .unwrap();
        let f = load_findings(&path).unwrap().unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].count, 3);
    }

    #[test]
    fn scenario_info_of_real_choice_and_require_scenarios() {
        let all = wasi_conform_suite::discover::load_builtin().unwrap();
        let get = |id: &str| {
            let s = all.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("{id} is in the suite"));
            scenario_info(s, &crate::report::repo_dir(), &BTreeMap::new())
        };
        let choice = all.iter().find(|s| s.strength == wasi_conform_suite::scenario::Strength::Choice).unwrap();
        let info = get(&choice.id);
        assert_eq!(info.strength, "choice");
        assert_eq!(info.choice, choice.choice);
        assert!(info.choice.is_some());
        assert!(!info.counts_for_conformance());
        let rights = all.iter().find(|s| !s.require.is_empty()).unwrap();
        let info = get(&rights.id);
        assert_eq!(info.requires, ["rights"]);
        // The probe's steps come first.
        let probes = info.steps.iter().take_while(|st| st.probe.as_deref() == Some("rights")).count();
        assert!(probes > 0, "{info:?}");
        assert!(info.steps[probes..].iter().all(|st| st.probe.is_none()), "{info:?}");
        // A step expecting success accepts it; a denial's refusal does not.
        assert!(info.steps.iter().any(|st| st.expect.as_deref() == Some("success") && st.accepts_success));
        let deny = get("path_open/deny-dotdot");
        assert!(deny.steps.iter().all(|st| !st.accepts_success), "{deny:?}");
    }

    #[test]
    fn every_generated_denial_scenario_has_a_cell() {
        let (axes, cells) = denial_axes();
        assert!(!axes.vectors.is_empty() && !axes.columns.is_empty());
        for cell in cells.values() {
            assert!(axes.vectors.iter().any(|v| v.name == cell.vector));
            assert!(axes.columns.contains(&cell.column));
        }
    }
}
