//! `wasi-conform diff`: one program, traced, on the reference and on every chosen runtime;
//! each runtime either agrees with the reference or is shown where it first departs (the
//! call, its decoded arguments, expected vs observed, the calls before it), with the
//! ending, stdout/stderr and final-tree differences.

use std::sync::Arc;

use wasi_conform_case::outcome::{Canaries, Ending, Outcome};
use wasi_conform_case::sandbox::changes;
use wasi_conform_runners::{execute, Availability, Runtime};

use crate::calls::{from_streams, Traced};
use crate::compare::{first_divergence, normalise, Divergence, Seen};
use crate::instrument::{instrument, InstrumentError};
use crate::program::{Program, ProgramError};

/// Why a diff could not run at all (a runtime that fails is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Instrument(#[from] InstrumentError),
    #[error(transparent)]
    Program(#[from] ProgramError),
}

/// How a runtime's run compares with the reference's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every call, the ending, the output and the final trees agree.
    Agrees,
    /// Something differs (see the other fields).
    Differs,
    /// The runtime crashed, refused the module or died.
    Crash,
    /// The run passed its budget.
    Timeout,
    /// Files outside the sandbox changed.
    Escape,
    /// The runtime is not installed.
    NotAvailable,
}

impl Verdict {
    /// The verdict as the JSON and the reports spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::Differs => "differs",
            Verdict::Crash => "crash",
            Verdict::Timeout => "timeout",
            Verdict::Escape => "escape",
            Verdict::NotAvailable => "not-available",
        }
    }
}

/// One runtime's run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeDiff {
    pub runtime: String,
    pub verdict: Verdict,
    /// `exit 0`, `trap (…)`, `timeout`, `runtime crash: …`, or why it was not run.
    pub ending: String,
    pub elapsed_ms: u128,
    /// Preview1 calls traced.
    pub calls: usize,
    /// The first call that differs from the reference's, if any.
    pub divergence: Option<Divergence>,
    /// (reference, runtime) when the endings differ.
    pub ending_differs: Option<(String, String)>,
    pub stdout_differs: bool,
    pub stderr_differs: bool,
    /// Paths of the final trees that differ: `<preopen>/<path> (…)`.
    pub tree_differences: Vec<String>,
    /// Paths changed outside the sandbox.
    pub escaped: Vec<String>,
    /// Frames that could not be decoded.
    pub malformed_frames: Vec<String>,
    #[serde(skip)]
    pub outcome: Option<(Outcome, Traced)>,
}

/// The whole diff.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiffReport {
    pub program: String,
    pub args: Vec<String>,
    /// The reference's run, which every other is compared with.
    pub reference: RuntimeDiff,
    pub runtimes: Vec<RuntimeDiff>,
}

/// A traced run on one runtime.
pub fn run_traced(rt: &dyn Runtime, program: &Program, module: &Arc<Vec<u8>>) -> Result<(Outcome, Traced), DiffError> {
    let case = program.case(module.clone())?;
    let outcome = execute(rt, &case);
    let traced = from_streams(&outcome.stdout, &outcome.stderr);
    Ok((outcome, traced))
}

impl RuntimeDiff {
    /// A run with nothing observed yet.
    fn empty(runtime: &str, verdict: Verdict, ending: String) -> RuntimeDiff {
        RuntimeDiff {
            runtime: runtime.to_owned(),
            verdict,
            ending,
            elapsed_ms: 0,
            calls: 0,
            divergence: None,
            ending_differs: None,
            stdout_differs: false,
            stderr_differs: false,
            tree_differences: Vec::new(),
            escaped: Vec::new(),
            malformed_frames: Vec::new(),
            outcome: None,
        }
    }
}

fn summary(rt: &str, outcome: Outcome, traced: Traced) -> RuntimeDiff {
    let ending = outcome.ending.to_string();
    let (verdict, escaped) = match (&outcome.canaries, &outcome.ending) {
        (Canaries::Changed(c), _) => (Verdict::Escape, c.clone()),
        (_, Ending::Crash(_)) => (Verdict::Crash, Vec::new()),
        (_, Ending::Timeout) => (Verdict::Timeout, Vec::new()),
        _ => (Verdict::Agrees, Vec::new()),
    };
    RuntimeDiff {
        elapsed_ms: outcome.elapsed.as_millis(),
        calls: traced.calls.len(),
        escaped,
        malformed_frames: traced.malformed.clone(),
        outcome: Some((outcome, traced)),
        ..RuntimeDiff::empty(rt, verdict, ending)
    }
}

/// Compares a runtime's run with the reference's and sets its verdict.
fn judge(d: &mut RuntimeDiff, reference: &RuntimeDiff, expected: &[Seen]) {
    let (Some((o, t)), Some((ro, rt))) = (&d.outcome, &reference.outcome) else { return };
    d.divergence = first_divergence(expected, &normalise(&t.calls));
    if o.ending != ro.ending {
        d.ending_differs = Some((ro.ending.to_string(), o.ending.to_string()));
    }
    d.stdout_differs = t.stdout != rt.stdout;
    d.stderr_differs = t.stderr != rt.stderr;
    for (name, tree) in &ro.trees {
        let empty = Default::default();
        let theirs = o.trees.get(name).unwrap_or(&empty);
        let diff = changes(tree, theirs, |_, _| "differs");
        d.tree_differences.extend(diff.into_iter().map(|p| format!("{name}/{p}")));
    }
    let differs = d.divergence.is_some()
        || d.ending_differs.is_some()
        || d.stdout_differs
        || d.stderr_differs
        || !d.tree_differences.is_empty();
    if d.verdict == Verdict::Agrees && differs {
        d.verdict = Verdict::Differs;
    }
}

/// The reference's run of a program, which every runtime's run is compared with.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub run: RuntimeDiff,
    expected: Vec<Seen>,
    module: Arc<Vec<u8>>,
}

/// Instruments the program and runs it on the reference.
pub fn baseline(program: &Program, reference: &dyn Runtime) -> Result<Baseline, DiffError> {
    let module = Arc::new(instrument(&program.wasm)?.wasm);
    let (o, t) = run_traced(reference, program, &module)?;
    let expected = normalise(&t.calls);
    Ok(Baseline { run: summary(reference.name(), o, t), expected, module })
}

/// Runs the program on `rt` and compares the run with the baseline.
pub fn against(base: &Baseline, program: &Program, rt: &dyn Runtime) -> Result<RuntimeDiff, DiffError> {
    if let Availability::NotAvailable(why) = rt.availability() {
        return Ok(RuntimeDiff::empty(rt.name(), Verdict::NotAvailable, why));
    }
    let (o, t) = run_traced(rt, program, &base.module)?;
    let mut d = summary(rt.name(), o, t);
    judge(&mut d, &base.run, &base.expected);
    Ok(d)
}

/// Runs the program, instrumented, on the reference and on `runtimes` (`jobs` at once),
/// and compares each with the reference.
pub fn diff(
    program: &Program,
    reference: &dyn Runtime,
    runtimes: &[Box<dyn Runtime>],
    jobs: usize,
) -> Result<DiffReport, DiffError> {
    let base = baseline(program, reference)?;
    let runs = wasi_conform_runners::matrix::par_map(runtimes, jobs, |rt| against(&base, program, rt.as_ref()));
    Ok(DiffReport {
        program: program.name.clone(),
        args: program.args.clone(),
        reference: base.run,
        runtimes: runs.into_iter().collect::<Result<_, _>>()?,
    })
}

impl DiffReport {
    /// The report as text, a block per runtime.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let r = &self.reference;
        s.push_str(&format!(
            "{} {}: reference {} after {} calls ({} ms)\n",
            self.program,
            self.args.join(" "),
            r.ending,
            r.calls,
            r.elapsed_ms
        ));
        for d in &self.runtimes {
            s.push_str(&format!(
                "\n{}: {:?} — {} after {} calls ({} ms)\n",
                d.runtime, d.verdict, d.ending, d.calls, d.elapsed_ms
            ));
            if let Some(v) = &d.divergence {
                s.push_str(&format!("  first diverging call: #{}\n", v.index + 1));
                for (k, c) in v.before.iter().enumerate() {
                    s.push_str(&format!("    #{:<5} {c}\n", v.index - v.before.len() + k + 1));
                }
                let show =
                    |c: &Option<Seen>| c.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "(no more calls)".into());
                s.push_str(&format!("  expected #{:<4} {}\n", v.index + 1, show(&v.expected)));
                s.push_str(&format!("  observed #{:<4} {}\n", v.index + 1, show(&v.observed)));
            }
            if let Some((e, o)) = &d.ending_differs {
                s.push_str(&format!("  ending: expected {e}, observed {o}\n"));
            }
            if d.stdout_differs {
                s.push_str("  stdout differs\n");
            }
            if d.stderr_differs {
                s.push_str("  stderr differs\n");
            }
            for p in d.tree_differences.iter().take(20) {
                s.push_str(&format!("  final tree: {p}\n"));
            }
            for p in &d.escaped {
                s.push_str(&format!("  ESCAPE: changed outside the sandbox: {p}\n"));
            }
            for m in &d.malformed_frames {
                s.push_str(&format!("  malformed trace frame: {m}\n"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict;

    #[test]
    fn verdict_names_are_the_json_spelling() {
        for v in [
            Verdict::Agrees,
            Verdict::Differs,
            Verdict::Crash,
            Verdict::Timeout,
            Verdict::Escape,
            Verdict::NotAvailable,
        ] {
            assert_eq!(serde_json::to_value(&v).unwrap(), v.name());
        }
    }
}
