//! Known failures per runtime: `suite/expectations/<runtime>.toml`.
//!
//! ```toml
//! [[fail]]
//! scenario = "path_open/trailing-slash-on-file"
//! reason = "opens the file instead of failing with notdir"
//! link = "https://github.com/nodejs/uvwasi/issues/267"   # optional
//! cause = "trailing-slash-ignored"                      # the root cause, shared by entries
//! verdict = "timeout"                                   # optional: a known hang
//! ```
//!
//! A listed scenario that passes is an *unexpected pass* and fails the test run, as does a
//! listed scenario that does not exist: the files cannot go stale quietly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::verdict::Verdict;

/// One known failure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub scenario: String,
    pub reason: String,
    #[serde(default)]
    pub link: Option<String>,
    /// The root cause, as a short kebab-case name shared by every entry it explains
    /// (`no-rights-model`, `traps-on-undefined-flags`): the report counts causes, not only
    /// scenarios.
    #[serde(default)]
    pub cause: Option<String>,
    /// `verdict = "timeout"`: a known hang. The scenario runs with the short
    /// [`crate::case::KNOWN_HANG_BUDGET`] on this runtime instead of the full budget, and
    /// the run must still end in a timeout (another ending means the entry is stale). A
    /// listed failure that times out without it is reported, so that no known hang costs
    /// the full budget on every run.
    #[serde(default)]
    pub verdict: Option<KnownVerdict>,
}

/// The verdict an expectation entry may state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnownVerdict {
    /// The run hangs until the time budget ends.
    Timeout,
}

impl Entry {
    /// Whether the entry is a known hang (`verdict = "timeout"`).
    pub fn hangs(&self) -> bool {
        self.verdict == Some(KnownVerdict::Timeout)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    fail: Vec<Entry>,
}

/// The known failures of one runtime.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub entries: BTreeMap<String, Entry>,
    pub source: Option<PathBuf>,
}

/// An expectation file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error("{0}: `{1}` is listed twice")]
    Duplicate(PathBuf, String),
    #[error("{0}: `{1}` has an empty reason")]
    NoReason(PathBuf, String),
}

impl Expectations {
    /// Loads `<dir>/<runtime>.toml`; a missing file means "no known failures".
    pub fn load(dir: &Path, runtime: &str) -> Result<Self, ExpectationsError> {
        let path = dir.join(format!("{runtime}.toml"));
        if !path.exists() {
            return Ok(Expectations::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ExpectationsError::Io(path.clone(), e))?;
        let file: File = toml::from_str(&text).map_err(|e| ExpectationsError::Parse(path.clone(), e.to_string()))?;
        let mut entries = BTreeMap::new();
        for e in file.fail {
            if e.reason.trim().is_empty() {
                return Err(ExpectationsError::NoReason(path, e.scenario));
            }
            if entries.insert(e.scenario.clone(), e.clone()).is_some() {
                return Err(ExpectationsError::Duplicate(path, e.scenario));
            }
        }
        Ok(Expectations { entries, source: Some(path) })
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Entries that name no scenario of the suite.
    pub fn stale<'a>(&'a self, known: &'a std::collections::BTreeSet<String>) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.values().filter(move |e| !known.contains(&e.scenario))
    }
}

/// A verdict read against the expectation file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pass,
    Fail,
    ExpectedFail,
    UnexpectedPass,
    NotAvailable,
    /// The runtime lacks a capability the scenario requires (probed at run time).
    NotApplicable,
    /// The harness could not produce a verdict (the scenario would not compile, …).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::ExpectedFail => "expected-fail",
            Status::UnexpectedPass => "unexpected-pass",
            Status::NotAvailable => "not-available",
            Status::NotApplicable => "not-applicable",
            Status::Error => "error",
        }
    }

    /// Whether this status makes a test run fail.
    pub fn is_unexpected(self) -> bool {
        match self {
            Status::Fail | Status::UnexpectedPass | Status::Error => true,
            Status::Pass | Status::ExpectedFail | Status::NotAvailable | Status::NotApplicable => false,
        }
    }

    pub const ALL: [Status; 7] = [
        Status::Pass,
        Status::Fail,
        Status::ExpectedFail,
        Status::UnexpectedPass,
        Status::NotAvailable,
        Status::NotApplicable,
        Status::Error,
    ];
}

/// Classifies a verdict given the runtime's known failure (if any); a failure whose ending
/// contradicts the entry's `verdict` (a hang, or not) is `fail`. A scenario that does not
/// apply to the runtime is `not-applicable`; listing it as a known failure is stale, like a
/// pass would be.
pub fn classify(v: &Verdict, known: Option<&Entry>) -> Status {
    if v.is_not_applicable() {
        return match known {
            None => Status::NotApplicable,
            Some(_) => Status::UnexpectedPass,
        };
    }
    match (v.is_pass(), known) {
        (true, None) => Status::Pass,
        (true, Some(_)) => Status::UnexpectedPass,
        (false, None) => Status::Fail,
        // A known hang that ended otherwise, or a listed failure that hangs without saying
        // so: the entry is wrong, which fails the run like an unlisted failure.
        (false, Some(k)) if k.hangs() != matches!(v, Verdict::Timeout) => Status::Fail,
        (false, Some(_)) => Status::ExpectedFail,
    }
}
