//! Sharding a seeded run over machines: `--shard K/N` runs the K-th of N contiguous ranges
//! of a seed's programs, so that N jobs (a CI matrix, any scheduler) together run exactly
//! the programs one job would, and [`merge`] joins their `findings.json` files by
//! signature.
//!
//! Program `i` of seed `s` is a pure function of `s` and `i` ([`crate::program::seeded`]),
//! so a range is all a shard needs: shard K of N over `--first F --iterations M` runs
//! programs `F + ⌊(K−1)·M/N⌋ .. F + ⌊K·M/N⌋`. Ranges rather than a stride keep each
//! shard's program names (`seed-S-I`) a contiguous block, and a finding's first program is
//! the same one the unsharded run names (the lowest index among the shards that saw it).

use std::collections::BTreeMap;

/// `K/N`: the K-th (from 1) of N shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

/// A `--shard` value that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a shard: expected K/N with 1 <= K <= N, e.g. 2/8")]
pub struct ShardError(pub String);

impl std::str::FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let err = || ShardError(s.to_owned());
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let (k, n): (u64, u64) = (k.trim().parse().map_err(|_| err())?, n.trim().parse().map_err(|_| err())?);
        if k == 0 || n == 0 || k > n {
            return Err(err());
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    /// This shard's programs of a run of `total` programs from `first`: (its first index,
    /// how many).
    pub fn range(&self, first: u64, total: u64) -> (u64, u64) {
        let at = |k: u64| ((k as u128 * total as u128) / self.n as u128) as u64;
        let (a, b) = (at(self.k - 1), at(self.k));
        (first + a, b - a)
    }
}

/// Why findings files could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{0}: not a findings file (no `findings` array)")]
    NotFindings(String),
    #[error("{0}: a finding without a `signature`")]
    NoSignature(String),
}

/// The index of the program a finding's explanation names (`first seen in fuzz/seed-1-42`).
fn first_index(f: &serde_json::Value) -> u64 {
    let text = f.get("explanation").and_then(|e| e.as_str()).unwrap_or("");
    text.split("seed-")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit() && c != '-').next())
        .and_then(|r| r.rsplit('-').next())
        .and_then(|i| i.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Merges `findings.json` documents (named, for errors) by (generator, signature): counts
/// are summed; the other fields come from the shard that saw the finding first (lowest
/// program index), so the merge of N shards reads like the unsharded run's file.
pub fn merge(files: &[(String, serde_json::Value)]) -> Result<serde_json::Value, MergeError> {
    let mut merged: BTreeMap<(String, String), serde_json::Value> = BTreeMap::new();
    for (name, doc) in files {
        let findings =
            doc.get("findings").and_then(|f| f.as_array()).ok_or_else(|| MergeError::NotFindings(name.clone()))?;
        for f in findings {
            let sig =
                f.get("signature").and_then(|s| s.as_str()).ok_or_else(|| MergeError::NoSignature(name.clone()))?;
            let generator = f.get("generator").and_then(|g| g.as_str()).unwrap_or("programs").to_owned();
            let count = f.get("count").and_then(|c| c.as_u64()).unwrap_or(0);
            match merged.get_mut(&(generator.clone(), sig.to_owned())) {
                None => {
                    merged.insert((generator, sig.to_owned()), f.clone());
                }
                Some(have) => {
                    let total = have.get("count").and_then(|c| c.as_u64()).unwrap_or(0) + count;
                    if first_index(f) < first_index(have) {
                        *have = f.clone();
                    }
                    have["count"] = total.into();
                }
            }
        }
    }
    Ok(serde_json::json!({
        "schema": "wasi-conform/findings/v1",
        "findings": merged.into_values().collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_a_run_exactly_once() {
        for (n, total) in [(1, 10), (3, 10), (8, 2000), (7, 3), (4, 0)] {
            let mut next = 5;
            for k in 1..=n {
                let (at, count) = Shard { k, n }.range(5, total);
                assert_eq!(at, next, "shard {k}/{n} of {total} starts where the previous ended");
                next = at + count;
            }
            assert_eq!(next, 5 + total);
        }
    }

    #[test]
    fn shard_syntax() {
        assert_eq!("2/8".parse(), Ok(Shard { k: 2, n: 8 }));
        for bad in ["0/8", "9/8", "2", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn merging_sums_counts_and_keeps_the_earliest_example() {
        let f = |sig: &str, count: u64, program: u64| {
            serde_json::json!({"signature": sig, "count": count, "generator": "programs",
                "explanation": format!("not yet explained; first seen in fuzz/seed-1-{program}: x")})
        };
        let a = serde_json::json!({"findings": [f("s1", 2, 40), f("s2", 1, 3)]});
        let b = serde_json::json!({"findings": [f("s1", 5, 7)]});
        let m = merge(&[("a".into(), a), ("b".into(), b)]).unwrap();
        let got = m["findings"].as_array().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["signature"], "s1");
        assert_eq!(got[0]["count"], 7);
        assert!(got[0]["explanation"].as_str().unwrap().contains("seed-1-7:"));
    }
}
