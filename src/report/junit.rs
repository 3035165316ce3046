//! `junit.xml`: the report for CI systems (the JUnit XML dialect Jenkins, GitLab and the
//! GitHub test-report actions read). One `<testsuite>` per runtime (and one per runtime
//! for a wasi-testsuite directory, named `wasi-testsuite/<runtime>`), one `<testcase>`
//! per scenario, `classname` = `<runtime>.<function>` so that CI views group by function.
//!
//! Status mapping:
//! * `pass` → a plain testcase;
//! * `expected-fail` → `<skipped message="expected failure: …">`. Chosen over "passing with
//!   a property" because CI views show skipped cases, with their message, next to the
//!   totals, while testcase properties are not shown by most of them: a known failure stays
//!   visible as not passing without turning the build red — the same meaning `cargo test`
//!   gives it;
//! * `not-applicable` (the runtime lacks a capability the scenario requires) →
//!   `<skipped message="not applicable: …">`: skipped too, neither pass nor failure, and
//!   told apart from an expected failure by its message;
//! * `fail` (verdict fail, escape, timeout, crash) and `unexpected-pass` (a stale
//!   expectation entry, which fails `cargo test` too) → `<failure type="<verdict>">`;
//! * `error` (the harness could not judge) → `<error>`;
//! * a runtime that is not available → every testcase `<skipped message="not available: …">`.
//!
//! The report's provenance and the baseline changes are `<properties>` of each suite; the
//! changes are also listed in its `<system-out>`.

use std::fmt::Write as _;

use super::escape::xml;
use super::model::{Report, ResultRow, RuntimeDiff, TestRow};

/// The whole `junit.xml`.
pub fn render(r: &Report) -> String {
    let mut suites = String::new();
    let mut totals = Totals::default();
    for rt in &r.runtimes {
        let rows: Vec<&ResultRow> = r.results.iter().filter(|x| x.runtime == rt.name).collect();
        let diff = r.baseline.as_ref().and_then(|d| d.runtimes.iter().find(|x| x.runtime == rt.name));
        let mut props = provenance(r);
        props.push(("runtime.version".into(), rt.version.clone()));
        props.push(("runtime.available".into(), rt.available.to_string()));
        if let Some(why) = &rt.reason {
            props.push(("runtime.not-available".into(), why.clone()));
        }
        if let Some(e) = &rt.expectations {
            props.push(("runtime.expectations".into(), e.clone()));
        }
        if rt.available {
            let cases: Vec<Case> = rows.iter().map(|x| scenario_case(x, &function_of(r, &x.scenario))).collect();
            suites.push_str(&suite(&rt.name, rt.elapsed_s, &r.meta.date_utc, &props, &cases, diff, &mut totals));
        } else {
            let why = format!("not available: {}", rt.reason.as_deref().unwrap_or(""));
            let cases: Vec<Case> = r
                .scenarios
                .iter()
                .map(|s| Case {
                    name: s.id.clone(),
                    classname: format!("{}.{}", rt.name, s.function),
                    body: Body::Skipped(why.clone()),
                })
                .collect();
            suites.push_str(&suite(&rt.name, 0.0, &r.meta.date_utc, &props, &cases, diff, &mut totals));
        }
    }
    if let Some(w) = &r.wasi_testsuite {
        let mut runtimes: Vec<&str> = Vec::new();
        for x in &w.results {
            if !runtimes.contains(&x.runtime.as_str()) {
                runtimes.push(&x.runtime);
            }
        }
        for rt in runtimes {
            let cases: Vec<Case> = w.results.iter().filter(|x| x.runtime == rt).map(test_case).collect();
            let mut props = provenance(r);
            props.push(("wasi-testsuite.dir".into(), w.dir.clone()));
            suites.push_str(&suite(
                &format!("wasi-testsuite/{rt}"),
                0.0,
                &r.meta.date_utc,
                &props,
                &cases,
                None,
                &mut totals,
            ));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wasi-conform\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        totals.tests, totals.failures, totals.errors, totals.skipped, r.meta.elapsed_s
    )
}

#[derive(Default)]
struct Totals {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

struct Case {
    name: String,
    classname: String,
    body: Body,
}

enum Body {
    Pass,
    Skipped(String),
    Failure { kind: String, message: String, text: String },
    Error { message: String, text: String },
}

fn function_of(r: &Report, scenario: &str) -> String {
    r.scenarios.iter().find(|s| s.id == scenario).map(|s| s.function.clone()).unwrap_or_else(|| "unknown".into())
}

/// What [`case`] needs of a scenario's or a wasi-testsuite test's result.
struct Outcome<'a> {
    runtime: &'a str,
    name: &'a str,
    group: &'a str,
    status: &'a str,
    verdict: &'a str,
    message: &'a str,
    reproduce: &'a str,
}

fn scenario_case(x: &ResultRow, function: &str) -> Case {
    case(Outcome {
        runtime: &x.runtime,
        name: &x.scenario,
        group: function,
        status: &x.status,
        verdict: &x.verdict,
        message: &x.message,
        reproduce: &x.reproduce,
    })
}

fn test_case(x: &TestRow) -> Case {
    case(Outcome {
        runtime: &x.runtime,
        name: &x.test,
        group: &x.suite,
        status: &x.status,
        verdict: &x.verdict,
        message: &x.message,
        reproduce: &x.reproduce,
    })
}

fn case(x: Outcome) -> Case {
    let first = x.message.lines().next().unwrap_or("").to_owned();
    let text = format!("{}\nreproduce: {}", x.message, x.reproduce);
    let body = match x.status {
        "pass" => Body::Pass,
        "expected-fail" => Body::Skipped(format!("expected failure: {first}")),
        "not-applicable" => Body::Skipped(if first.starts_with("not applicable: ") {
            first
        } else {
            format!("not applicable: {first}")
        }),
        "not-available" => Body::Skipped(format!("not run: {first}")),
        "unexpected-pass" => Body::Failure { kind: "unexpected-pass".into(), message: first, text },
        "error" => Body::Error { message: first, text },
        // `fail`, and any status a later schema adds: not a pass.
        _ => Body::Failure { kind: x.verdict.to_owned(), message: first, text },
    };
    Case { name: x.name.to_owned(), classname: format!("{}.{}", x.runtime, x.group), body }
}

fn provenance(r: &Report) -> Vec<(String, String)> {
    let m = &r.meta;
    let mut p = vec![
        ("wasi-conform.version".to_owned(), m.project_version.clone()),
        ("host.os".to_owned(), m.host.os.clone()),
        ("host.arch".to_owned(), m.host.arch.clone()),
        ("date.utc".to_owned(), m.date_utc.clone()),
    ];
    if let Some(c) = &m.git_commit {
        p.push(("git.commit".into(), c.clone()));
    }
    if let Some(f) = &m.filter {
        p.push(("filter".into(), f.clone()));
    }
    p
}

fn suite(
    name: &str,
    time: f64,
    timestamp: &str,
    props: &[(String, String)],
    cases: &[Case],
    diff: Option<&RuntimeDiff>,
    totals: &mut Totals,
) -> String {
    let count = |f: fn(&Body) -> bool| cases.iter().filter(|c| f(&c.body)).count();
    let failures = count(|b| matches!(b, Body::Failure { .. }));
    let errors = count(|b| matches!(b, Body::Error { .. }));
    let skipped = count(|b| matches!(b, Body::Skipped(_)));
    totals.tests += cases.len();
    totals.failures += failures;
    totals.errors += errors;
    totals.skipped += skipped;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\" timestamp=\"{}\">",
        xml(name),
        cases.len(),
        xml(timestamp.trim_end_matches('Z'))
    );
    s.push_str("    <properties>\n");
    let mut props = props.to_vec();
    if let Some(d) = diff {
        props.push(("baseline.presence".into(), d.presence.clone()));
        props.push(("baseline.newly-failing".into(), d.newly_failing.len().to_string()));
        props.push(("baseline.newly-passing".into(), d.newly_passing.len().to_string()));
    }
    for (k, v) in &props {
        let _ = writeln!(s, "      <property name=\"{}\" value=\"{}\"/>", xml(k), xml(v));
    }
    s.push_str("    </properties>\n");
    for c in cases {
        let open = format!("    <testcase name=\"{}\" classname=\"{}\"", xml(&c.name), xml(&c.classname));
        match &c.body {
            Body::Pass => {
                let _ = writeln!(s, "{open}/>");
            }
            Body::Skipped(m) => {
                let _ = writeln!(s, "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>", xml(m));
            }
            Body::Failure { kind, message, text } => {
                let _ = writeln!(
                    s,
                    "{open}>\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                    xml(kind),
                    xml(message),
                    xml(text)
                );
            }
            Body::Error { message, text } => {
                let _ = writeln!(
                    s,
                    "{open}>\n      <error type=\"error\" message=\"{}\">{}</error>\n    </testcase>",
                    xml(message),
                    xml(text)
                );
            }
        }
    }
    if let Some(d) = diff.filter(|d| !d.newly_failing.is_empty() || !d.newly_passing.is_empty()) {
        let mut out = String::from("changes since the baseline:\n");
        for c in &d.newly_failing {
            let _ = writeln!(out, "newly failing: {} ({} -> {})", c.scenario, c.before, c.now);
        }
        for c in &d.newly_passing {
            let _ = writeln!(out, "newly passing: {} ({} -> {})", c.scenario, c.before, c.now);
        }
        let _ = writeln!(s, "    <system-out>{}</system-out>", xml(&out));
    }
    s.push_str("  </testsuite>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::sample;

    #[test]
    fn statuses_map_to_junit_elements() {
        let x = render(&sample());
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wasi-conform\" tests=\"15\" failures=\"1\" errors=\"0\" skipped=\"8\""), "{x}");
        assert!(x.contains("<testsuite name=\"reference\" tests=\"5\" failures=\"0\" errors=\"0\" skipped=\"0\""));
        assert!(x.contains("<testsuite name=\"wasmtime\" tests=\"5\" failures=\"1\" errors=\"0\" skipped=\"3\""));
        assert!(x.contains("<testsuite name=\"node\" tests=\"5\" failures=\"0\" errors=\"0\" skipped=\"5\""));
        // Not applicable: skipped, and said so (not as an expected failure).
        assert!(x.contains(
            "<testcase name=\"fd_fdstat_set_rights/r\" classname=\"wasmtime.fd_fdstat_set_rights\">\n      <skipped message=\"not applicable: no rights model: fd_fdstat_set_rights answers notsup\"/>"
        ), "{x}");
        assert!(x.contains(
            "<testcase name=\"path_open/&lt;b&amp;c&gt;\" classname=\"wasmtime.path_open\">\n      <skipped message=\"expected failure: known failure: returns &lt;noent&gt; &amp; not perm\"/>"
        ), "{x}");
        assert!(
            x.contains("<failure type=\"crash\" message=\"runtime crash: ]]&gt; &lt;/script&gt; \u{fffd} bad\">"),
            "{x}"
        );
        assert!(x.contains("reproduce: cargo run --release -- run --runtime wasmtime --scenario fd_write/b</failure>"));
        assert!(x.contains("<skipped message=\"not available: `node` not found on PATH &amp; friends\"/>"));
        assert!(x.contains("<property name=\"git.commit\" value=\"0123456789abcdef0123456789abcdef01234567\"/>"));
    }

    #[test]
    fn baseline_changes_are_properties_and_output() {
        let mut r = sample();
        let mut before = sample();
        before.results.iter_mut().for_each(|x| {
            x.verdict = "pass".into();
            x.status = "pass".into()
        });
        r.baseline = Some(crate::report::baseline::diff(&before, &r));
        let x = render(&r);
        assert!(x.contains("<property name=\"baseline.newly-failing\" value=\"3\"/>"), "{x}");
        assert!(x.contains("newly failing: fd_write/b (pass -&gt; fail)"), "{x}");
    }
}
