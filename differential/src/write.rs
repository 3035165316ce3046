//! Turning a finding into a scenario: [`bless`] fills a program's expectations with what the
//! reference did (so the reference passes it by construction). The scenario is written as
//! YAML by the suite's writer, `wasi_conform_suite::save` ([`Form::Explicit`]), which the
//! strict loader reads back to the same scenario.

use wasi_conform_abi::Errno;
use wasi_conform_suite::save::{self, Form};
use wasi_conform_suite::scenario::*;

use crate::normalise::{self, EndClass, Observation, Output, StepObs};
use crate::oracle::{Divergence, Place};

/// Which of the reference's outputs become expectations.
#[derive(Debug, Clone, Copy)]
pub enum Checks<'a> {
    /// The output, stream or tree one divergence is about, and nothing else: the scenario
    /// is about one behaviour (a finding).
    Focus(&'a Divergence),
    /// Every output the oracle compares (see [`crate::normalise`]), stdout, stderr and the
    /// final trees: a recorded run checked as a whole. A directory listing that holds `.`
    /// or `..` is not checked (listing them is optional, divergences.md C1, and the
    /// `entries` view is an exact set), nor a preopen's name (compared without its leading
    /// `/`, which the `name` view cannot express).
    Every,
}

/// The program with expectations taken from the reference's observation. Every step's errno
/// is checked (an allowed set where an equivalence rule applies); the output, stream or tree
/// the divergence is about is checked too, and nothing else, so the scenario is about one
/// behaviour. Steps after the one the reference ended in are dropped.
pub fn bless(program: &Scenario, reference: &Observation, focus: &Divergence) -> Scenario {
    bless_with(program, reference, Checks::Focus(focus))
}

/// [`bless`], checking what `checks` says.
pub fn bless_with(program: &Scenario, reference: &Observation, checks: Checks) -> Scenario {
    let mut s = program.clone();
    let mut steps = Vec::new();
    for (k, (step, obs)) in program.steps.iter().zip(&reference.steps).enumerate() {
        let mut step = step.clone();
        step.expect = StepExpect::default();
        match obs {
            StepObs::NotStarted => break,
            StepObs::Started => {
                steps.push(step);
                break;
            }
            StepObs::Returned { raw, outputs } => {
                let e = Errno::from_raw(*raw).unwrap_or(Errno::Inval);
                let rule = normalise::ERRNO_RULES
                    .iter()
                    .find(|r| normalise::situations(&step).contains(&r.when) && r.set.contains(&e));
                step.expect.errno = Some(match rule {
                    Some(r) => ErrnoExpect::OneOf {
                        set: r.set.to_vec(),
                        trap: false,
                        any_error: false,
                        because: r.reason.to_owned(),
                    },
                    None => ErrnoExpect::One(e),
                });
                match checks {
                    Checks::Focus(focus) if focus.place == Place::Step(k) && *raw == 0 => {
                        if let Some((name, out)) = outputs.iter().find(|(n, _)| *n == focus.expected) {
                            add_check(&mut step, name, out);
                        }
                    }
                    Checks::Focus(_) => {}
                    Checks::Every => {
                        for (name, out) in outputs {
                            let dots = matches!(out, Output::Entries(m)
                                if m.contains_key(b".".as_slice()) || m.contains_key(b"..".as_slice()));
                            if !dots {
                                add_check(&mut step, name, out);
                            }
                        }
                    }
                }
            }
        }
        steps.push(step);
    }
    s.steps = steps;
    s.end = match &reference.end {
        EndClass::Trap => End::Trap,
        EndClass::Exit(c) => End::Exit(ExitExpect::One(*c)),
        EndClass::Timeout | EndClass::Crash(_) => End::default(),
    };
    let place = |p: Place| match checks {
        Checks::Focus(focus) => focus.place == p,
        Checks::Every => true,
    };
    s.stdout = place(Place::Stdout).then(|| reference.stdout.clone());
    s.stderr = place(Place::Stderr).then(|| reference.stderr.clone());
    s.tree = place(Place::Tree).then(|| TreeExpect::One(reference.trees.clone()));
    s
}

fn add_check(step: &mut Step, name: &str, out: &Output) {
    // The oracle compares a preopen's name without its leading `/` (a harness artefact);
    // the exact `name` view cannot say that.
    if step.function.name == "fd_prestat_dir_name" {
        return;
    }
    let (head, field) = match name.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (name, None),
    };
    let value = match out {
        Output::Int(v) | Output::Enum(_, v) | Output::Flags(_, v) => Some(ValueCheck::Exact(*v)),
        _ => None,
    };
    if step.function.results.iter().any(|r| r.name == head) {
        let Some(v) = value else { return };
        let existing = step.expect.results.iter_mut().find(|(n, _)| n == head);
        match (field, existing) {
            // Fields of one record result are one check.
            (Some(f), Some((_, ValueCheck::Fields(fields)))) => fields.push((f.to_owned(), v)),
            (Some(f), _) => step.expect.results.push((head.to_owned(), ValueCheck::Fields(vec![(f.to_owned(), v)]))),
            (None, _) => step.expect.results.push((head.to_owned(), v)),
        }
        return;
    }
    let view = match out {
        Output::Bytes(b) => ViewCheck::Bytes(b.clone()),
        Output::Strings(v) => ViewCheck::Strings(v.clone()),
        Output::Entries(m) => ViewCheck::Entries(m.clone()),
        Output::Events(m) => ViewCheck::Events(
            m.iter().map(|(u, (e, t))| (*u, (Errno::from_raw(*e).unwrap_or(Errno::Inval), *t))).collect(),
        ),
        Output::Int(_) | Output::Enum(..) | Output::Flags(..) => return,
    };
    step.expect.views.push((name.to_owned(), view));
}

/// The finding's scenario as YAML, every field spelled out.
pub fn to_yaml(s: &Scenario) -> String {
    save::to_yaml(s, Form::Explicit)
}
