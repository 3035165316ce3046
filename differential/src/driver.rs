//! The fuzzing loop shared by `wasi-conform fuzz`, the seeded smoke test and the cargo-fuzz
//! target: generate (seeded) → compile → oracle → triage → minimise new signatures → write
//! scenarios and `findings.json`.
//!
//! Deterministic for a seed: program `i` of seed `s` is always the same program
//! ([`crate::program::seeded`]), runtimes run one after the other, and findings are reported
//! in signature order, so the same seed and iteration count give the same summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasi_conform_suite::compile;
use wasi_conform_suite::scenario::Scenario;

use crate::as_data;
use crate::minimise;
use crate::oracle::{Divergence, Oracle, Plan};
use crate::program::{self, GenConfig};
use crate::triage::{signatures, Known, Signature};
use crate::write;

/// When the loop stops.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Iterations(u64),
    Time(Duration),
}

/// How generated programs reach the runtimes that can take either form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgramForm {
    /// One module per program, compiled by every runtime (the only form command-line
    /// runtimes take).
    Compiled,
    /// The program as data in the one interpreter module ([`crate::as_data`]) on every
    /// runtime that takes a preload; compiled elsewhere, and for the rare program the
    /// interpreter cannot run.
    #[default]
    Data,
}

/// A fuzzing run's settings.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    pub seed: u64,
    /// Index of the first program (to replay program `seed-S-I` alone: first = I, one iteration).
    pub first: u64,
    pub budget: Budget,
    pub gen: GenConfig,
    /// Oracle runs spent minimising each new signature (0: do not minimise).
    pub minimise_budget: usize,
    /// Where minimised scenarios are written (`<dir>/<function>/<name>.yaml`), if anywhere.
    pub scenarios_dir: Option<PathBuf>,
    /// Repository root, to make scenario paths repo-relative in findings.
    pub repo_root: PathBuf,
    /// How programs reach the runtimes.
    pub form: ProgramForm,
}

/// One distinct divergence.
#[derive(Debug, Clone)]
pub struct Finding {
    pub signature: Signature,
    pub count: u64,
    /// The first divergence seen, per runtime.
    pub example: Vec<Divergence>,
    /// Which program first showed it (`seed-S-I`).
    pub first_program: String,
    /// Why it is expected, when the known list explains it.
    pub known: Option<String>,
    /// The suite scenario or minimised scenario that reproduces it (repo-relative).
    pub scenario: Option<String>,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub programs: u64,
    pub elapsed: Duration,
    pub runtimes: Vec<String>,
    pub findings: Vec<Finding>,
    /// Programs the reference could not run (its own crash or unreadable trace).
    pub reference_failures: u64,
    /// Programs run as data ([`ProgramForm::Data`]) on the runtimes that take a preload.
    pub as_data: u64,
}

/// Progress after each program.
pub struct Progress<'a> {
    pub programs: u64,
    pub elapsed: Duration,
    pub distinct: usize,
    pub new: usize,
    pub last: Option<&'a Signature>,
}

/// Runs the loop.
pub fn run(oracle: &Oracle, known: &Known, cfg: &FuzzConfig, mut progress: impl FnMut(&Progress)) -> Summary {
    let mut tally = Tally::new(oracle);
    while let Some(i) = tally.next(cfg.budget) {
        let program = program::seeded(cfg.seed, cfg.first + i, &cfg.gen);
        let Ok(c) = compile::compile(&program) else { continue };
        let data = match cfg.form {
            ProgramForm::Data => as_data::prepare(&c).ok(),
            ProgramForm::Compiled => None,
        };
        tally.summary.as_data += u64::from(data.is_some());
        let check = oracle.check_as(&c.case, data.as_ref(), Some(Plan { scenario: &program, layout: &c.layout }), None);
        if check.reference.trace_error.is_some() || matches!(check.reference.end, crate::normalise::EndClass::Crash(_))
        {
            tally.summary.reference_failures += 1;
        }
        let (new, last) = tally.record(&check.divergences, &program.id, |sig, ds| {
            let explained = known.explain(sig, ds);
            let mut scenario = explained.as_ref().and_then(|_| known_scenario(known, ds));
            if explained.is_none() && cfg.minimise_budget > 0 {
                let small = minimise::minimise(oracle, &program, sig, cfg.minimise_budget);
                if let Some(dir) = &cfg.scenarios_dir {
                    scenario = write_finding(oracle, &small, sig, dir, &cfg.repo_root);
                }
            }
            (explained, scenario)
        });
        progress(&tally.progress(new, last.as_ref()));
    }
    tally.finish()
}

/// What both generators' loops keep: the iteration count against the budget, the distinct
/// findings so far (a signature seen again is counted, not re-reported), and the summary.
pub(crate) struct Tally {
    started: Instant,
    iterations: u64,
    found: BTreeMap<Signature, Finding>,
    pub(crate) summary: Summary,
}

impl Tally {
    pub(crate) fn new(oracle: &Oracle) -> Tally {
        Tally {
            started: Instant::now(),
            iterations: 0,
            found: BTreeMap::new(),
            summary: Summary {
                runtimes: oracle.runtimes().iter().map(|s| s.to_string()).collect(),
                ..Summary::default()
            },
        }
    }

    /// The index (from 0) of the next input, or `None` once `budget` is spent.
    pub(crate) fn next(&mut self, budget: Budget) -> Option<u64> {
        let spent = match budget {
            Budget::Iterations(n) => self.iterations >= n,
            Budget::Time(t) => self.started.elapsed() >= t,
        };
        if spent {
            return None;
        }
        self.iterations += 1;
        Some(self.iterations - 1)
    }

    /// Records one input's divergences (`input` names it in findings): a known signature is
    /// counted; a new one is described by `describe` — why it is expected, if it is, and the
    /// scenario that reproduces it. Returns how many were new and the last new signature.
    pub(crate) fn record(
        &mut self,
        divergences: &[Divergence],
        input: &str,
        mut describe: impl FnMut(&Signature, &[Divergence]) -> (Option<String>, Option<String>),
    ) -> (usize, Option<Signature>) {
        let (mut new, mut last) = (0, None);
        for (sig, ds) in signatures(divergences) {
            if let Some(f) = self.found.get_mut(&sig) {
                f.count += 1;
                continue;
            }
            new += 1;
            let (known, scenario) = describe(&sig, &ds);
            last = Some(sig.clone());
            let finding = Finding {
                signature: sig.clone(),
                count: 1,
                example: ds,
                first_program: input.to_owned(),
                known,
                scenario,
            };
            self.found.insert(sig, finding);
        }
        (new, last)
    }

    pub(crate) fn progress<'a>(&self, new: usize, last: Option<&'a Signature>) -> Progress<'a> {
        Progress { programs: self.iterations, elapsed: self.started.elapsed(), distinct: self.found.len(), new, last }
    }

    pub(crate) fn finish(mut self) -> Summary {
        self.summary.programs = self.iterations;
        self.summary.elapsed = self.started.elapsed();
        self.summary.findings = self.found.into_values().collect();
        self.summary
    }
}

/// The suite scenario a known entry names, as a repo-relative path.
fn known_scenario(known: &Known, ds: &[Divergence]) -> Option<String> {
    ds.iter()
        .filter_map(|d| known.explain_one(d))
        .find_map(|e| e.scenario.as_ref())
        .map(|id| format!("suite/scenarios/{id}.yaml"))
}

/// The scenario a minimised program becomes: expectations blessed from the reference.
pub fn finding_scenario(oracle: &Oracle, small: &Scenario, sig: &Signature) -> Option<Scenario> {
    let c = compile::compile(small).ok()?;
    let check = oracle.check(&c.case, Some(Plan { scenario: small, layout: &c.layout }), Some(&sig.runtimes));
    let (_, ds) = signatures(&check.divergences).into_iter().find(|(g, _)| g == sig)?;
    let function = wasi_conform_abi::function(&sig.function).unwrap_or(small.function);
    let mut s = write::bless(small, &check.reference, &ds[0]);
    // The fuzzer's short time limit is a fuzzing setting: a suite scenario has the default.
    s.budget = None;
    s.function = function;
    s.id = format!("{}/{}", function.name, finding_name(sig));
    s.summary = format!(
        "fuzz finding: {} where the reference gives {} ({} differ{})",
        sig.observed,
        sig.expected,
        sig.runtimes.join(", "),
        if sig.runtimes.len() == 1 { "s" } else { "" }
    );
    s.spec = "TODO: cite the witx text or divergences.md case before committing".into();
    Some(s)
}

/// `fuzz-<expected>-vs-<observed>`, slugified.
pub fn finding_name(sig: &Signature) -> String {
    let slug = |t: &str| {
        let s: String =
            t.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
    };
    let short = |t: &str| slug(t).chars().take(48).collect::<String>().trim_end_matches('-').to_owned();
    format!("fuzz-{}-vs-{}-{}", short(&sig.expected), short(&sig.observed), slug(&sig.runtimes.join("-")))
}

fn write_finding(oracle: &Oracle, small: &Scenario, sig: &Signature, dir: &Path, root: &Path) -> Option<String> {
    let s = finding_scenario(oracle, small, sig)?;
    let (func, name) = s.id.split_once('/')?;
    let path = dir.join(func).join(format!("{name}.yaml"));
    std::fs::create_dir_all(path.parent()?).ok()?;
    std::fs::write(&path, write::to_yaml(&s)).ok()?;
    let abs = std::fs::canonicalize(&path).ok()?;
    let root = std::fs::canonicalize(root).ok()?;
    Some(abs.strip_prefix(&root).map(|p| p.display().to_string()).unwrap_or_else(|_| abs.display().to_string()))
}

/// `findings.json`: `{"schema":"wasi-conform/findings/v1","findings":[…]}`.
pub fn findings_json(summary: &Summary) -> serde_json::Value {
    let findings: Vec<serde_json::Value> = summary
        .findings
        .iter()
        .map(|f| {
            let detail: Vec<String> =
                f.example.iter().map(|d| format!("{} at {}: {}", d.runtime, d.place.name(), d.detail)).collect();
            serde_json::json!({
                "signature": f.signature.to_string(),
                "function": f.signature.function,
                "runtimes": f.signature.runtimes,
                "expected": f.signature.expected,
                "observed": f.signature.observed,
                "count": f.count,
                "scenario": f.scenario,
                "explanation": match &f.known {
                    Some(reason) => reason.clone(),
                    None => format!("not yet explained; first seen in {}: {}", f.first_program, detail.join(" | ")),
                },
            })
        })
        .collect();
    serde_json::json!({ "schema": "wasi-conform/findings/v1", "findings": findings })
}

/// One program through the oracle, for a fuzz target: the signatures the known list does
/// not explain (a target panics on them, which is how libFuzzer records a finding).
pub fn unexplained(oracle: &Oracle, known: &Known, program: &Scenario) -> Vec<(Signature, Vec<Divergence>)> {
    let Ok(c) = compile::compile(program) else { return Vec::new() };
    let data = as_data::prepare(&c).ok();
    let check = oracle.check_as(&c.case, data.as_ref(), Some(Plan { scenario: program, layout: &c.layout }), None);
    signatures(&check.divergences).into_iter().filter(|(s, ds)| known.explain(s, ds).is_none()).collect()
}
