//! The capability-denial scenarios (`<function>/deny-*`) read by what a failure means, most
//! serious first:
//!
//! * an **escape** (security): the runtime changed something outside its preopens
//!   (verdict `escape`);
//! * an **over-refusal**: a step the scenario expects to succeed was refused;
//! * **another errno**: the runtime refused as it should, but with an errno the scenario
//!   does not accept (`noent` where `perm` or `notcapable` is expected);
//! * **not refused**: the runtime let a forbidden path through, yet nothing outside its
//!   preopens changed (the path came back inside, say);
//! * anything else (a trap, a crash, a timeout, a wrong final tree with every errno right).
//!
//! The kind is read from the first step whose errno the scenario does not allow.

use std::collections::BTreeMap;

use super::model::{Report, ResultRow, ScenarioInfo, Tally};

/// What one denial result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Passed,
    Escape,
    OverRefusal,
    OtherErrno,
    NotRefused,
    Other,
    /// The scenario does not apply to the runtime.
    NotApplicable,
}

impl Kind {
    /// The failing kinds, in the order the report shows them.
    pub const FAILURES: [Kind; 5] = [Kind::Escape, Kind::OverRefusal, Kind::OtherErrno, Kind::NotRefused, Kind::Other];

    /// Its column heading.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Passed => "passed",
            Kind::Escape => "escapes",
            Kind::OverRefusal => "over-refusals",
            Kind::OtherErrno => "refused with another errno",
            Kind::NotRefused => "not refused (nothing outside changed)",
            Kind::Other => "other failures",
            Kind::NotApplicable => "not applicable",
        }
    }

    /// A short name for element ids and classes.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Passed => "passed",
            Kind::Escape => "escape",
            Kind::OverRefusal => "over-refusal",
            Kind::OtherErrno => "other-errno",
            Kind::NotRefused => "not-refused",
            Kind::Other => "other",
            Kind::NotApplicable => "not-applicable",
        }
    }
}

/// Reads one result of a denial scenario.
pub fn classify(sc: &ScenarioInfo, row: &ResultRow) -> Kind {
    if row.verdict == "escape" {
        return Kind::Escape;
    }
    if !row.applicable() {
        return Kind::NotApplicable;
    }
    if row.passed() {
        return Kind::Passed;
    }
    let first_wrong = row.steps.iter().zip(&sc.steps).find(|(seen, _)| seen.errno_ok == Some(false));
    match first_wrong {
        Some((_, step)) if step.accepts_success => Kind::OverRefusal,
        Some((seen, _)) if seen.observed == "success" => Kind::NotRefused,
        Some(_) => Kind::OtherErrno,
        None => Kind::Other,
    }
}

/// One runtime on the denial scenarios.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary<'a> {
    /// Passed / applicable.
    pub tally: Tally,
    /// The failing results by kind.
    pub failures: BTreeMap<Kind, Vec<&'a ResultRow>>,
    /// Scenarios not passed (and applicable), per escape vector.
    pub failing_vectors: BTreeMap<&'a str, usize>,
}

impl Summary<'_> {
    /// How many results are of this kind.
    pub fn count(&self, k: Kind) -> usize {
        self.failures.get(&k).map_or(0, Vec::len)
    }
}

/// One runtime's results on the denial scenarios.
pub fn summary<'a>(r: &'a Report, runtime: &str) -> Summary<'a> {
    let scenarios = r.scenario_index();
    let mut out = Summary::default();
    for row in r.results.iter().filter(|x| x.runtime == runtime) {
        let Some(sc) = scenarios.get(row.scenario.as_str()) else { continue };
        let Some(cell) = &sc.denial else { continue };
        let kind = classify(sc, row);
        match kind {
            Kind::NotApplicable => continue,
            Kind::Passed => {}
            Kind::Escape | Kind::OverRefusal | Kind::OtherErrno | Kind::NotRefused | Kind::Other => {
                out.failures.entry(kind).or_default().push(row);
                *out.failing_vectors.entry(cell.vector.as_str()).or_default() += 1;
            }
        }
        out.tally.add(row.passed());
    }
    out
}

/// What an escape changed: the message's `SANDBOX ESCAPE` line (after a known-failure
/// reason, when it is listed), else its first line.
pub fn escape_line(row: &ResultRow) -> &str {
    row.message.lines().find(|l| l.starts_with("SANDBOX ESCAPE")).or_else(|| row.message.lines().next()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::sample;
    use wasi_conform_suite::observe::StepSeen;

    fn denial_row(r: &mut Report) -> &mut ResultRow {
        r.results.iter_mut().find(|x| x.runtime == "wasmtime" && x.scenario == "path_open/a").unwrap()
    }

    #[test]
    fn kinds() {
        let mut r = sample();
        let sc = r.scenarios[0].clone();
        assert_eq!(classify(&sc, denial_row(&mut r)), Kind::Passed);
        let row = denial_row(&mut r);
        row.verdict = "fail".into();
        row.status = "fail".into();
        // Refused, but with noent where perm or notcapable is expected.
        row.steps = vec![StepSeen { observed: "noent".into(), errno_ok: Some(false) }];
        assert_eq!(classify(&sc, row), Kind::OtherErrno);
        row.steps = vec![StepSeen { observed: "success".into(), errno_ok: Some(false) }];
        assert_eq!(classify(&sc, row), Kind::NotRefused);
        row.steps = vec![StepSeen { observed: "trapped".into(), errno_ok: None }];
        assert_eq!(classify(&sc, row), Kind::Other);
        let mut expects_success = sc.clone();
        expects_success.steps[0].expect = Some("success".into());
        expects_success.steps[0].accepts_success = true;
        row.steps = vec![StepSeen { observed: "perm".into(), errno_ok: Some(false) }];
        assert_eq!(classify(&expects_success, row), Kind::OverRefusal);
        row.verdict = "escape".into();
        row.message =
            "known failure: lets it through\nSANDBOX ESCAPE: changed outside the preopens: outside/secret".into();
        assert_eq!(classify(&sc, row), Kind::Escape);
        assert_eq!(escape_line(row), "SANDBOX ESCAPE: changed outside the preopens: outside/secret");
        row.verdict = "not-applicable".into();
        assert_eq!(classify(&sc, row), Kind::NotApplicable);
    }

    #[test]
    fn summary_counts_by_kind_and_vector() {
        let mut r = sample();
        assert_eq!(summary(&r, "wasmtime").tally, Tally { passed: 1, applicable: 1 });
        let row = denial_row(&mut r);
        row.verdict = "escape".into();
        row.status = "fail".into();
        let s = summary(&r, "wasmtime");
        assert_eq!(s.tally, Tally { passed: 0, applicable: 1 });
        assert_eq!(s.count(Kind::Escape), 1);
        assert_eq!(s.count(Kind::OverRefusal), 0);
        assert_eq!(s.failing_vectors, BTreeMap::from([("dotdot", 1)]));
        assert_eq!(summary(&r, "reference").tally, Tally { passed: 1, applicable: 1 });
    }
}
