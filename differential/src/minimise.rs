//! Minimisation: shrink a program while the divergence it shows keeps its signature.
//!
//! Passes, repeated until nothing shrinks or the budget of oracle runs is spent: cut the
//! steps after the diverging one, drop single steps (never one whose binding a later step
//! uses), drop fixture entries, stdin and env, then simplify arguments (clear flag bits one
//! at a time, drop iovecs and path components). Each candidate is compiled and run on the
//! reference and the signature's runtimes only.

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
    let mut best = program.clone();
    let mut spent = 0usize;
    let attempt = |cand: &Scenario, spent: &mut usize| -> bool {
        if *spent >= budget {
            return false;
        }
        *spent += 1;
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
        // Steps, last first.
        let mut i = best.steps.len();
        while i > 0 {
            i -= 1;
            if best.steps.len() == 1 || binding_used_later(&best, i) {
                continue;
            }
            let mut cand = best.clone();
            cand.steps.remove(i);
            if attempt(&cand, &mut spent) {
                best = cand;
            }
        }
        // Fixture entries.
        let paths: Vec<String> =
            best.fixture.preopens.first().map(|p| p.tree.keys().cloned().collect()).unwrap_or_default();
        for p in paths {
            let mut cand = best.clone();
            let tree = &mut cand.fixture.preopens[0].tree;
            tree.remove(&p);
            let files: Vec<String> =
                tree.iter().filter(|(_, n)| matches!(n, Node::File(_))).map(|(k, _)| k.clone()).collect();
            tree.retain(|_, n| !matches!(n, Node::Hardlink(t) if !files.contains(t)));
            if attempt(&cand, &mut spent) {
                best = cand;
            }
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

fn binding_used_later(s: &Scenario, i: usize) -> bool {
    let names: Vec<&str> = s.steps[i].bind.iter().map(|b| b.name.as_str()).collect();
    s.steps[i + 1..].iter().any(|st| {
        st.args.iter().any(|a| match a {
            Arg::Scalar(Scalar::Binding(b)) => names.contains(&b.as_str()),
            Arg::Subscriptions(subs) => subs.iter().any(|x| {
                matches!(&x.kind, SubscriptionKind::FdRead(Scalar::Binding(b)) | SubscriptionKind::FdWrite(Scalar::Binding(b)) if names.contains(&b.as_str()))
            }),
            _ => false,
        })
    })
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
