//! History: what changed between a previous report (`--baseline FILE`, a `report.json`)
//! and this one. Per runtime, the scenarios that passed before and do not now (newly
//! failing) and the reverse (newly passing); for the suite, the scenarios added and
//! removed. "Passing" is the verdict (the runtime did what the scenario says), not the
//! status against the expectation file, so editing an expectation file is no change; a
//! result that is `not-applicable` in either report is neither, so a scenario that starts
//! (or stops) applying to a runtime is no change either.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{BaselineDiff, Change, Report, ResultRow, RuntimeDiff};

/// Compares `now` with `before`.
pub fn diff(before: &Report, now: &Report) -> BaselineDiff {
    let ids = |r: &Report| r.scenarios.iter().map(|s| s.id.clone()).collect::<BTreeSet<_>>();
    let (old_ids, new_ids) = (ids(before), ids(now));
    let by_runtime = |r: &Report| {
        let mut m: BTreeMap<String, BTreeMap<String, ResultRow>> = BTreeMap::new();
        for row in &r.results {
            m.entry(row.runtime.clone()).or_default().insert(row.scenario.clone(), row.clone());
        }
        m
    };
    let (old, new) = (by_runtime(before), by_runtime(now));
    // Report order: this report's runtimes, then those only the baseline had.
    let mut names: Vec<String> = now.runtimes.iter().map(|r| r.name.clone()).collect();
    names.extend(before.runtimes.iter().map(|r| r.name.clone()).filter(|n| !now.runtimes.iter().any(|r| r.name == *n)));
    let empty = BTreeMap::new();
    let runtimes = names
        .into_iter()
        .filter_map(|name| {
            let (o, n) = (old.get(&name), new.get(&name));
            let presence = match (o, n) {
                (None, None) => return None,
                (None, Some(_)) => "new",
                (Some(_), None) => "gone",
                (Some(_), Some(_)) => "both",
            };
            let (o, n) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
            let mut newly_failing = Vec::new();
            let mut newly_passing = Vec::new();
            for (id, now_row) in n {
                let Some(old_row) = o.get(id).filter(|r| r.applicable() && now_row.applicable()) else { continue };
                let change =
                    || Change { scenario: id.clone(), before: old_row.status.clone(), now: now_row.status.clone() };
                match (old_row.passed(), now_row.passed()) {
                    (true, false) => newly_failing.push(change()),
                    (false, true) => newly_passing.push(change()),
                    (true, true) | (false, false) => {}
                }
            }
            Some(RuntimeDiff { runtime: name, presence: presence.to_owned(), newly_failing, newly_passing })
        })
        .collect();
    BaselineDiff {
        date_utc: before.meta.date_utc.clone(),
        project_version: before.meta.project_version.clone(),
        git_commit: before.meta.git_commit.clone(),
        scenarios_added: new_ids.difference(&old_ids).cloned().collect(),
        scenarios_removed: old_ids.difference(&new_ids).cloned().collect(),
        runtimes,
    }
}

impl BaselineDiff {
    /// Whether anything changed at all.
    pub fn is_empty(&self) -> bool {
        self.scenarios_added.is_empty()
            && self.scenarios_removed.is_empty()
            && self
                .runtimes
                .iter()
                .all(|r| r.presence == "both" && r.newly_failing.is_empty() && r.newly_passing.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::sample;

    #[test]
    fn flips_additions_and_removals() {
        let before = sample();
        let mut now = sample();
        // wasmtime: a pass becomes a failure, a failure becomes a pass.
        for r in now.results.iter_mut().filter(|r| r.runtime == "wasmtime") {
            let (status, verdict) = if r.passed() { ("fail", "fail") } else { ("unexpected-pass", "pass") };
            r.status = status.into();
            r.verdict = verdict.into();
        }
        // A scenario removed, one added.
        now.scenarios.retain(|s| s.id != "fd_write/b");
        now.results.retain(|r| r.scenario != "fd_write/b");
        let mut added = now.scenarios[0].clone();
        added.id = "path_open/new".into();
        now.scenarios.push(added);
        let d = diff(&before, &now);
        assert_eq!(d.scenarios_added, ["path_open/new"]);
        assert_eq!(d.scenarios_removed, ["fd_write/b"]);
        let wt = d.runtimes.iter().find(|r| r.runtime == "wasmtime").unwrap();
        assert_eq!(wt.newly_failing.iter().map(|c| c.scenario.as_str()).collect::<Vec<_>>(), ["path_open/a"]);
        assert_eq!(wt.newly_failing[0].before, "pass");
        assert_eq!(wt.newly_failing[0].now, "fail");
        // (fd_fdstat_set_rights/r was not applicable before: it is no newly passing scenario.)
        assert_eq!(
            wt.newly_passing.iter().map(|c| c.scenario.as_str()).collect::<Vec<_>>(),
            ["fd_read/c", "path_open/<b&c>"]
        );
        let reference = d.runtimes.iter().find(|r| r.runtime == "reference").unwrap();
        assert!(reference.newly_failing.is_empty() && reference.newly_passing.is_empty());
        assert!(!d.is_empty());
        assert!(diff(&before, &before).is_empty());
    }

    #[test]
    fn not_applicable_is_no_change() {
        let mut before = sample();
        // Passed before, not applicable now; and the reverse.
        for r in before.results.iter_mut().filter(|r| r.runtime == "wasmtime") {
            if r.scenario == "fd_fdstat_set_rights/r" {
                r.status = "pass".into();
                r.verdict = "pass".into();
            }
        }
        let d = diff(&before, &sample());
        let wt = d.runtimes.iter().find(|r| r.runtime == "wasmtime").unwrap();
        assert!(wt.newly_failing.is_empty() && wt.newly_passing.is_empty(), "{wt:?}");
        let d = diff(&sample(), &before);
        let wt = d.runtimes.iter().find(|r| r.runtime == "wasmtime").unwrap();
        assert!(wt.newly_failing.is_empty() && wt.newly_passing.is_empty(), "{wt:?}");
    }

    #[test]
    fn runtime_appearing_and_disappearing() {
        let before = sample();
        let mut now = sample();
        now.results.retain(|r| r.runtime != "wasmtime");
        let d = diff(&before, &now);
        let wt = d.runtimes.iter().find(|r| r.runtime == "wasmtime").unwrap();
        assert_eq!(wt.presence, "gone");
        let d = diff(&now, &before);
        assert_eq!(d.runtimes.iter().find(|r| r.runtime == "wasmtime").unwrap().presence, "new");
    }
}
