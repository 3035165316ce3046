//! A small hand-made report for the renderers' and the baseline's unit tests: five
//! scenarios (one with `<`, `&` in its id and messages, a `choice` one, one that requires
//! the rights capability), two runtimes with results and one that is not available. Its
//! figures are filled in as a collected report's are.

use wasi_conform_suite::observe::StepSeen;

use super::model::*;

fn scenario(id: &str, denial: Option<(&str, &str)>) -> ScenarioInfo {
    let function = id.split('/').next().unwrap().to_owned();
    ScenarioInfo {
        id: id.to_owned(),
        function: function.clone(),
        summary: format!("summary of {id} with <tag> & \"quotes\" | pipe"),
        spec: "witx: \"path must be relative\" (divergences.md A1)".into(),
        strength: "must".into(),
        choice: None,
        requires: Vec::new(),
        source: format!("suite/scenarios/{id}.yaml"),
        steps: vec![StepInfo {
            line: 9,
            call: format!("{function}(fd=$sandbox, path=\"a<b\")"),
            expect: Some("one of perm, notcapable (A1)".into()),
            accepts_success: false,
            probe: None,
        }],
        end: "exit 0".into(),
        denial: denial.map(|(v, c)| DenialCell { vector: v.into(), column: c.into() }),
        cites: vec!["A1".into()],
    }
}

fn result(runtime: &str, scenario: &str, status: &str, verdict: &str, message: &str) -> ResultRow {
    ResultRow {
        runtime: runtime.into(),
        scenario: scenario.into(),
        status: status.into(),
        verdict: verdict.into(),
        cause: None,
        message: message.into(),
        reproduce: format!("cargo run --release -- run --runtime {runtime} --scenario {scenario}"),
        ending: Some("exit 0".into()),
        steps: vec![StepSeen {
            observed: if verdict == "pass" { "perm" } else { "noent" }.into(),
            errno_ok: Some(verdict == "pass"),
        }],
    }
}

/// The sample report.
pub fn sample() -> Report {
    let mut choice = scenario("fd_read/c", None);
    choice.strength = "choice".into();
    choice.choice = Some("the reference fills every iovec <in order> & says why".into());
    let mut rights = scenario("fd_fdstat_set_rights/r", None);
    rights.strength = "should".into();
    rights.requires = vec!["rights".into()];
    let scenarios = vec![
        scenario("path_open/a", Some(("dotdot", "path_open"))),
        scenario("path_open/<b&c>", None),
        scenario("fd_write/b", None),
        choice,
        rights,
    ];
    let mut results = Vec::new();
    for s in &scenarios {
        results.push(result("reference", &s.id, "pass", "pass", ""));
    }
    results.push(result("wasmtime", "path_open/a", "pass", "pass", ""));
    let mut known = result(
        "wasmtime",
        "path_open/<b&c>",
        "expected-fail",
        "fail",
        "known failure: returns <noent> & not perm\nstep 1 (line 9): path_open(...)\n    errno: expected perm, observed noent",
    );
    known.cause = Some("no-rights-model".into());
    results.push(known);
    results.push(result("wasmtime", "fd_write/b", "fail", "crash", "runtime crash: ]]> </script> \u{1} bad"));
    results.push(result("wasmtime", "fd_read/c", "expected-fail", "fail", "known failure: short read\nstep 1: …"));
    results.push(result(
        "wasmtime",
        "fd_fdstat_set_rights/r",
        "not-applicable",
        "not-applicable",
        "not applicable: no rights model: fd_fdstat_set_rights answers notsup",
    ));
    let runtime = |name: &str, available: bool| RuntimeInfo {
        name: name.into(),
        version: "1.0 <beta>".into(),
        available,
        reason: (!available).then(|| "`node` not found on PATH & friends".into()),
        expectations: None,
        elapsed_s: 0.5,
        figures: None,
    };
    let mut report = Report {
        schema: SCHEMA.into(),
        meta: Meta {
            project_version: "0.1.0".into(),
            git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            git_dirty: Some(false),
            date_utc: "2024-03-01T00:00:00Z".into(),
            host: Host { os: "linux".into(), arch: "x86_64".into() },
            filter: None,
            elapsed_s: 1.5,
        },
        runtimes: vec![runtime("reference", true), runtime("wasmtime", true), runtime("node", false)],
        functions: vec![
            "fd_fdstat_set_rights".into(),
            "fd_read".into(),
            "fd_write".into(),
            "path_open".into(),
            "sched_yield".into(),
        ],
        scenarios,
        results,
        denial: DenialAxes {
            vectors: vec![Vector { name: "dotdot".into(), title: "`..` past the root".into() }],
            columns: vec!["path_open".into()],
        },
        divergences: Divergences {
            cases: vec![Case {
                id: "A1".into(),
                title: "Sandbox escape errno: `notcapable` vs `perm`".into(),
                links: vec!["https://example.org/issue?a=1&b=2".into()],
                cited_by: vec!["path_open/a".into(), "path_open/<b&c>".into()],
            }],
            findings: None,
        },
        wasi_testsuite: None,
        programs: Vec::new(),
        baseline: None,
    };
    report.refresh_figures();
    report
}
