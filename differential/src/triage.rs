//! Triage: divergences get a signature, duplicates are counted rather than re-reported, and
//! explained differences are recognised from `fuzz/known-divergences.toml`.
//!
//! A signature is `(function, expected class, observed class, runtimes)`: the runtimes
//! that differ *the same way* in one program are grouped, so "wasmtime and wasmi trap where
//! the reference says inval" is one signature.
//!
//! # `fuzz/known-divergences.toml`
//! ```toml
//! [[known]]
//! function = "clock_*"          # `*` matches any text
//! expected = "inval"
//! observed = "trap"
//! runtimes = ["wasmtime"]       # every runtime of a signature must be covered; ["*"] = any
//! reason = "Wasmtime 48 traps while decoding an invalid enum value"
//! link = "https://github.com/bytecodealliance/wasmtime/issues/7116"   # optional
//! scenario = "clock_res_get/unknown-clock-id-is-inval"                 # optional
//! ```
//! An entry with a `scenario` names the suite scenario that pins the behaviour down; the
//! runtimes' expectation files (`suite/expectations/<runtime>.toml`) must list it for each
//! of the entry's runtimes, which the crate's tests check, so the two lists cannot drift.
//! A canary change (a sandbox escape) is known only through an entry whose `observed`
//! names the change itself (it starts with `canaries changed`, not a bare `*`), whose
//! `scenario` reproduces it in the suite and whose runtimes are named one by one: an escape
//! is never explained away by a reason, only by a scenario that keeps failing on it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::oracle::{Divergence, Place};

/// What makes divergences "the same".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature {
    pub function: String,
    pub expected: String,
    pub observed: String,
    pub runtimes: Vec<String>,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, observed {} [{}]",
            self.function,
            self.expected,
            self.observed,
            self.runtimes.join(",")
        )
    }
}

impl Signature {
    /// Whether a canary change is part of it.
    pub fn is_escape(&self) -> bool {
        self.observed.starts_with(crate::oracle::ESCAPE)
    }
}

/// Groups one program's divergences into signatures (with the divergences behind each).
pub fn signatures(divergences: &[Divergence]) -> Vec<(Signature, Vec<Divergence>)> {
    let mut groups: BTreeMap<(String, String, String), Vec<Divergence>> = BTreeMap::new();
    for d in divergences {
        groups.entry((d.function.clone(), d.expected.clone(), d.observed.clone())).or_default().push(d.clone());
    }
    groups
        .into_iter()
        .map(|((function, expected, observed), ds)| {
            let mut runtimes: Vec<String> = ds.iter().map(|d| d.runtime.clone()).collect();
            runtimes.sort();
            runtimes.dedup();
            (Signature { function, expected, observed, runtimes }, ds)
        })
        .collect()
}

/// What a traceless run's divergence is attributed to when the reference called no
/// preview1 function at all.
pub const NO_CALL: &str = "(no call)";

/// The exit class of an ending as [`crate::normalise::EndClass::describe`] writes it:
/// `exit 0` is `exit-0`, 1 to 255 `exit-nonzero`, larger codes (which a POSIX host cannot
/// report, `proc_exit/code-256`) `exit-over-255`; `trap`, `timeout`, `crash` (and any other
/// text) stay as they are.
pub fn exit_class(end: &str) -> String {
    match end.strip_prefix("exit ").map(str::parse::<u64>) {
        Some(Ok(0)) => "exit-0".into(),
        Some(Ok(1..=255)) => "exit-nonzero".into(),
        Some(Ok(_)) => "exit-over-255".into(),
        Some(Err(_)) | None => end.to_owned(),
    }
}

/// Gives a divergence of a run without a trace (a wasm-smith module: function `-`) a
/// signature that names a behaviour rather than a number:
///
/// - the function is `last_called`, the last preview1 function the reference saw called
///   ([`NO_CALL`] when it called none), so the call that ended or last shaped the run;
/// - at the ending, exact exit codes become exit classes ([`exit_class`]), so that e.g.
///   `proc_raise` of any fatal signal (reference: exit 128 + signal; a runtime that returns
///   and exits 0) is one signature, not one per signal. When both sides fall in the same
///   class (exit 3 against exit 4) the exact codes are kept: that is the difference.
///
/// Divergences with a function already (runs with a trace) are left alone.
pub fn attribute_traceless(d: &mut Divergence, last_called: Option<&str>) {
    if d.function != "-" {
        return;
    }
    d.function = last_called.unwrap_or(NO_CALL).to_owned();
    if d.place == Place::Ending {
        let (expected, observed) = (exit_class(&d.expected), exit_class(&d.observed));
        if expected != observed {
            d.expected = expected;
            d.observed = observed;
        }
    }
}

/// One explained divergence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownEntry {
    pub function: String,
    pub expected: String,
    pub observed: String,
    pub runtimes: Vec<String>,
    pub reason: String,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub scenario: Option<String>,
}

impl KnownEntry {
    /// Whether this entry may explain a canary change: it names the change and the
    /// scenario that reproduces it.
    pub fn pins_escape(&self) -> bool {
        self.observed.starts_with(crate::oracle::ESCAPE) && self.scenario.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFile {
    #[serde(default)]
    known: Vec<KnownEntry>,
}

/// The known-divergence list.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub entries: Vec<KnownEntry>,
}

/// A known-divergence file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KnownError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: {1}")]
    Parse(String, String),
    #[error("{0}: an entry for {1} has an empty reason")]
    NoReason(String, String),
}

impl Known {
    /// Loads the list; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Known, KnownError> {
        if !path.exists() {
            return Ok(Known::default());
        }
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| KnownError::Io(shown.clone(), e))?;
        Known::parse(&text).map_err(|e| match e {
            KnownError::Parse(_, m) => KnownError::Parse(shown.clone(), m),
            KnownError::NoReason(_, f) => KnownError::NoReason(shown.clone(), f),
            other => other,
        })
    }

    /// Parses the TOML text of a list.
    pub fn parse(text: &str) -> Result<Known, KnownError> {
        let f: KnownFile = toml::from_str(text).map_err(|e| KnownError::Parse(String::new(), e.to_string()))?;
        if let Some(e) = f.known.iter().find(|e| e.reason.trim().is_empty()) {
            return Err(KnownError::NoReason(String::new(), e.function.clone()));
        }
        Ok(Known { entries: f.known })
    }

    /// The entry explaining one runtime's divergence, if any (for a canary change, only an
    /// entry that pins that escape with a scenario: see the module docs).
    pub fn explain_one(&self, d: &Divergence) -> Option<&KnownEntry> {
        let escape = d.place == Place::Canaries;
        self.entries.iter().find(|e| {
            (!escape || e.pins_escape())
                && glob(&e.function, &d.function)
                && glob(&e.expected, &d.expected)
                && glob(&e.observed, &d.observed)
                && e.runtimes.iter().any(|r| if escape { r == &d.runtime } else { glob(r, &d.runtime) })
        })
    }

    /// The reason a whole signature is known: every runtime in it is explained.
    pub fn explain(&self, _s: &Signature, ds: &[Divergence]) -> Option<String> {
        let reasons: Vec<&KnownEntry> = ds.iter().map(|d| self.explain_one(d)).collect::<Option<_>>()?;
        let mut text: Vec<String> = reasons.iter().map(|e| e.reason.clone()).collect();
        text.dedup();
        Some(text.join("; "))
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_prefixes_suffixes_and_everything() {
        assert!(glob("*", "anything"));
        assert!(glob("path_*", "path_open"));
        assert!(!glob("path_*", "fd_close"));
        assert!(glob("*differs", "read differs"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abde"));
        assert!(glob("exact", "exact"));
    }

    fn ending(expected: &str, observed: &str) -> Divergence {
        Divergence {
            runtime: "wasmtime".into(),
            place: Place::Ending,
            function: "-".into(),
            expected: expected.into(),
            observed: observed.into(),
            detail: String::new(),
        }
    }

    #[test]
    fn traceless_endings_are_classed_and_attributed_to_the_last_call() {
        // proc_raise of two different fatal signals: one signature, not one per exit code.
        let mut a = ending("exit 134", "exit 0");
        let mut b = ending("exit 143", "exit 0");
        attribute_traceless(&mut a, Some("proc_raise"));
        attribute_traceless(&mut b, Some("proc_raise"));
        assert_eq!(
            (a.function.as_str(), a.expected.as_str(), a.observed.as_str()),
            ("proc_raise", "exit-nonzero", "exit-0")
        );
        assert_eq!(signatures(&[a.clone()])[0].0, signatures(&[b])[0].0);
        // Same class on both sides: the exact codes are the difference and are kept.
        let mut c = ending("exit 3", "exit 4");
        attribute_traceless(&mut c, Some("proc_exit"));
        assert_eq!((c.expected.as_str(), c.observed.as_str()), ("exit 3", "exit 4"));
        let mut big = ending("exit 256", "exit 0");
        attribute_traceless(&mut big, Some("proc_exit"));
        assert_eq!((big.expected.as_str(), big.observed.as_str()), ("exit-over-255", "exit-0"));
        // Traps, timeouts and crashes keep their names; no call at all is named so.
        let mut t = ending("exit 0", "trap");
        attribute_traceless(&mut t, None);
        assert_eq!((t.function.as_str(), t.expected.as_str(), t.observed.as_str()), (NO_CALL, "exit-0", "trap"));
        // Other places keep their classes; a traced divergence is left alone.
        let mut s = Divergence { place: Place::Stdout, ..ending("stdout as reference", "stdout differs") };
        attribute_traceless(&mut s, Some("fd_write"));
        assert_eq!((s.function.as_str(), s.expected.as_str()), ("fd_write", "stdout as reference"));
        let mut traced = Divergence { function: "path_open".into(), ..ending("exit 1", "exit 0") };
        attribute_traceless(&mut traced, Some("fd_write"));
        assert_eq!((traced.function.as_str(), traced.expected.as_str()), ("path_open", "exit 1"));
    }

    #[test]
    fn a_canary_change_is_known_only_through_a_scenario_that_pins_it() {
        let escape = Divergence {
            runtime: "x".into(),
            place: Place::Canaries,
            function: "path_rename".into(),
            expected: "canaries intact".into(),
            observed: "canaries changed: root/outside/secret (modified)".into(),
            detail: String::new(),
        };
        let sigs = signatures(std::slice::from_ref(&escape));
        assert!(sigs[0].0.is_escape());
        let entry = |observed: &str, runtimes: &str, scenario: &str| {
            Known::parse(&format!(
                "[[known]]\nfunction = \"*\"\nexpected = \"*\"\nobserved = \"{observed}\"\nruntimes = [{runtimes}]\nreason = \"r\"\n{scenario}"
            ))
            .unwrap()
        };
        // A catch-all entry explains ordinary differences, never an escape.
        let all = entry("*", "\"*\"", "");
        assert!(all.explain_one(&escape).is_none());
        assert!(all.explain(&sigs[0].0, &sigs[0].1).is_none());
        let mut other = escape.clone();
        other.place = Place::Step(0);
        other.observed = "noent".into();
        assert!(all.explain_one(&other).is_some());
        // Not without a scenario, not through `*` runtimes, not for another change.
        let pinned = "scenario = \"path_rename/s\"\n";
        assert!(entry("canaries changed: *", "\"x\"", "").explain_one(&escape).is_none());
        assert!(entry("canaries changed: *", "\"*\"", pinned).explain_one(&escape).is_none());
        assert!(entry("canaries changed: guard (modified)", "\"x\"", pinned).explain_one(&escape).is_none());
        let known = entry("canaries changed: root/outside/secret (modified)", "\"x\"", pinned);
        assert!(known.explain(&sigs[0].0, &sigs[0].1).is_some());
    }
}
