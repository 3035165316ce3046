//! `fuzz/known-divergences.toml` cannot drift from the suite: every entry parses, names
//! runtimes that exist, and an entry that points at a scenario names one that exists and
//! that every runtime of the entry lists as a known failure in
//! `suite/expectations/<runtime>.toml` (so the fuzzer's "known" and the suite's "expected
//! to fail" are the same fact, stated twice and checked once).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use wasi_conform_differential::triage::Known;
use wasi_conform_runners::all_runtimes;
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::Expectations;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate lives in the workspace").to_owned()
}

#[test]
fn every_known_entry_names_real_runtimes_and_listed_scenarios() {
    let known = Known::load(&repo_root().join("fuzz/known-divergences.toml")).expect("the known list parses");
    assert!(!known.entries.is_empty(), "the known list is empty");
    let runtimes: BTreeSet<String> = all_runtimes().iter().map(|r| r.name().to_owned()).collect();
    let scenarios: BTreeSet<String> = discover::load_dir(&discover::suite_dir().join("scenarios"))
        .unwrap_or_else(|e| panic!("the suite loads: {}", e.join("\n")))
        .into_iter()
        .map(|s| s.id)
        .collect();
    let exp_dir = discover::suite_dir().join("expectations");
    let mut problems = Vec::new();
    for e in &known.entries {
        let what = format!("[[known]] {} / {} / {}", e.function, e.expected, e.observed);
        for r in &e.runtimes {
            if r != "*" && (r == "reference" || !runtimes.contains(r)) {
                problems.push(format!("{what}: `{r}` is not a runtime the reference judges"));
            }
        }
        if e.link.is_none() && e.scenario.is_none() {
            problems.push(format!("{what}: needs a link or a scenario that backs the reason"));
        }
        let Some(id) = &e.scenario else { continue };
        if !scenarios.contains(id) {
            problems.push(format!("{what}: scenario `{id}` does not exist under suite/scenarios/"));
            continue;
        }
        if e.runtimes.iter().any(|r| r == "*") {
            problems.push(format!("{what}: an entry with a scenario must name its runtimes, not `*`"));
            continue;
        }
        for r in &e.runtimes {
            let exp = Expectations::load(&exp_dir, r).unwrap_or_else(|err| panic!("{err}"));
            if exp.get(id).is_none() {
                problems.push(format!("{what}: suite/expectations/{r}.toml has no [[fail]] for `{id}`"));
            }
        }
    }
    assert!(problems.is_empty(), "fuzz/known-divergences.toml:\n  {}", problems.join("\n  "));
}
