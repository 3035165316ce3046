//! Generator 2 on the stable toolchain: the loop behind `wasi-conform fuzz --generator smith`.
//!
//! Module `i` of seed `s` is [`super::from_seed`]`(`[`module_seed`]`(s, i))`, a pure
//! function of `s` and `i`; runtimes run one after another and findings come out in
//! signature order, so a seed and an iteration count always give the same summary. Each
//! module runs through the same oracle as generator 1 ([`super::fuzz::run`]); its
//! divergences get traceless signatures and are counted, explained or reported like
//! generator 1's, in the same [`Summary`]. Modules are not minimised (a module is not a
//! scenario); a finding names the module (`smith-S-I`) that first showed it.

use super::{from_seed, fuzz, CallAid};
use crate::driver::{Budget, Progress, Summary, Tally};
use crate::normalise::EndClass;
use crate::oracle::Oracle;
use crate::triage::Known;

/// The wasm-smith seed of module `index` of run seed `seed` (SplitMix64 of both).
pub fn module_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(index);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The name of module `index` of seed `seed`, as findings show it.
pub fn module_name(seed: u64, index: u64) -> String {
    format!("smith-{seed}-{index}")
}

/// Runs modules `first..` of `seed` until `budget` is spent. With no runtime in the oracle
/// the reference alone runs each module (a throughput baseline).
pub fn run(
    oracle: &Oracle,
    known: &Known,
    seed: u64,
    first: u64,
    budget: Budget,
    mut progress: impl FnMut(&Progress),
) -> Summary {
    let mut tally = Tally::new(oracle);
    while let Some(i) = tally.next(budget) {
        let index = first + i;
        let Ok(m) = from_seed(module_seed(seed, index), CallAid::ShimsAndInjected) else { continue };
        let name = module_name(seed, index);
        let check = fuzz::run(oracle, &name, &m);
        if matches!(check.reference.end, EndClass::Crash(_)) {
            tally.summary.reference_failures += 1;
        }
        let (new, last) = tally.record(&check.divergences, &name, |sig, ds| {
            let explained = known.explain(sig, ds);
            let scenario = ds
                .iter()
                .filter_map(|d| known.explain_one(d))
                .find_map(|e| e.scenario.as_ref())
                .filter(|_| explained.is_some())
                .map(|id| format!("suite/scenarios/{id}.yaml"));
            (explained, scenario)
        });
        progress(&tally.progress(new, last.as_ref()));
    }
    tally.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_seeds_are_a_pure_function_of_seed_and_index() {
        assert_eq!(module_seed(1, 12), module_seed(1, 12));
        let seeds: std::collections::BTreeSet<u64> =
            (0..2).flat_map(|s| (0..100).map(move |i| module_seed(s, i))).collect();
        assert_eq!(seeds.len(), 200, "two run seeds share module seeds");
    }
}
