//! The published report (`reports/`) and `wasi-conform report` itself.
//!
//! * `committed_report_is_current`: without running any runtime, the committed
//!   `reports/report.json` covers exactly the suite's scenarios, every runtime recorded in
//!   it agrees with its expectation file (listed = `expected-fail` with the entry's `cause`,
//!   otherwise `pass`, or `not-applicable` for a scenario that requires a capability; the
//!   scenario harness checks the expectation files against the real runtimes), and the
//!   other committed files (HTML, Markdown, JUnit, the README table) are what the renderer
//!   makes of that JSON. On failure it prints the command that regenerates everything.
//! * `headline_figures_on_real_runs`: the reference and Wasmtime over the rights scenarios
//!   (Wasmtime has no rights model, so those that `require: [rights]` are not applicable to
//!   it) and over `choice` scenarios (where Wasmtime is known to differ from the
//!   reference's pick): the per-runtime figures in `report.json` are those of its results,
//!   the tables and JUnit show them, and `--from` re-renders every file byte for byte.
//! * `baseline_diff_in_every_format`: two real runs (reference + Wasmtime on a few
//!   scenarios), the second against a copy of the first's JSON with statuses flipped, a
//!   scenario dropped and one invented: the changes appear in all four files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::Expectations;

/// What regenerates `reports/` and the README table (`report::REGENERATE`, with the two
/// command-line runtimes named).
const REGENERATE: &str = "WASMEDGE_BIN=<path to wasmedge> IWASM_BIN=<path to iwasm> \
                          cargo run --release -- report --baseline reports/report.json";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasi-conform"));
    c.current_dir(repo());
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().expect("run wasi-conform");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{c:?} failed:\n{text}");
    text
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stale(problems: &[String]) -> String {
    format!(
        "the committed reports/ is not current:\n  {}\nregenerate it (and the README table) with:\n  {REGENERATE}\n\
         (WasmEdge and WAMR are included when WASMEDGE_BIN / IWASM_BIN name their binaries or they are on PATH)",
        problems.iter().take(40).cloned().collect::<Vec<_>>().join("\n  ")
            + &if problems.len() > 40 { format!("\n  … {} problems in all", problems.len()) } else { String::new() }
    )
}

#[test]
fn committed_report_is_current() {
    let reports = repo().join("reports");
    let report: Value = match std::fs::read_to_string(reports.join("report.json")).map(|t| serde_json::from_str(&t)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{}", stale(&[format!("reports/report.json is not JSON: {e}")])),
        Err(e) => panic!("{}", stale(&[format!("reports/report.json: {e}")])),
    };
    let mut problems = Vec::new();
    assert_eq!(report["schema"], "wasi-conform/report/v2", "{}", stale(&["not a v2 report".into()]));
    if !report["meta"]["filter"].is_null() {
        problems.push(format!("made with --filter {}", report["meta"]["filter"]));
    }

    // The scenario set is the suite's.
    let suite: BTreeSet<String> =
        discover::load_builtin().expect("the suite loads").into_iter().map(|s| s.id).collect();
    let recorded: BTreeSet<String> =
        report["scenarios"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    for id in suite.difference(&recorded) {
        problems.push(format!("scenario {id} is in the suite but not in the report"));
    }
    for id in recorded.difference(&suite) {
        problems.push(format!("scenario {id} is in the report but no longer in the suite"));
    }

    // Every recorded runtime: one result per scenario, each as its expectation file says.
    let requires: BTreeSet<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["requires"].as_array().is_some_and(|r| !r.is_empty()))
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let mut by_runtime: BTreeMap<String, BTreeMap<String, (String, Option<String>)>> = BTreeMap::new();
    for r in report["results"].as_array().unwrap() {
        let (rt, id, status) =
            (r["runtime"].as_str().unwrap(), r["scenario"].as_str().unwrap(), r["status"].as_str().unwrap());
        let cause = r["cause"].as_str().map(str::to_owned);
        by_runtime.entry(rt.to_owned()).or_default().insert(id.to_owned(), (status.to_owned(), cause));
    }
    let exp_dir = discover::suite_dir().join("expectations");
    for rt in report["runtimes"].as_array().unwrap() {
        let name = rt["name"].as_str().unwrap();
        if rt["available"] != Value::Bool(true) {
            eprintln!("note: the report records {name} as not available: {}", rt["reason"]);
            continue;
        }
        let exp = Expectations::load(&exp_dir, name).expect("expectation file loads");
        let results = by_runtime.remove(name).unwrap_or_default();
        for id in &recorded {
            let entry = exp.get(id);
            let want: &[&str] = match entry {
                Some(_) => &["expected-fail"],
                None if requires.contains(id.as_str()) => &["pass", "not-applicable"],
                None => &["pass"],
            };
            let want_cause = entry.and_then(|e| e.cause.clone());
            match results.get(id) {
                None => problems.push(format!("{name}: no result for {id}")),
                Some((got, _)) if !want.contains(&got.as_str()) => problems.push(format!(
                    "{name} {id}: {got} in the report, but suite/expectations/{name}.toml says {}",
                    want.join(" or ")
                )),
                Some((_, cause)) if *cause != want_cause => problems.push(format!(
                    "{name} {id}: cause {cause:?} in the report, but suite/expectations/{name}.toml says {want_cause:?}"
                )),
                Some(_) => {}
            }
        }
    }
    for rt in by_runtime.keys() {
        problems.push(format!("results for {rt}, which the report does not list as available"));
    }
    assert!(problems.is_empty(), "{}", stale(&problems));

    // The other files are what the renderer makes of the JSON.
    let tmp = tempfile::tempdir().unwrap();
    let readme = tmp.path().join("README.md");
    std::fs::copy(repo().join("README.md"), &readme).unwrap();
    let out = tmp.path().join("out");
    run_ok(
        bin()
            .arg("report")
            .arg("--from")
            .arg(reports.join("report.json"))
            .arg("--out")
            .arg(&out)
            .arg("--readme")
            .arg(&readme),
    );
    for name in ["report.json", "index.html", "summary.md", "junit.xml"] {
        if read(&out.join(name)) != read(&reports.join(name)) {
            problems.push(format!("reports/{name} differs from what `report --from reports/report.json` renders"));
        }
    }
    if read(&readme) != read(&repo().join("README.md")) {
        problems.push("the README table differs from reports/report.json's".into());
    }
    assert!(problems.is_empty(), "{}", stale(&problems));
}

/// Doctors a real report.json into a baseline: one Wasmtime result that passes is marked
/// failing, one that fails is marked passing, another scenario is dropped and one is
/// invented. Returns (marked failing, marked passing, dropped, invented).
fn doctor(report: &mut Value) -> (String, String, String, String) {
    let results = report["results"].as_array_mut().unwrap();
    let wasmtime = |passing: bool| {
        results
            .iter()
            .position(|r| r["runtime"] == "wasmtime" && (r["verdict"] == "pass") == passing)
            .expect("wasmtime passes some scenarios of the filter and fails some (suite/expectations/wasmtime.toml)")
    };
    let (pass, fail) = (wasmtime(true), wasmtime(false));
    results[pass]["verdict"] = "fail".into();
    results[pass]["status"] = "fail".into();
    results[fail]["verdict"] = "pass".into();
    results[fail]["status"] = "unexpected-pass".into();
    let marked_failing = results[pass]["scenario"].as_str().unwrap().to_owned();
    let marked_passing = results[fail]["scenario"].as_str().unwrap().to_owned();
    let scenarios = report["scenarios"].as_array_mut().unwrap();
    let last = scenarios.iter().rposition(|s| s["id"] != marked_failing.as_str() && s["id"] != marked_passing.as_str());
    let dropped = scenarios.remove(last.unwrap())["id"].as_str().unwrap().to_owned();
    let mut invented = scenarios[0].clone();
    invented["id"] = "fd_read/invented-<&>".into();
    scenarios.push(invented);
    report["results"].as_array_mut().unwrap().retain(|r| r["scenario"] != dropped.as_str());
    (marked_failing, marked_passing, dropped, "fd_read/invented-<&>".into())
}

/// The report of a small real run: (its JSON, its output directory).
fn small_report(tmp: &Path, name: &str, filter: &str) -> (Value, PathBuf) {
    let out = tmp.join(name);
    run_ok(
        bin().args(["report", "--runtime", "reference,wasmtime", "--filter", filter, "--jobs", "2", "--out"]).arg(&out),
    );
    (json(&out.join("report.json")), out)
}

/// The results of one runtime in a report.
fn results_of<'a>(report: &'a Value, runtime: &str) -> Vec<&'a Value> {
    report["results"].as_array().unwrap().iter().filter(|r| r["runtime"] == runtime).collect()
}

/// A runtime's `figures`.
fn figures<'a>(report: &'a Value, runtime: &str) -> &'a Value {
    let rt = report["runtimes"].as_array().unwrap().iter().find(|r| r["name"] == runtime).unwrap();
    &rt["figures"]
}

/// `report --from DIR/report.json` renders the same four files.
fn rerenders_identically(dir: &Path, tmp: &Path) {
    let again = tmp.join(format!("{}-again", dir.file_name().unwrap().to_string_lossy()));
    run_ok(bin().arg("report").arg("--from").arg(dir.join("report.json")).arg("--out").arg(&again));
    for name in ["report.json", "index.html", "summary.md", "junit.xml"] {
        assert!(read(&again.join(name)) == read(&dir.join(name)), "{name} differs when re-rendered from its JSON");
    }
}

#[test]
fn headline_figures_on_real_runs() {
    let tmp = tempfile::tempdir().unwrap();

    // The rights scenarios: some require a rights model, which Wasmtime lacks.
    let (report, out) = small_report(tmp.path(), "rights", "fd_fdstat_set_rights/");
    assert_eq!(report["schema"], "wasi-conform/report/v2");
    let scenarios = report["scenarios"].as_array().unwrap();
    let requiring: BTreeSet<&str> = scenarios
        .iter()
        .filter(|s| s["requires"] == serde_json::json!(["rights"]))
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(!requiring.is_empty(), "some rights scenarios require: [rights]");
    let wasmtime = results_of(&report, "wasmtime");
    let not_applicable: BTreeSet<&str> =
        wasmtime.iter().filter(|r| r["verdict"] == "not-applicable").map(|r| r["scenario"].as_str().unwrap()).collect();
    assert_eq!(not_applicable, requiring, "Wasmtime has no rights model: every scenario requiring one does not apply");
    for r in wasmtime.iter().filter(|r| r["verdict"] == "not-applicable") {
        assert!(r["message"].as_str().unwrap().starts_with("not applicable: "), "{r}");
    }
    let strength: BTreeMap<&str, &str> =
        scenarios.iter().map(|s| (s["id"].as_str().unwrap(), s["strength"].as_str().unwrap())).collect();
    // Wasmtime's figures are those of its results, the not-applicable ones left out.
    let applicable: Vec<&&Value> = wasmtime.iter().filter(|r| r["verdict"] != "not-applicable").collect();
    let conformance = |must_only: bool| {
        let rows: Vec<_> = applicable
            .iter()
            .filter(|r| match strength[r["scenario"].as_str().unwrap()] {
                "must" => true,
                "should" | "de-facto" => !must_only,
                _ => false,
            })
            .collect();
        serde_json::json!({"passed": rows.iter().filter(|r| r["verdict"] == "pass").count(), "applicable": rows.len()})
    };
    let f = figures(&report, "wasmtime");
    assert_eq!(f["not_applicable"], requiring.len(), "{f}");
    assert_eq!(f["conformance"], conformance(false), "{f}");
    assert_eq!(f["must"], conformance(true), "{f}");
    assert_eq!(
        f["conformance"]["applicable"].as_u64().unwrap() as usize,
        scenarios.len() - requiring.len(),
        "the denominator leaves the not-applicable scenarios out: {f}"
    );
    let reference = figures(&report, "reference");
    assert_eq!(reference["not_applicable"], 0, "the reference has a rights model");
    assert_eq!(reference["conformance"]["passed"], reference["conformance"]["applicable"]);
    assert_eq!(reference["conformance"]["applicable"], scenarios.len());
    assert_eq!(f["unexpected"], 0, "Wasmtime agrees with its expectation file: {f}");

    // summary.md: the row of figures, and the not-applicable count in its own column.
    let md = read(&out.join("summary.md"));
    let pct = |p: &Value| {
        let (a, b) = (p["passed"].as_u64().unwrap(), p["applicable"].as_u64().unwrap());
        format!("{a} / {b} ({:.1}%)", 100.0 * a as f64 / b as f64)
    };
    let row = format!(
        "| wasmtime | {} | {} | {} | - | {} | {} / {} | 0 |",
        report["runtimes"][1]["version"].as_str().unwrap(),
        pct(&f["conformance"]),
        pct(&f["must"]),
        requiring.len(),
        f["known_failures"]["scenarios"],
        f["known_failures"]["causes"],
    );
    assert!(md.contains(&row), "{row}\nnot in:\n{md}");
    assert!(md.contains("| runtime | version | conformance (must+should+de-facto) | must | agrees with the reference's choices | not applicable | known failures (scenarios / causes) | unexpected results |"));
    // junit.xml: skipped as not applicable, not as an expected failure, and no failure.
    let junit = read(&out.join("junit.xml"));
    let na = junit.matches("<skipped message=\"not applicable: ").count();
    assert_eq!(na, requiring.len(), "{junit}");
    assert!(junit.contains("<testsuite name=\"wasmtime\""));
    assert!(!junit.contains("<failure"), "{junit}");
    // index.html: those cells are not-applicable.
    let html = read(&out.join("index.html"));
    assert_eq!(
        html.matches("data-runtime=\"wasmtime\" data-status=\"not-applicable\" data-verdict=\"not-applicable\"")
            .count(),
        wasmtime.iter().filter(|r| r["status"] == "not-applicable").count()
    );
    rerenders_identically(&out, tmp.path());

    // Choice scenarios: Wasmtime writes only the first non-empty ciovec, a difference from
    // the reference's pick, which is agreement, not conformance.
    let (report, out) = small_report(tmp.path(), "choices", "gather-writes-every-ciovec");
    let scenarios = report["scenarios"].as_array().unwrap();
    assert!(!scenarios.is_empty());
    for s in scenarios {
        assert_eq!(s["strength"], "choice", "{s}");
        assert!(s["choice"].as_str().is_some_and(|c| c.contains("Wasmtime")), "the reference's pick and why: {s}");
    }
    let wasmtime = results_of(&report, "wasmtime");
    let agreeing = wasmtime.iter().filter(|r| r["verdict"] == "pass").count();
    assert!(agreeing < scenarios.len(), "Wasmtime differs from the reference's choice here");
    let f = figures(&report, "wasmtime");
    assert_eq!(f["choices"], serde_json::json!({"passed": agreeing, "applicable": scenarios.len()}), "{f}");
    assert_eq!(f["conformance"], serde_json::json!({"passed": 0, "applicable": 0}), "no conformance scenario: {f}");
    assert_eq!(f["known_failures"]["scenarios"], 0, "a choice difference is no known failure: {f}");
    let reference = figures(&report, "reference");
    assert_eq!(reference["choices"], serde_json::json!({"passed": scenarios.len(), "applicable": scenarios.len()}));
    let md = read(&out.join("summary.md"));
    let row = format!(
        "| wasmtime | {} | - | - | {agreeing} / {} ({:.1}%) | 0 | 0 / 0 | {} |",
        report["runtimes"][1]["version"].as_str().unwrap(),
        scenarios.len(),
        100.0 * agreeing as f64 / scenarios.len() as f64,
        f["unexpected"]
    );
    assert!(md.contains(&row), "{row}\nnot in:\n{md}");
    assert!(md.contains("agreement with the reference's pick, not conformance"), "the legend says so");
    let html = read(&out.join("index.html"));
    assert!(html.contains("<td class=\"strength strength-choice\" title=\"the reference's choice: "), "strength shown");
    rerenders_identically(&out, tmp.path());
}

#[test]
fn baseline_diff_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = (tmp.path().join("first"), tmp.path().join("second"));
    let args = ["report", "--runtime", "reference,wasmtime", "--filter", "fd_read/", "--jobs", "2"];
    run_ok(bin().args(args).arg("--out").arg(&first));
    let mut before = json(&first.join("report.json"));
    assert!(before["baseline"].is_null());
    // What the baseline marks failing passes now (newly passing), and the reverse.
    let (was_failing, was_passing, dropped, invented) = doctor(&mut before);
    let baseline = tmp.path().join("baseline.json");
    std::fs::write(&baseline, serde_json::to_string(&before).unwrap()).unwrap();
    let stdout = run_ok(bin().args(args).arg("--out").arg(&second).arg("--baseline").arg(&baseline));
    assert!(stdout.contains("since the baseline"), "{stdout}");

    let now = json(&second.join("report.json"));
    // Per step, what the reference returned is what the scenario allows.
    let scenarios: BTreeMap<&str, &Value> =
        now["scenarios"].as_array().unwrap().iter().map(|s| (s["id"].as_str().unwrap(), s)).collect();
    for r in now["results"].as_array().unwrap().iter().filter(|r| r["runtime"] == "reference") {
        let steps = scenarios[r["scenario"].as_str().unwrap()]["steps"].as_array().unwrap();
        let seen = r["steps"].as_array().unwrap();
        assert_eq!(seen.len(), steps.len(), "{r}");
        for (want, got) in steps.iter().zip(seen) {
            // A call that traps (as a scenario may expect) returns no errno to judge: it is
            // right when the step lists the trap among its answers, unjudged otherwise.
            match got["observed"].as_str().unwrap() {
                "did not return" | "trapped" => assert_ne!(got["errno_ok"], Value::Bool(false), "{r}"),
                _ => {
                    let judged = !want["expect"].is_null();
                    assert_eq!(got["errno_ok"], if judged { Value::Bool(true) } else { Value::Null }, "{r}");
                }
            }
        }
    }
    let d = &now["baseline"];
    assert_eq!(d["scenarios_added"], serde_json::json!([dropped]), "{d}");
    assert_eq!(d["scenarios_removed"], serde_json::json!([invented]), "{d}");
    let wt = d["runtimes"].as_array().unwrap().iter().find(|r| r["runtime"] == "wasmtime").unwrap();
    assert_eq!(
        wt["newly_passing"],
        serde_json::json!([{"scenario": was_failing, "before": "fail", "now": "pass"}]),
        "{d}"
    );
    assert_eq!(wt["newly_failing"][0]["scenario"], was_passing.as_str());
    assert_eq!(wt["newly_failing"][0]["before"], "unexpected-pass");
    let reference = d["runtimes"].as_array().unwrap().iter().find(|r| r["runtime"] == "reference").unwrap();
    assert_eq!(reference["newly_failing"], serde_json::json!([]));

    let html = read(&second.join("index.html"));
    assert!(html.contains("<section id=\"changes\">"));
    assert!(html.contains(&format!("<a href=\"#scenario={was_failing}\">{was_failing}</a> (fail → pass)")));
    assert!(html.contains("fd_read/invented-&lt;&amp;&gt;"));
    let md = read(&second.join("summary.md"));
    assert!(md.contains("## Changes since the baseline"), "{md}");
    assert!(md.contains(&format!("`{was_failing}` (fail → pass)")), "{md}");
    assert!(md.contains(&format!("- Scenarios added (1): `{dropped}`")), "{md}");
    let junit = read(&second.join("junit.xml"));
    assert!(junit.contains("<property name=\"baseline.newly-passing\" value=\"1\"/>"), "{junit}");
    assert!(junit.contains(&format!("newly passing: {was_failing} (fail -&gt; pass)")), "{junit}");
}

#[test]
fn unknown_baseline_schema_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("run.json");
    std::fs::write(&bad, r#"{"schema":"wasi-conform/run/v1","runtimes":[],"results":[]}"#).unwrap();
    let out = bin()
        .args(["report", "--runtime", "reference", "--filter", "sched_yield/", "--baseline"])
        .arg(&bad)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema `wasi-conform/run/v1`, expected `wasi-conform/report/v2`"), "{err}");
}

#[test]
fn wasi_testsuite_directory_is_its_own_section() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exported");
    // Our own fd_write scenarios in the wasi-testsuite format, then through the report.
    run_ok(bin().args(["export", "--filter", "fd_write/", "--wasi-testsuite"]).arg(&dir));
    let out = tmp.path().join("out");
    run_ok(
        bin()
            .args(["report", "--runtime", "reference,wasmtime", "--filter", "sched_yield/", "--wasi-testsuite"])
            .arg(&dir)
            .arg("--out")
            .arg(&out),
    );
    let report = json(&out.join("report.json"));
    let rows = report["wasi_testsuite"]["results"].as_array().expect("a wasi_testsuite section");
    assert!(!rows.is_empty());
    for rt in ["reference", "wasmtime"] {
        assert!(rows.iter().any(|r| r["runtime"] == rt), "results for {rt}");
    }
    // The reference passes every exported test.
    for r in rows.iter().filter(|r| r["runtime"] == "reference") {
        assert_eq!(r["verdict"], "pass", "{r}");
    }
    let first = rows[0]["test"].as_str().unwrap();
    assert!(read(&out.join("index.html")).contains("<table id=\"wasi-testsuite-table\">"));
    assert!(read(&out.join("summary.md")).contains("## wasi-testsuite"));
    let junit = read(&out.join("junit.xml"));
    assert!(junit.contains("<testsuite name=\"wasi-testsuite/reference\""), "{junit}");
    assert!(junit.contains(&format!("<testcase name=\"{first}\"")), "{junit}");
}
