//! `report.json`: the [`Report`] as pretty JSON (schema `wasi-conform/report/v1`, see
//! `reports/README.md`), and reading one back for `--baseline` and `--from`.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::model::{Report, SCHEMA};

/// The report as JSON text, with a final newline.
pub fn render(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("a report always serialises");
    s.push('\n');
    s
}

/// Parses a `report.json`, refusing another schema.
pub fn parse(text: &str) -> Result<Report> {
    let v: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    match v.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => bail!("schema `{other}`, expected `{SCHEMA}`"),
        None => bail!("no `schema` field: not a wasi-conform report"),
    }
    serde_json::from_value(v).context("not a valid report")
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
        let r = sample();
        assert_eq!(parse(&render(&r)).unwrap(), r);
    }

    #[test]
    fn refuses_other_schemas() {
        let e = parse(r#"{"schema":"wasi-conform/run/v1"}"#).unwrap_err();
        assert!(format!("{e:?}").contains("expected `wasi-conform/report/v1`"));
        assert!(parse("{}").is_err());
        assert!(parse("[").is_err());
    }
}
