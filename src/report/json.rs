//! `report.json`: the [`Report`] as pretty JSON (schema `wasi-conform/report/v2`, see
//! `reports/README.md`), and reading one back for `--baseline` and `--from` (a v1 report
//! too: its missing fields take their defaults, and it is read as v2 from then on).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::model::{Report, SCHEMA, SCHEMA_V1};

/// The report as JSON text: one top-level field per line, and one element per line for
/// the arrays (so that a changed result is a one-line diff in the published file, which
/// stays a third of the size of fully indented JSON).
pub fn render(r: &Report) -> String {
    let mut out = String::from("{\n");
    field(&mut out, "schema", &r.schema);
    field(&mut out, "meta", &r.meta);
    list(&mut out, "runtimes", &r.runtimes);
    list(&mut out, "functions", &r.functions);
    list(&mut out, "scenarios", &r.scenarios);
    list(&mut out, "results", &r.results);
    field(&mut out, "denial", &r.denial);
    field(&mut out, "divergences", &r.divergences);
    field(&mut out, "wasi_testsuite", &r.wasi_testsuite);
    list(&mut out, "programs", &r.programs);
    field(&mut out, "baseline", &r.baseline);
    // The last field's comma.
    out.truncate(out.len() - 2);
    out.push_str("\n}\n");
    out
}

fn compact<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("a report always serialises")
}

fn field<T: Serialize>(out: &mut String, key: &str, v: &T) {
    out.push_str(&format!("  {}: {},\n", compact(&key), compact(v)));
}

fn list<T: Serialize>(out: &mut String, key: &str, items: &[T]) {
    if items.is_empty() {
        return field(out, key, &items);
    }
    let lines: Vec<String> = items.iter().map(|x| format!("    {}", compact(x))).collect();
    out.push_str(&format!("  {}: [\n{}\n  ],\n", compact(&key), lines.join(",\n")));
}

/// Parses a `report.json` (v2, or v1 upgraded), refusing another schema. The figures are
/// recomputed from the results.
pub fn parse(text: &str) -> Result<Report> {
    let v: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    match v.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA | SCHEMA_V1) => {}
        Some(other) => bail!("schema `{other}`, expected `{SCHEMA}` (or `{SCHEMA_V1}`)"),
        None => bail!("no `schema` field: not a wasi-conform report"),
    }
    let mut r: Report = serde_json::from_value(v).context("not a valid report")?;
    r.schema = SCHEMA.to_owned();
    r.refresh_figures();
    Ok(r)
}

/// Reads a `report.json` file.
pub fn load(path: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::sample;

    #[test]
    fn round_trip() {
        let mut r = sample();
        r.baseline = Some(crate::report::baseline::diff(&sample(), &r));
        r.wasi_testsuite = Some(crate::report::model::WasiTestsuite { dir: "t".into(), results: vec![test_row()] });
        r.divergences.findings = Some(Vec::new());
        let text = render(&r);
        assert_eq!(parse(&text).unwrap(), r);
        // One result per line.
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().any(|l| l.starts_with("    {\"runtime\":\"wasmtime\",\"scenario\":\"fd_write/b\"")));
        assert_eq!(lines.iter().filter(|l| l.starts_with("    {\"runtime\":")).count(), r.results.len());
        assert!(lines[1].starts_with("  \"schema\": \"wasi-conform/report/v2\""));
        // The figures are in the file, per available runtime.
        assert!(lines.iter().any(|l| l.contains("\"name\":\"wasmtime\"")
            && l.contains("\"figures\":{\"conformance\":{\"passed\":1,\"applicable\":3}")));
        assert!(lines.iter().any(|l| l.contains("\"name\":\"node\"") && l.contains("\"figures\":null")));
        // `cause` only where the entry has one.
        assert_eq!(text.matches("\"cause\":").count(), 1);
    }

    #[test]
    fn reads_a_v1_report_as_v2() {
        let mut v: serde_json::Value = serde_json::from_str(&render(&sample())).unwrap();
        v["schema"] = "wasi-conform/report/v1".into();
        for rt in v["runtimes"].as_array_mut().unwrap() {
            rt.as_object_mut().unwrap().remove("figures");
        }
        for sc in v["scenarios"].as_array_mut().unwrap() {
            let sc = sc.as_object_mut().unwrap();
            sc.remove("choice");
            sc.remove("requires");
        }
        let r = parse(&v.to_string()).unwrap();
        assert_eq!(r.schema, SCHEMA);
        assert_eq!(r.runtimes[1].figures, sample().runtimes[1].figures);
        assert!(r.scenarios.iter().all(|s| s.choice.is_none() && s.requires.is_empty()));
    }

    fn test_row() -> crate::report::model::TestRow {
        crate::report::model::TestRow {
            runtime: "wasmtime".into(),
            test: "a/b".into(),
            suite: "a".into(),
            status: "not-available".into(),
            verdict: "not-available".into(),
            message: "skipped: needs sockets".into(),
            reproduce: "x".into(),
        }
    }

    #[test]
    fn refuses_other_schemas() {
        let e = parse(r#"{"schema":"wasi-conform/run/v1"}"#).unwrap_err();
        assert!(format!("{e:?}").contains("expected `wasi-conform/report/v2` (or `wasi-conform/report/v1`)"));
        assert!(parse("{}").is_err());
        assert!(parse("[").is_err());
    }
}
