//! `cargo test`: every scenario on every runtime, one libtest-mimic trial each, named
//! `<runtime>/<function>/<scenario>` so that `cargo test -- path_open` or
//! `cargo test -- node/` select what you want.
//!
//! A trial passes when the runtime does what its expectation file says: a pass for an
//! unlisted scenario, a failure for a listed one. An unexpected failure *and* an unexpected
//! pass both fail. A runtime that is not installed gets its trials marked ignored, and the
//! harness says so on stderr — it is never dropped silently. Under `CI` a missing runtime
//! is an error (`suite/available/<runtime>`), except those `WASI_CONFORM_OPTIONAL_RUNTIMES`
//! names (`.ci/run` names WasmEdge and iwasm, which are on no registry).
//!
//! Suite-level trials: `suite/coverage` (every preview1 function has scenarios),
//! `suite/divergence-citations` (every `divergences.md <case>` a spec cites is in
//! `suite/divergences.toml`),
//! `suite/expectations/<runtime>` (no entry names a scenario that does not exist, every
//! entry names its root cause).
//! `BLESS=1 cargo test` rewrites the expectation files from the observed failures,
//! keeping existing reasons and marking new entries for a reason to be written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use wasi_conform_abi::FUNCTIONS;
use wasi_conform_runners::matrix::{run_case, CaseResult, Prepared};
use wasi_conform_runners::test_main::missing_under_ci;
use wasi_conform_runners::{capabilities, registry, Availability, Runtime};
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::{Expectations, Status};
use wasi_conform_suite::scenario::Capability;

/// Scenarios each function needs at least.
const MIN_PER_FUNCTION: usize = 3;

fn main() -> std::process::ExitCode {
    // Crash-isolated runtimes re-run this harness as their worker process.
    if let Some(code) = registry::serve_if_worker() {
        return code;
    }
    // See src/main.rs: no backtrace capture on every guest trap.
    // SAFETY: single-threaded at this point.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let args = Arguments::from_args();
    let scenarios = match discover::load_builtin() {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("error: {} scenario file(s) could not be loaded", errors.len());
            std::process::exit(101);
        }
    };
    let ids: BTreeSet<String> = scenarios.iter().map(|s| s.id.clone()).collect();
    let prepared: Arc<Vec<Prepared>> = Arc::new(scenarios.into_iter().map(Prepared::new).collect());
    let exp_dir = discover::suite_dir().join("expectations");
    let bless = std::env::var_os("BLESS").is_some();
    let observed: Arc<Mutex<Vec<CaseResult>>> = Arc::default();

    let mut trials = vec![coverage_trial(&prepared), citations_trial(&prepared)];
    {
        let file = exp_dir.join("reference.toml");
        trials.push(Trial::test("suite/expectations/reference-has-none", move || {
            if file.exists() {
                Err("the reference is the oracle: it must pass every scenario, so it has no expectation file".into())
            } else {
                Ok(())
            }
        }));
    }
    let runtimes: Vec<Arc<dyn Runtime>> = match registry::all() {
        Ok(all) => all.into_iter().map(Arc::from).collect(),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    for rt in &runtimes {
        let availability = rt.availability();
        if let Availability::NotAvailable(why) = &availability {
            eprintln!("note: runtime `{}` is not available here ({why}); its trials are marked ignored", rt.name());
            if let Some(error) = missing_under_ci(rt.name(), why) {
                trials.push(Trial::test(format!("suite/available/{}", rt.name()), move || Err(error.into())));
            }
        }
        let exp = match Expectations::load(&exp_dir, rt.name()) {
            Ok(e) => Arc::new(e),
            Err(e) => {
                let msg = e.to_string();
                trials.push(Trial::test(format!("suite/expectations/{}", rt.name()), move || Err(msg.into())));
                continue;
            }
        };
        {
            let exp = exp.clone();
            let ids = ids.clone();
            trials.push(Trial::test(format!("suite/expectations/{}", rt.name()), move || {
                let stale: Vec<String> = exp.stale(&ids).map(|e| e.scenario.clone()).collect();
                let todo: Vec<&str> = exp
                    .entries
                    .values()
                    .filter(|e| e.reason.starts_with("TODO"))
                    .map(|e| e.scenario.as_str())
                    .collect();
                let causeless: Vec<&str> =
                    exp.entries.values().filter(|e| e.cause.is_none()).map(|e| e.scenario.as_str()).collect();
                let mut problems = Vec::new();
                if !causeless.is_empty() {
                    problems.push(format!("entries without a `cause` (their root cause): {}", causeless.join(", ")));
                }
                if !stale.is_empty() {
                    problems.push(format!("entries for scenarios that do not exist: {}", stale.join(", ")));
                }
                if !todo.is_empty() {
                    problems.push(format!("entries still waiting for a reason: {}", todo.join(", ")));
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("\n").into())
                }
            }));
        }
        // Capabilities this runtime lacks: the trials of scenarios that require one are
        // labelled `[not-applicable]` (they still run, and must come out not-applicable).
        let lacking: Vec<Capability> = if availability == Availability::Available {
            Capability::ALL
                .into_iter()
                .filter(|c| match capabilities::missing(rt.as_ref(), *c) {
                    Some(why) => {
                        eprintln!("note: runtime `{}`: {why}; scenarios requiring it are not applicable", rt.name());
                        true
                    }
                    None => false,
                })
                .collect()
        } else {
            Vec::new()
        };
        for (i, p) in prepared.iter().enumerate() {
            let name = format!("{}/{}", rt.name(), p.scenario.id);
            let not_applicable = p.scenario.require.iter().any(|c| lacking.contains(c));
            let (rt, exp, prepared, observed) = (rt.clone(), exp.clone(), prepared.clone(), observed.clone());
            let available = availability == Availability::Available;
            let trial = Trial::test(name, move || {
                let r = run_case(rt.as_ref(), &prepared[i], &exp);
                let verdict = match r.status_enum {
                    Status::Pass | Status::ExpectedFail | Status::NotAvailable | Status::NotApplicable => Ok(()),
                    Status::Fail | Status::UnexpectedPass | Status::Error => Err(Failed::from(format!(
                        "{}: {}\n{}\nreproduce: {}",
                        r.status, r.verdict, r.message, r.reproduce
                    ))),
                };
                observed.lock().expect("observed lock").push(r);
                verdict
            })
            .with_ignored_flag(!available)
            .with_kind(if not_applicable { "not-applicable" } else { "" });
            trials.push(trial);
        }
    }

    let conclusion = libtest_mimic::run(&args, trials);
    if bless {
        let results = observed.lock().expect("observed lock");
        for rt in &runtimes {
            if let Err(e) = bless_file(&exp_dir, rt.name(), &results) {
                eprintln!("bless {}: {e}", rt.name());
            }
        }
    }
    conclusion.exit();
}

/// Fails while a preview1 function has fewer than [`MIN_PER_FUNCTION`] scenarios.
fn coverage_trial(prepared: &Arc<Vec<Prepared>>) -> Trial {
    let prepared = prepared.clone();
    Trial::test("suite/coverage", move || {
        let mut per: BTreeMap<&str, usize> = FUNCTIONS.iter().map(|f| (f.name, 0)).collect();
        for p in prepared.iter() {
            *per.entry(p.scenario.function.name).or_default() += 1;
        }
        let short: Vec<String> =
            per.iter().filter(|(_, n)| **n < MIN_PER_FUNCTION).map(|(f, n)| format!("{f} ({n})")).collect();
        let uncompiled: Vec<String> =
            prepared.iter().filter_map(|p| p.compiled.as_ref().err().map(|e| e.to_string())).collect();
        let mut problems = Vec::new();
        if !short.is_empty() {
            problems.push(format!("functions with fewer than {MIN_PER_FUNCTION} scenarios: {}", short.join(", ")));
        }
        if !uncompiled.is_empty() {
            problems.push(format!("scenarios that do not compile: {}", uncompiled.join("; ")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n").into())
        }
    })
}

/// Fails when a scenario's `spec` cites a divergence case (`divergences.md A5`) that
/// `suite/divergences.toml` does not list.
fn citations_trial(prepared: &Arc<Vec<Prepared>>) -> Trial {
    let prepared = prepared.clone();
    Trial::test("suite/divergence-citations", move || {
        use wasi_conform_suite::divergences;
        let cases = divergences::builtin()?;
        let known: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let unknown: Vec<String> = prepared
            .iter()
            .flat_map(|p| divergences::cited(&p.scenario.spec).into_iter().map(move |c| (p.scenario.id.clone(), c)))
            .filter(|(_, c)| !known.contains(c.as_str()))
            .map(|(id, c)| format!("{id} cites {c}"))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("cases not in suite/divergences.toml: {}", unknown.join(", ")).into())
        }
    })
}

/// Rewrites `<runtime>.toml` so that it lists exactly the scenarios that failed, keeping
/// the reasons already written.
fn bless_file(dir: &std::path::Path, runtime: &str, results: &[CaseResult]) -> Result<(), Box<dyn std::error::Error>> {
    let mine: Vec<&CaseResult> = results.iter().filter(|r| r.runtime == runtime).collect();
    if mine.is_empty() || mine.iter().all(|r| r.status_enum == Status::NotAvailable) {
        return Ok(());
    }
    let failed = mine.iter().any(|r| matches!(r.status_enum, Status::Fail | Status::ExpectedFail));
    if !failed && !dir.join(format!("{runtime}.toml")).exists() {
        // The reference (or a runtime that passes everything) has no file, and gets none.
        return Ok(());
    }
    let old = Expectations::load(dir, runtime)?;
    // Scenarios this run did not execute (a filtered run) keep their entries.
    let ran: BTreeSet<&str> = mine.iter().map(|r| r.scenario.as_str()).collect();
    // Reasons, causes and links are kept; `verdict = "timeout"` follows what this run saw.
    struct Kept {
        reason: String,
        cause: Option<String>,
        link: Option<String>,
        hangs: bool,
    }
    let keep = |e: &wasi_conform_suite::expectations::Entry, hangs: bool| Kept {
        reason: e.reason.clone(),
        cause: e.cause.clone(),
        link: e.link.clone(),
        hangs,
    };
    let mut entries: BTreeMap<String, Kept> = old
        .entries
        .values()
        .filter(|e| !ran.contains(e.scenario.as_str()))
        .map(|e| (e.scenario.clone(), keep(e, e.hangs())))
        .collect();
    for r in mine.iter().filter(|r| matches!(r.status_enum, Status::Fail | Status::ExpectedFail)) {
        let hangs = r.verdict == "timeout";
        let kept = old.get(&r.scenario).map(|e| keep(e, hangs)).unwrap_or_else(|| Kept {
            reason: format!("TODO: explain. Observed: {}", r.message.lines().next().unwrap_or("")),
            cause: None,
            link: None,
            hangs,
        });
        entries.insert(r.scenario.clone(), kept);
    }
    // The file's opening comments (what the runtime is, how the adapter drives it) are kept.
    let path = dir.join(format!("{runtime}.toml"));
    let old_text = std::fs::read_to_string(&path).unwrap_or_default();
    let header = old_text.split("[[fail]]").next().unwrap_or_default().trim_end();
    let mut out = if header.is_empty() {
        format!("# Known failures of {runtime}: one entry per scenario, each with its root cause and a reason.\n# `BLESS=1 cargo test` rewrites this file from observed failures and keeps reasons and causes.\n")
    } else {
        format!("{header}\n")
    };
    for (scenario, Kept { reason, cause, link, hangs }) in entries {
        out.push_str(&format!("\n[[fail]]\nscenario = {scenario:?}\n"));
        if let Some(c) = cause {
            out.push_str(&format!("cause = {c:?}\n"));
        }
        if hangs {
            out.push_str("verdict = \"timeout\"\n");
        }
        out.push_str(&format!("reason = {reason:?}\n"));
        if let Some(l) = link {
            out.push_str(&format!("link = {l:?}\n"));
        }
    }
    std::fs::write(path, out)?;
    Ok(())
}
