//! The oracle's fairness rules, over every scenario of the built-in suite:
//! - every scenario's strength follows its rule ([`wasi_conform_suite::strength`]): a `must`
//!   quotes witx text verbatim, a `should` names its basis, a `de-facto` fails on fewer than
//!   three runtimes, a `choice` is one runtimes disagree on;
//! - `suite/wasi-testsuite.toml`: every multi-outcome assertion of the official
//!   wasi-testsuite's preview1 sources names existing scenario steps that make its call, and
//!   no covering step accepts less than wasi-testsuite does unless its scenario is `must`.

use std::collections::BTreeMap;

use serde::Deserialize;
use wasi_conform_abi::Errno;
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::Expectations;
use wasi_conform_suite::scenario::{Scenario, Strength};
use wasi_conform_suite::strength::{self, SpecText};

fn scenarios() -> BTreeMap<String, Scenario> {
    let all = discover::load_builtin().unwrap_or_else(|e| panic!("the suite does not load:\n{}", e.join("\n")));
    all.into_iter().map(|s| (s.id.clone(), s)).collect()
}

fn expectations() -> Vec<(String, Expectations)> {
    let dir = discover::suite_dir().join("expectations");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("suite/expectations") {
        let path = e.expect("a directory entry").path();
        if path.extension().is_some_and(|x| x == "toml") {
            let name = path.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 file name").to_owned();
            let exp = Expectations::load(&dir, &name).unwrap_or_else(|e| panic!("{e}"));
            out.push((name, exp));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_scenario_follows_its_strength_rule() {
    let spec = SpecText::load(&discover::suite_dir().join("spec")).expect("suite/spec/ is readable");
    let exp = expectations();
    assert!(exp.len() >= 8, "expected the expectation files of every runtime, found {}", exp.len());
    let mut problems = Vec::new();
    for s in scenarios().values() {
        let failing = strength::failing(&s.id, &exp);
        if let Err(why) = strength::check(s, &spec, &failing) {
            problems.push(format!("{} ({}): {why}", s.id, s.source.display()));
        }
    }
    assert!(problems.is_empty(), "{} scenario(s) break the strength rules:\n{}", problems.len(), problems.join("\n"));
}

/// `suite/wasi-testsuite.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    repository: String,
    commit: String,
    assertion: Vec<Assertion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Assertion {
    test: String,
    line: u32,
    call: String,
    what: String,
    accepts: Vec<String>,
    covered_by: Vec<String>,
    #[serde(default)]
    gap: Option<String>,
}

#[test]
fn wasi_testsuite_assertions_are_covered_and_never_narrowed() {
    let path = discover::suite_dir().join("wasi-testsuite.toml");
    let text = std::fs::read_to_string(&path).expect("suite/wasi-testsuite.toml");
    let table: Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(table.repository.contains("wasi-testsuite") && table.commit.len() == 40, "source and commit named");
    assert!(!table.assertion.is_empty());
    let all = scenarios();
    let mut problems = Vec::new();
    for a in &table.assertion {
        let at = format!("{}:{} ({})", a.test, a.line, a.what);
        if wasi_conform_abi::function(&a.call).is_none() {
            problems.push(format!("{at}: `{}` is not a preview1 function", a.call));
        }
        if a.covered_by.is_empty() {
            problems.push(format!("{at}: covered by no scenario ({})", a.gap.as_deref().unwrap_or("no gap stated")));
            continue;
        }
        for (k, c) in a.covered_by.iter().enumerate() {
            let Some((id, n)) = c.rsplit_once(':') else {
                problems.push(format!("{at}: `{c}` is not `<scenario id>:<step>`"));
                continue;
            };
            let Some(s) = all.get(id) else {
                problems.push(format!("{at}: no scenario `{id}`"));
                continue;
            };
            let own: Vec<_> = s.steps.iter().filter(|st| st.probe.is_none()).collect();
            let Some(step) = n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| own.get(i)) else {
                problems.push(format!("{at}: `{id}` has no step {n}"));
                continue;
            };
            if k == 0 && step.function.name != a.call {
                problems.push(format!("{at}: step {n} of `{id}` calls {}, not {}", step.function.name, a.call));
                continue;
            }
            if s.strength == Strength::Must {
                continue;
            }
            let Some(expect) = &step.expect.errno else {
                problems.push(format!("{at}: step {n} of `{id}` states no errno"));
                continue;
            };
            let narrower: Vec<&str> = a
                .accepts
                .iter()
                .map(String::as_str)
                .filter(|name| match *name {
                    "any-error" => !expect.allows_any_error(),
                    name => match Errno::from_name(name) {
                        Some(e) => !expect.allows(e),
                        None => true,
                    },
                })
                .collect();
            if !narrower.is_empty() {
                problems.push(format!(
                    "{at}: step {n} of `{id}` ({}) accepts {} but not {} — wasi-testsuite does; widen it or \
                     quote the witx text that decides it (`must`)",
                    s.strength.as_str(),
                    expect.describe(),
                    narrower.join(", ")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{} problem(s) in {}:\n{}", problems.len(), path.display(), problems.join("\n"));
}
