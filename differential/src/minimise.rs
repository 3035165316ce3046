//! Minimisation: shrink a program while the divergence it shows keeps its signature.
//!
//! Passes, repeated until nothing shrinks or the budget of oracle runs is spent: cut the
//! steps after the diverging one, drop runs of steps, halves first, down to single steps
//! (never a run whose binding a later step uses), drop fixture entries the same way, then
//! stdin and env, then simplify arguments (clear flag bits one
//! at a time, drop iovecs and path components). Each candidate is compiled and run on the
//! reference and the signature's runtimes only.

use std::ops::Range;

use wasi_conform_abi::ParamType;
use wasi_conform_suite::compile;
use wasi_conform_suite::scenario::*;

use crate::oracle::{Oracle, Place, Plan};
use crate::triage::{signatures, Signature};

/// Runs a candidate and says whether it still shows the signature.
pub fn reproduces(oracle: &Oracle, s: &Scenario, sig: &Signature) -> bool {
    let Ok(c) = compile::compile(s) else { return false };
    let check = oracle.check(&c.case, Some(Plan { scenario: s, layout: &c.layout }), Some(&sig.runtimes));
    signatures(&check.divergences).iter().any(|(g, _)| g == sig)
}

/// The step a divergence happens in, from a run of the program.
pub fn diverging_step(oracle: &Oracle, s: &Scenario, sig: &Signature) -> Option<usize> {
    let c = compile::compile(s).ok()?;
    let check = oracle.check(&c.case, Some(Plan { scenario: s, layout: &c.layout }), Some(&sig.runtimes));
    signatures(&check.divergences).into_iter().find(|(g, _)| g == sig).and_then(|(_, ds)| match ds[0].place {
        Place::Step(k) => Some(k),
        _ => None,
    })
}

/// Shrinks `program` while it reproduces `sig`, spending at most `budget` oracle runs.
pub fn minimise(oracle: &Oracle, program: &Scenario, sig: &Signature, budget: usize) -> Scenario {
    minimise_counting(oracle, program, sig, budget, &std::cell::Cell::new(0))
}

/// [`minimise`], adding the oracle runs it spends to `runs`.
pub fn minimise_counting(
    oracle: &Oracle,
    program: &Scenario,
    sig: &Signature,
    budget: usize,
    runs: &std::cell::Cell<usize>,
) -> Scenario {
    let mut best = program.clone();
    let mut spent = 0usize;
    let attempt = |cand: &Scenario, spent: &mut usize| -> bool {
        if *spent >= budget {
            return false;
        }
        *spent += 1;
        runs.set(runs.get() + 1);
        reproduces(oracle, cand, sig)
    };
    if let Some(k) = diverging_step(oracle, &best, sig) {
        let mut cand = best.clone();
        cand.steps.truncate(k + 1);
        if attempt(&cand, &mut spent) {
            best = cand;
        }
    }
    loop {
        let before = size(&best);
        // Steps: runs of steps, halves first, down to single ones (delta debugging); never a
        // run whose binding a later step uses, never the last step.
        shrink(
            &mut best,
            |s| s.steps.len(),
            |s, range| {
                if range.len() >= s.steps.len() || bindings_used_after(s, range.clone()) {
                    return None;
                }
                let mut cand = s.clone();
                cand.steps.drain(range);
                Some(cand)
            },
            &mut |c| attempt(c, &mut spent),
        );
        // Fixture entries, preopen by preopen, the same way.
        for p in 0..best.fixture.preopens.len() {
            shrink(
                &mut best,
                |s| s.fixture.preopens[p].tree.len(),
                |s, range| {
                    let mut cand = s.clone();
                    let tree = &mut cand.fixture.preopens[p].tree;
                    let gone: Vec<String> = tree.keys().skip(range.start).take(range.len()).cloned().collect();
                    for k in &gone {
                        tree.remove(k);
                    }
                    let files: Vec<String> =
                        tree.iter().filter(|(_, n)| matches!(n, Node::File(_))).map(|(k, _)| k.clone()).collect();
                    tree.retain(|_, n| !matches!(n, Node::Hardlink(t) if !files.contains(t)));
                    Some(cand)
                },
                &mut |c| attempt(c, &mut spent),
            );
        }
        if !best.fixture.stdin.is_empty() {
            let mut cand = best.clone();
            cand.fixture.stdin.clear();
            if attempt(&cand, &mut spent) {
                best = cand;
            }
        }
        if !best.fixture.env.is_empty() {
            let mut cand = best.clone();
            cand.fixture.env.clear();
            if attempt(&cand, &mut spent) {
                best = cand;
            }
        }
        // Arguments.
        for k in 0..best.steps.len() {
            for a in 0..best.steps[k].args.len() {
                for simpler in simpler_args(best.steps[k].function.params[a].ty, &best.steps[k].args[a]) {
                    let mut cand = best.clone();
                    cand.steps[k].args[a] = simpler;
                    crate::program::fix_counts(&mut cand.steps[k]);
                    if attempt(&cand, &mut spent) {
                        best = cand;
                        break;
                    }
                }
            }
        }
        if size(&best) >= before || spent >= budget {
            return best;
        }
    }
}

/// A rough size: steps, fixture entries, argument weight.
fn size(s: &Scenario) -> usize {
    let args: usize = s
        .steps
        .iter()
        .flat_map(|st| st.args.iter())
        .map(|a| match a {
            Arg::Scalar(Scalar::Value(v)) => v.count_ones() as usize,
            Arg::Str(Data::Bytes(b)) => b.len(),
            Arg::Ciovecs(v) => v.len() + v.iter().map(Vec::len).sum::<usize>(),
            Arg::Iovecs(v) => v.len(),
            Arg::Subscriptions(v) => v.len(),
            _ => 0,
        })
        .sum();
    1000 * s.steps.len()
        + 100 * s.fixture.preopens.iter().map(|p| p.tree.len()).sum::<usize>()
        + s.fixture.stdin.len()
        + s.fixture.env.len()
        + args
}

/// Delta debugging over a list of `len(best)` items: tries removing runs of items, the
/// largest first (half the list), then halves of those, down to single items; `remove`
/// builds the candidate without a run (or `None` when that run may not go), `attempt` says
/// whether it still reproduces.
fn shrink(
    best: &mut Scenario,
    len: impl Fn(&Scenario) -> usize,
    remove: impl Fn(&Scenario, Range<usize>) -> Option<Scenario>,
    attempt: &mut dyn FnMut(&Scenario) -> bool,
) {
    let mut run = (len(best) / 2).max(1);
    loop {
        let mut start = 0;
        while start < len(best) {
            let end = (start + run).min(len(best));
            match remove(best, start..end) {
                Some(cand) if attempt(&cand) => *best = cand,
                _ => start = end,
            }
        }
        if run == 1 {
            return;
        }
        run = (run / 2).max(1);
    }
}

/// Whether a step after `range` uses a binding a step inside it makes.
fn bindings_used_after(s: &Scenario, range: Range<usize>) -> bool {
    let names: Vec<&str> =
        s.steps[range.clone()].iter().flat_map(|st| st.bind.iter().map(|b| b.name.as_str())).collect();
    !names.is_empty()
        && s.steps[range.end..]
            .iter()
            .flat_map(|st| st.bindings_in_args().into_iter().chain(st.bindings_in_checks()))
            .any(|b| names.contains(&b.as_str()))
}

/// Simpler versions of an argument, simplest first.
fn simpler_args(ty: ParamType, a: &Arg) -> Vec<Arg> {
    let mut out = Vec::new();
    match (ty, a) {
        (ParamType::Flags(_), Arg::Scalar(Scalar::Value(v))) if *v != 0 => {
            out.push(Arg::Scalar(Scalar::Value(0)));
            for bit in 0..64 {
                if v & (1 << bit) != 0 && v.count_ones() > 1 {
                    out.push(Arg::Scalar(Scalar::Value(v & !(1 << bit))));
                }
            }
        }
        (_, Arg::Str(Data::Bytes(p))) => {
            let parts: Vec<&[u8]> = p.split(|b| *b == b'/').collect();
            if parts.len() > 1 {
                for i in 0..parts.len() {
                    let mut q = parts.clone();
                    q.remove(i);
                    out.push(Arg::Str(Data::Bytes(q.join(&b'/'))));
                }
            }
        }
        (_, Arg::Ciovecs(v)) if !v.is_empty() => {
            for i in 0..v.len() {
                let mut w = v.clone();
                w.remove(i);
                out.push(Arg::Ciovecs(w));
            }
        }
        (_, Arg::Iovecs(v)) if !v.is_empty() => {
            for i in 0..v.len() {
                let mut w = v.clone();
                w.remove(i);
                out.push(Arg::Iovecs(w));
            }
        }
        (_, Arg::Subscriptions(v)) if v.len() > 1 => {
            for i in 0..v.len() {
                let mut w = v.clone();
                w.remove(i);
                out.push(Arg::Subscriptions(w));
            }
        }
        _ => {}
    }
    out
}
