//! The headline figures of one runtime, which tell a violation from a choice:
//!
//! * conformance: scenarios passed among the `must`, `should` and `de-facto` ones that
//!   apply to the runtime; and over `must` alone;
//! * agreement with the reference's choices: the same over the `choice` scenarios (the spec
//!   is silent and runtimes disagree), which is never conformance;
//! * not applicable: results of scenarios that `require:` a capability the runtime lacks,
//!   left out of every ratio;
//! * known failures: conformance scenarios failing as the expectation file lists them, and
//!   the distinct root causes (`cause`) behind them, an entry without a `cause` counting as
//!   its own;
//! * unexpected results: statuses that make `cargo test` fail (`fail`, `unexpected-pass`,
//!   `error`), whatever the strength.
//!
//! "Passed" is the verdict, as everywhere in the report.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use wasi_conform_suite::expectations::Status;
use wasi_conform_suite::scenario::Strength;

use super::model::{Report, ResultRow, Tally};

/// One runtime's headline figures (`runtimes[].figures` in `report.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// `must` + `should` + `de-facto` scenarios that apply: passed / applicable.
    pub conformance: Tally,
    /// `must` scenarios alone.
    pub must: Tally,
    /// `choice` scenarios: agreement with the reference's pick.
    pub choices: Tally,
    /// Results whose verdict is `not-applicable` (every strength).
    pub not_applicable: usize,
    pub known_failures: KnownFailures,
    /// Results with status `fail`, `unexpected-pass` or `error`.
    pub unexpected: usize,
}

/// The expected failures of conformance scenarios, and their root causes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownFailures {
    /// Conformance results with status `expected-fail`.
    pub scenarios: usize,
    /// Distinct causes among them: named causes, plus one per entry without a `cause`.
    pub causes: usize,
    /// Those whose expectation entry names no `cause`.
    pub without_cause: usize,
}

/// Computes one runtime's figures from the report's results.
pub fn figures(r: &Report, runtime: &str) -> Figures {
    let scenarios = r.scenario_index();
    let mut f = Figures::default();
    let mut causes: BTreeSet<&str> = BTreeSet::new();
    for row in r.results.iter().filter(|x| x.runtime == runtime) {
        if unexpected(row) {
            f.unexpected += 1;
        }
        if !row.applicable() {
            f.not_applicable += 1;
            continue;
        }
        let Some(strength) = scenarios.get(row.scenario.as_str()).and_then(|sc| sc.strength()) else { continue };
        let target = match strength {
            Strength::Must | Strength::Should | Strength::DeFacto => &mut f.conformance,
            Strength::Choice => &mut f.choices,
        };
        target.add(row.passed());
        if strength == Strength::Must {
            f.must.add(row.passed());
        }
        if strength.counts_for_conformance() && row.status() == Some(Status::ExpectedFail) {
            f.known_failures.scenarios += 1;
            match &row.cause {
                Some(c) => {
                    causes.insert(c);
                }
                None => f.known_failures.without_cause += 1,
            }
        }
    }
    f.known_failures.causes = causes.len() + f.known_failures.without_cause;
    f
}

/// Whether a result disagrees with the expectation file (a status this version does not
/// know counts too: it is not one that leaves `cargo test` green).
pub fn unexpected(row: &ResultRow) -> bool {
    row.status().is_none_or(Status::is_unexpected)
}

/// One runtime's known failures of conformance scenarios by cause: each named cause with
/// its scenarios (by cause name), and the scenarios whose entry names none.
pub fn by_cause<'a>(r: &'a Report, runtime: &str) -> (BTreeMap<&'a str, Vec<&'a str>>, Vec<&'a str>) {
    let scenarios = r.scenario_index();
    let mut named: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut without = Vec::new();
    for row in r.results.iter().filter(|x| x.runtime == runtime && x.status() == Some(Status::ExpectedFail)) {
        if !scenarios.get(row.scenario.as_str()).is_some_and(|sc| sc.counts_for_conformance()) {
            continue;
        }
        match &row.cause {
            Some(c) => named.entry(c.as_str()).or_default().push(&row.scenario),
            None => without.push(row.scenario.as_str()),
        }
    }
    (named, without)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::sample;

    #[test]
    fn figures_of_the_sample() {
        let r = sample();
        let reference = figures(&r, "reference");
        assert_eq!(reference.conformance, Tally { passed: 4, applicable: 4 });
        assert_eq!(reference.must, Tally { passed: 3, applicable: 3 });
        assert_eq!(reference.choices, Tally { passed: 1, applicable: 1 });
        assert_eq!((reference.not_applicable, reference.unexpected), (0, 0));
        let w = figures(&r, "wasmtime");
        // path_open/a passes; path_open/<b&c> is a known failure; fd_write/b crashed
        // (unexpected); fd_fdstat_set_rights/r does not apply; the choice differs.
        assert_eq!(w.conformance, Tally { passed: 1, applicable: 3 });
        assert_eq!(w.must, Tally { passed: 1, applicable: 3 });
        assert_eq!(w.choices, Tally { passed: 0, applicable: 1 });
        assert_eq!(w.not_applicable, 1);
        assert_eq!(w.unexpected, 1);
        assert_eq!(w.known_failures, KnownFailures { scenarios: 1, causes: 1, without_cause: 0 });
        assert_eq!(figures(&r, "node"), Figures::default());
    }

    #[test]
    fn causes_are_counted_once_and_entries_without_one_each() {
        let mut r = sample();
        // Two more known failures of wasmtime: one with the same cause, one without.
        for (id, cause) in [("fd_write/b", Some("no-rights-model")), ("path_open/a", None)] {
            let row = r.results.iter_mut().find(|x| x.runtime == "wasmtime" && x.scenario == id).unwrap();
            row.status = "expected-fail".into();
            row.verdict = "fail".into();
            row.cause = cause.map(str::to_owned);
        }
        let w = figures(&r, "wasmtime");
        assert_eq!(w.known_failures, KnownFailures { scenarios: 3, causes: 2, without_cause: 1 });
        assert_eq!(w.unexpected, 0);
        let (named, without) = by_cause(&r, "wasmtime");
        assert_eq!(named["no-rights-model"], ["path_open/<b&c>", "fd_write/b"]);
        assert_eq!(without, ["path_open/a"]);
        // The choice scenario's known difference is no conformance failure.
        let row = r.results.iter_mut().find(|x| x.runtime == "wasmtime" && x.scenario == "fd_read/c").unwrap();
        row.status = "expected-fail".into();
        row.cause = Some("short-reads".into());
        assert_eq!(figures(&r, "wasmtime").known_failures.causes, 2);
    }

    #[test]
    fn a_later_status_is_unexpected() {
        let mut row = sample().results[0].clone();
        assert!(!unexpected(&row));
        row.status = "something-new".into();
        assert!(unexpected(&row));
    }
}
