//! `fuzz/known-divergences.toml` cannot drift from the suite: every entry parses, names
//! runtimes that exist, and an entry that points at a scenario names one that exists and
//! that, for every runtime of the entry, either lists it as a known failure in
//! `suite/expectations/<runtime>.toml` (so the fuzzer's "known" and the suite's "expected
//! to fail" are the same fact, stated twice and checked once) or accepts both answers in
//! a step of the entry's function (a difference the spec allows, which the scenario says;
//! where the entry's answers are not errnos, the scenario must state some alternative: a
//! one-of set, several endings or trees, a required capability, or a `choice`). A runtime
//! that does not list the scenario passes it: the scenario harness checks that.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use wasi_conform_abi::Errno;
use wasi_conform_differential::triage::Known;
use wasi_conform_runners::registry;
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::Expectations;
use wasi_conform_suite::scenario::{End, ErrnoExpect, ExitExpect, Scenario, Strength, TreeExpect};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate lives in the workspace").to_owned()
}

#[test]
fn every_known_entry_names_real_runtimes_and_listed_scenarios() {
    let known = Known::load(&repo_root().join("fuzz/known-divergences.toml")).expect("the known list parses");
    assert!(!known.entries.is_empty(), "the known list is empty");
    let runtimes: BTreeSet<String> = registry::all().expect("runtimes").iter().map(|r| r.name().to_owned()).collect();
    let loaded: BTreeMap<String, Scenario> = discover::load_dir(&discover::suite_dir().join("scenarios"))
        .unwrap_or_else(|e| panic!("the suite loads: {}", e.join("\n")))
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let scenarios: BTreeSet<String> = loaded.keys().cloned().collect();
    let exp_dir = discover::suite_dir().join("expectations");
    let mut problems = Vec::new();
    for e in &known.entries {
        let what = format!("[[known]] {} / {} / {}", e.function, e.expected, e.observed);
        for r in &e.runtimes {
            if r != "*" && (r == "reference" || !runtimes.contains(r)) {
                problems.push(format!("{what}: `{r}` is not a runtime the reference judges"));
            }
        }
        if e.observed.starts_with(wasi_conform_differential::oracle::ESCAPE) && !e.pins_escape() {
            problems.push(format!(
                "{what}: a canary change is known only with `observed = \"canaries changed: …\"` and a scenario"
            ));
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
        // An escape is never an allowed difference: each runtime must keep failing the scenario.
        let allowed = !e.pins_escape() && allows_both(&loaded[id], e);
        for r in &e.runtimes {
            let exp = Expectations::load(&exp_dir, r).unwrap_or_else(|err| panic!("{err}"));
            if exp.get(id).is_none() && !allowed {
                problems.push(format!(
                    "{what}: suite/expectations/{r}.toml has no [[fail]] for `{id}`, and it does not accept both answers"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "fuzz/known-divergences.toml:\n  {}", problems.join("\n  "));
}

/// Whether the scenario says the entry's difference is allowed (see the module doc).
fn allows_both(s: &Scenario, e: &wasi_conform_differential::triage::KnownEntry) -> bool {
    let function = |st: &&wasi_conform_suite::scenario::Step| match e.function.strip_suffix('*') {
        Some(prefix) => st.function.name.starts_with(prefix),
        None => st.function.name == e.function,
    };
    match (Errno::from_name(&e.expected), Errno::from_name(&e.observed)) {
        (Some(x), Some(o)) => {
            !s.require.is_empty()
                || s.steps
                    .iter()
                    .filter(function)
                    .any(|st| st.expect.errno.as_ref().is_some_and(|a| a.allows(x) && a.allows(o)))
        }
        _ => {
            s.strength == Strength::Choice
                || !s.require.is_empty()
                || matches!(s.end, End::OneOf { .. } | End::Exit(ExitExpect::OneOf { .. }))
                || matches!(s.tree, Some(TreeExpect::OneOf { .. }))
                || s.steps.iter().filter(function).any(|st| matches!(st.expect.errno, Some(ErrnoExpect::OneOf { .. })))
        }
    }
}
