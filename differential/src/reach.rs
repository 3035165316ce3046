//! How deep generated programs reach, judged on the reference (the oracle's truth, and
//! deterministic): the share of programs with a call that succeeds after step 3, the share
//! whose first three calls all succeed, and each function's success rate. A program that
//! fails at its first call tests one error path; one that keeps succeeding tests the state
//! its calls build up — what stateful generation ([`crate::program::GenConfig::stateful`])
//! is for.
//!
//! `wasi-conform fuzz --reach` prints it for a seed and generator configuration.

use wasi_conform_abi::FUNCTIONS;
use wasi_conform_suite::compile;

use crate::as_data;
use crate::normalise::StepObs;
use crate::oracle::{Oracle, Plan};
use crate::program::{self, GenConfig};

/// Reach over a run of programs.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    pub programs: u64,
    /// Programs with a successful call at step 4 or later.
    pub past_step_3: u64,
    /// Programs whose steps 1–3 all returned success (programs of fewer steps count when all
    /// their steps did).
    pub first_3_succeed: u64,
    /// Per function (table order): (calls made, calls that returned success).
    pub calls: Vec<(u64, u64)>,
}

impl Reach {
    /// Success rate of function `i` (of the table), if it was called.
    pub fn rate(&self, i: usize) -> Option<f64> {
        let (n, ok) = self.calls[i];
        (n > 0).then(|| ok as f64 / n as f64)
    }

    /// All calls: (made, succeeded).
    pub fn total(&self) -> (u64, u64) {
        self.calls.iter().fold((0, 0), |(a, b), (n, ok)| (a + n, b + ok))
    }
}

/// Runs programs `first..first + n` of `seed` on the reference alone and measures reach.
pub fn measure(oracle: &Oracle, seed: u64, first: u64, n: u64, cfg: &GenConfig) -> Reach {
    let mut r = Reach { calls: vec![(0, 0); FUNCTIONS.len()], ..Reach::default() };
    for i in first..first + n {
        let p = program::seeded(seed, i, cfg);
        let Ok(c) = compile::compile(&p) else { continue };
        let data = as_data::prepare(&c).ok();
        let obs = oracle.reference_as(&c.case, data.as_ref(), Some(Plan { scenario: &p, layout: &c.layout }));
        r.programs += 1;
        let mut later = false;
        let mut first3 = true;
        for (k, (step, o)) in p.steps.iter().zip(&obs.steps).enumerate() {
            let ok = matches!(o, StepObs::Returned { raw: 0, .. });
            if matches!(o, StepObs::Returned { .. }) {
                let slot = &mut r.calls[step.function.index];
                slot.0 += 1;
                slot.1 += u64::from(ok);
            }
            if k < 3 && !ok {
                first3 = false;
            }
            if k >= 3 && ok {
                later = true;
            }
        }
        r.past_step_3 += u64::from(later);
        r.first_3_succeed += u64::from(first3);
    }
    r
}
