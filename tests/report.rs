//! The published report (`reports/`) and `wasi-conform report` itself.
//!
//! * `committed_report_is_current`: without running any runtime, the committed
//!   `reports/report.json` covers exactly the suite's scenarios, every runtime recorded in
//!   it agrees with its expectation file (listed = `expected-fail`, otherwise `pass`; the
//!   scenario harness checks the expectation files against the real runtimes), and the
//!   other committed files (HTML, Markdown, JUnit, the README table) are what the renderer
//!   makes of that JSON. On failure it prints the command that regenerates everything.
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
    assert_eq!(report["schema"], "wasi-conform/report/v1", "{}", stale(&["not a v1 report".into()]));
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
    let mut by_runtime: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in report["results"].as_array().unwrap() {
        let (rt, id, status) =
            (r["runtime"].as_str().unwrap(), r["scenario"].as_str().unwrap(), r["status"].as_str().unwrap());
        by_runtime.entry(rt.to_owned()).or_default().insert(id.to_owned(), status.to_owned());
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
            let want = if exp.get(id).is_some() { "expected-fail" } else { "pass" };
            match results.get(id) {
                None => problems.push(format!("{name}: no result for {id}")),
                Some(got) if got != want => problems
                    .push(format!("{name} {id}: {got} in the report, but suite/expectations/{name}.toml says {want}")),
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
            // A call that traps (as a scenario may expect) returns no errno to judge.
            let judged = !want["expect"].is_null() && got["observed"] != "did not return";
            assert_eq!(got["errno_ok"], if judged { Value::Bool(true) } else { Value::Null }, "{r}");
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
    assert!(err.contains("schema `wasi-conform/run/v1`, expected `wasi-conform/report/v1`"), "{err}");
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
