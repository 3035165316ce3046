//! The oracle: run one test case on the reference and on every selected runtime, normalise
//! (see [`crate::normalise`]) and say who differs from the reference, where and how.
//!
//! The reference is the judge. A [`Divergence`] names the runtime that differs, the first
//! place it differs (a step, the ending, an output stream, the final tree, the canaries),
//! what the reference did there (`expected`) and what the runtime did (`observed`). Only the
//! first difference per runtime is reported: later ones are usually its consequences.
//!
//! Any [`TestCase`] is accepted. With a [`Plan`] (the scenario it was compiled from and its
//! layout) steps are compared one by one; without one (`capture_len` 0, e.g. a wasm-smith
//! module) the ending, stdout/stderr, the final tree and the canaries are.

use std::sync::Mutex;
use wasi_conform_runners::registry::{self, RegistryError, REFERENCE};

use wasi_conform_runners::{execute, execute_reusing, Availability, Runtime, Spare};
use wasi_conform_suite::compile::Layout;
use wasi_conform_suite::describe::{self, show_bytes, tree_diff};
use wasi_conform_suite::outcome::Canaries;
use wasi_conform_suite::scenario::Scenario;

use crate::as_data::DataCase;
use crate::normalise::{self, describe_raw, EndClass, Observation, StepObs};
use wasi_conform_suite::case::TestCase;

/// The scenario a case was compiled from, and where its trace is.
#[derive(Clone, Copy)]
pub struct Plan<'a> {
    pub scenario: &'a Scenario,
    pub layout: &'a Layout,
}

/// Where a runtime first differs from the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Step index (0-based).
    Step(usize),
    Ending,
    Stdout,
    Stderr,
    Tree,
    /// Files outside the preopens changed: always a finding.
    Canaries,
}

impl Place {
    pub fn name(&self) -> String {
        match self {
            Place::Step(k) => format!("step {}", k + 1),
            Place::Ending => "ending".into(),
            Place::Stdout => "stdout".into(),
            Place::Stderr => "stderr".into(),
            Place::Tree => "final tree".into(),
            Place::Canaries => "canaries".into(),
        }
    }
}

/// One runtime's first difference from the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    pub runtime: String,
    pub place: Place,
    /// The preview1 function the difference is attributed to (`-` when there is none).
    pub function: String,
    /// The reference's behaviour class (`noent`, `success`, `trap`, `filestat.size`, …).
    pub expected: String,
    /// The runtime's behaviour class.
    pub observed: String,
    /// Values and context for a human.
    pub detail: String,
}

/// Why an oracle could not be built: the runtimes could not be chosen
/// ([`registry::select`]: an unknown name, or a refused `runtimes.toml`).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The reference and the runtimes it judges.
pub struct Oracle {
    reference: Box<dyn Runtime>,
    others: Vec<Box<dyn Runtime>>,
    /// Per runtime (the reference first), the sandbox kept from its last run
    /// ([`execute_reusing`]): a fuzzing loop resets one sandbox per runtime instead of making
    /// and removing one per run.
    spares: Vec<Mutex<Spare>>,
    /// Selected runtimes that are not available here, with why.
    pub unavailable: Vec<(String, String)>,
}

/// The result of one case on every runtime.
#[derive(Debug, Clone)]
pub struct Check {
    pub reference: Observation,
    pub observations: Vec<Observation>,
    pub divergences: Vec<Divergence>,
}

impl Oracle {
    /// The reference plus the named runtimes (all known runtimes when `names` is empty);
    /// runtimes not available here are listed in [`Oracle::unavailable`], never dropped
    /// silently.
    pub fn new(names: &[String]) -> Result<Oracle, OracleError> {
        let mut reference = None;
        let mut others = Vec::new();
        let mut unavailable = Vec::new();
        for rt in registry::select(names)? {
            if rt.name() == REFERENCE {
                reference = Some(rt);
                continue;
            }
            match rt.availability() {
                Availability::Available => others.push(rt),
                Availability::NotAvailable(why) => unavailable.push((rt.name().to_owned(), why)),
            }
        }
        let reference = reference.unwrap_or_else(reference_runtime);
        let spares = (0..=others.len()).map(|_| Mutex::default()).collect();
        Ok(Oracle { reference, others, spares, unavailable })
    }

    /// The reference alone, judging nobody: a throughput baseline for the generator, the
    /// compiler and the reference (`wasi-conform fuzz --runtime reference`).
    pub fn reference_only() -> Result<Oracle, OracleError> {
        // Chosen like any other runtime, so that a refused `runtimes.toml` is an error here too.
        let reference = registry::select(&[REFERENCE.to_owned()])?.pop().unwrap_or_else(reference_runtime);
        Ok(Oracle { reference, others: Vec::new(), spares: vec![Mutex::default()], unavailable: Vec::new() })
    }

    /// Names of the judged runtimes that take a preload, i.e. run programs as data.
    pub fn preloading(&self) -> Vec<&'static str> {
        self.others.iter().filter(|r| r.takes_preload()).map(|r| r.name()).collect()
    }

    /// Names of the judged runtimes (not the reference).
    pub fn runtimes(&self) -> Vec<&'static str> {
        self.others.iter().map(|r| r.name()).collect()
    }

    /// Runs a case on the reference and every runtime (or only those in `only`).
    pub fn check(&self, case: &TestCase, plan: Option<Plan>, only: Option<&[String]>) -> Check {
        self.check_as(case, None, plan, only)
    }

    /// [`Oracle::check`], with the program's data form ([`crate::as_data`]) for every
    /// runtime that takes a preload (the reference among them); the others run `case`.
    pub fn check_as(
        &self,
        case: &TestCase,
        data: Option<&DataCase>,
        plan: Option<Plan>,
        only: Option<&[String]>,
    ) -> Check {
        let as_plan = plan.map(|p| (p.scenario, p.layout));
        let execute = |k: usize, rt: &dyn Runtime| {
            let mut spare = self.spares[k].lock().unwrap_or_else(|p| p.into_inner());
            match data.filter(|_| rt.takes_preload()) {
                Some(d) => match d.case_for(rt.missing_imports()) {
                    Some(c) => execute_reusing(rt, &c, Some(&d.preload), &mut spare),
                    None => execute_reusing(rt, case, None, &mut spare),
                },
                None => execute_reusing(rt, case, None, &mut spare),
            }
        };
        let reference = normalise::observe("reference", &execute(0, self.reference.as_ref()), as_plan);
        let mut observations = Vec::new();
        let mut divergences = Vec::new();
        for (k, rt) in self.others.iter().enumerate() {
            if only.is_some_and(|o| !o.iter().any(|n| n == rt.name())) {
                continue;
            }
            let obs = normalise::observe(rt.name(), &execute(k + 1, rt.as_ref()), as_plan);
            if let Some(d) = diff(&reference, &obs, plan.map(|p| p.scenario)) {
                divergences.push(d);
            }
            observations.push(obs);
        }
        Check { reference, observations, divergences }
    }

    /// [`Oracle::reference`], with the program's data form when there is one.
    pub fn reference_as(&self, case: &TestCase, data: Option<&DataCase>, plan: Option<Plan>) -> Observation {
        let mut spare = self.spares[0].lock().unwrap_or_else(|p| p.into_inner());
        let outcome = match data {
            Some(d) => execute_reusing(self.reference.as_ref(), &d.case, Some(&d.preload), &mut spare),
            None => execute_reusing(self.reference.as_ref(), case, None, &mut spare),
        };
        normalise::observe("reference", &outcome, plan.map(|p| (p.scenario, p.layout)))
    }

    /// Runs a case on the reference alone.
    pub fn reference(&self, case: &TestCase, plan: Option<Plan>) -> Observation {
        normalise::observe("reference", &execute(self.reference.as_ref(), case), plan.map(|p| (p.scenario, p.layout)))
    }
}

/// The judge.
fn reference_runtime() -> Box<dyn Runtime> {
    registry::builtin(REFERENCE).expect("the reference is a built-in runtime")
}

/// How a divergence at the canaries begins its observed class; the rest names what changed
/// (`canaries changed: root/outside/secret (modified)`), so that two escapes that touch
/// different things outside the preopens are two signatures.
pub const ESCAPE: &str = "canaries changed";

/// The first difference of `got` from the reference's `want`, if any.
pub fn diff(want: &Observation, got: &Observation, scenario: Option<&Scenario>) -> Option<Divergence> {
    let mk = |place: Place, function: &str, expected: String, observed: String, detail: String| Divergence {
        runtime: got.runtime.clone(),
        place,
        function: function.to_owned(),
        expected,
        observed,
        detail,
    };
    let last_fn = last_function(want, scenario);
    if let Canaries::Changed(paths) = &got.canaries {
        return Some(mk(
            Place::Canaries,
            &last_fn,
            "canaries intact".into(),
            format!("{ESCAPE}: {}", paths.join(", ")),
            format!("changed outside the preopens: {}", paths.join(", ")),
        ));
    }
    if let EndClass::Crash(m) = &got.end {
        // A program's crash is one signature per crash site, whatever step it came after and
        // however the reference ended (see `crash_site`); a run without a trace keeps the
        // coarse `crash` that `triage::attribute_traceless` classifies.
        return Some(match scenario {
            Some(_) => mk(Place::Ending, "-", "no crash".into(), format!("crash ({})", crash_site(m)), m.clone()),
            None => mk(Place::Ending, &last_fn, want.end.describe(), "crash".into(), m.clone()),
        });
    }
    if let (Some(s), None) = (scenario, &got.trace_error) {
        for (k, (w, g)) in want.steps.iter().zip(&got.steps).enumerate() {
            let step = &s.steps[k];
            let f = step.function.name;
            let class = |o: &StepObs, end: &EndClass| match o {
                StepObs::NotStarted => "not reached".to_owned(),
                StepObs::Started => end.describe(),
                StepObs::Returned { raw, .. } => describe_raw(*raw),
            };
            match (w, g) {
                (StepObs::Returned { raw: a, outputs: oa }, StepObs::Returned { raw: b, outputs: ob }) => {
                    if a != b {
                        let rule = match (wasi_conform_abi::Errno::from_raw(*a), wasi_conform_abi::Errno::from_raw(*b))
                        {
                            (Some(x), Some(y)) => normalise::equivalent(step, x, y),
                            _ => None,
                        };
                        if rule.is_none() {
                            return Some(mk(Place::Step(k), f, describe_raw(*a), describe_raw(*b), call_line(step)));
                        }
                        continue;
                    }
                    for (name, va) in oa {
                        match ob.iter().find(|(n, _)| n == name) {
                            Some((_, vb)) if va.same(vb) => {}
                            found => {
                                let obs = found.map(|(_, v)| v.describe()).unwrap_or_else(|| "nothing".into());
                                return Some(mk(
                                    Place::Step(k),
                                    f,
                                    name.clone(),
                                    format!("{name} differs"),
                                    format!(
                                        "{}\n    {name}: reference {}, observed {obs}",
                                        call_line(step),
                                        va.describe()
                                    ),
                                ));
                            }
                        }
                    }
                }
                (w, g) if w == g => {
                    if matches!(w, StepObs::Started | StepObs::NotStarted) {
                        break;
                    }
                }
                (w, g) => {
                    return Some(mk(Place::Step(k), f, class(w, &want.end), class(g, &got.end), call_line(step)));
                }
            }
        }
    } else if let (Some(_), Some(e)) = (scenario, &got.trace_error) {
        if want.trace_error.is_none() {
            // How the run without a trace ended is part of the class: a hang and a crash
            // are two causes.
            let observed = format!("no trace ({})", got.end.describe());
            return Some(mk(Place::Ending, &last_fn, want.end.describe(), observed, e.clone()));
        }
    }
    if want.end != got.end {
        return Some(mk(
            Place::Ending,
            &last_fn,
            want.end.describe(),
            got.end.describe(),
            format!("reference {}, observed {}", want.end.describe(), got.end.describe()),
        ));
    }
    for (place, a, b) in [(Place::Stdout, &want.stdout, &got.stdout), (Place::Stderr, &want.stderr, &got.stderr)] {
        if a != b {
            let name = place.name();
            return Some(mk(
                place,
                &last_fn,
                format!("{name} as reference"),
                format!("{name} differs"),
                format!("reference {}, observed {}", show_bytes(a), show_bytes(b)),
            ));
        }
    }
    for (name, t) in &want.trees {
        let empty = Default::default();
        let d = tree_diff(t, got.trees.get(name).unwrap_or(&empty));
        if !d.is_empty() {
            return Some(mk(Place::Tree, &last_fn, "tree as reference".into(), "tree differs".into(), d.join("; ")));
        }
    }
    None
}

/// Where a runtime crashed, as a signature shows it: the runtime's message without what
/// varies between two crashes at the same place — the errno a panic message ends with
/// (`…too late to safely fail: Errno::noent` and `…: Errno::loop` are one site) and
/// anything after the first line.
pub fn crash_site(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    let line = match line.find(": Errno::") {
        Some(i) => &line[..i],
        None => line,
    };
    line.chars().take(160).collect()
}

/// The function a program-level difference is attributed to: the last step the reference
/// completed successfully (or `-` for a module without a plan).
fn last_function(want: &Observation, scenario: Option<&Scenario>) -> String {
    let Some(s) = scenario else { return "-".into() };
    let last_ok = want
        .steps
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, StepObs::Returned { raw: 0, .. }))
        .map(|(k, _)| k)
        .next_back()
        .or_else(|| s.steps.len().checked_sub(1));
    last_ok.map(|k| s.steps[k].function.name.to_owned()).unwrap_or_else(|| "-".into())
}

fn call_line(step: &wasi_conform_suite::scenario::Step) -> String {
    describe::describe_call(step, |_| None)
}
