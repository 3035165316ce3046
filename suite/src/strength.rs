//! The strength model's rules (defined in `suite/README.yaml`), checked over a whole suite by
//! `suite/tests/strength.rs`:
//!
//! - `must`: `spec:` quotes, in double quotes, a sentence of the witx or witx-docs text
//!   verbatim (at least [`MIN_QUOTE_WORDS`] words; whitespace, backticks and the witx
//!   comment markers aside). The text is the vendored copy in `suite/spec/`.
//! - `should`: `spec:` names its basis: POSIX, Linux, the witx it defers from, or
//!   wasi-testsuite.
//! - `de-facto`: fewer than [`DE_FACTO_MAX_FAILING`] runtimes list the scenario as a known
//!   failure (otherwise runtimes do not agree in practice).
//! - `choice`: states the reference's pick (the loader requires `choice:`), and runtimes do
//!   disagree: at least one runtime lists it as a known failure.

use std::path::Path;

use crate::expectations::Expectations;
use crate::scenario::{Scenario, Strength};

/// Words a `must` quote needs at least, so that a quoted name (`"creat"`) is not a quote.
pub const MIN_QUOTE_WORDS: usize = 3;

/// A `de-facto` scenario failing on this many runtimes is not de-facto.
pub const DE_FACTO_MAX_FAILING: usize = 3;

/// Words that name a `should` scenario's basis (case-insensitive).
pub const SHOULD_BASES: &[&str] = &["posix", "linux", "witx", "wasi-testsuite", "man page", "(2)", "(3p)"];

/// The spec text `must` scenarios quote, normalised for matching.
#[derive(Debug, Clone)]
pub struct SpecText {
    normalised: String,
}

/// The files of `suite/spec/` that count as witx text.
pub const SPEC_FILES: &[&str] = &["wasi_snapshot_preview1.witx", "typenames.witx", "docs.md", "witx-docs.md"];

impl SpecText {
    /// Reads the vendored spec files from `dir` (`suite/spec`).
    pub fn load(dir: &Path) -> std::io::Result<SpecText> {
        let mut texts = Vec::new();
        for f in SPEC_FILES {
            texts.push(std::fs::read_to_string(dir.join(f))?);
        }
        Ok(SpecText::from_texts(texts.iter().map(String::as_str)))
    }

    /// Builds the corpus from texts (witx doc comments lose their `;;;` markers).
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> SpecText {
        let mut all = String::new();
        for t in texts {
            for line in t.lines() {
                let line = line.trim_start();
                let line = line.strip_prefix(";;;").or_else(|| line.strip_prefix(";;")).unwrap_or(line);
                all.push_str(line);
                all.push(' ');
            }
            all.push('\n');
        }
        SpecText { normalised: normalise(&all) }
    }

    /// Whether the (normalised) quote occurs in the text.
    pub fn contains(&self, quote: &str) -> bool {
        let q = normalise(quote);
        !q.is_empty() && self.normalised.contains(&q)
    }
}

/// Whitespace runs become one space; backticks go; surrounding space is trimmed.
fn normalise(s: &str) -> String {
    s.replace('`', "").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The double-quoted segments of a text (an unterminated quote is not one).
pub fn quotes(text: &str) -> Vec<&str> {
    let parts: Vec<&str> = text.split('"').collect();
    let closed = parts.len().saturating_sub(1);
    parts[..closed].iter().skip(1).step_by(2).copied().collect()
}

/// Checks one scenario against its strength's rule; `failing` are the runtimes whose
/// expectation files list it. `Err` says what is wrong.
pub fn check(s: &Scenario, spec: &SpecText, failing: &[&str]) -> Result<(), String> {
    match s.strength {
        Strength::Must => {
            let long: Vec<&str> =
                quotes(&s.spec).into_iter().filter(|q| q.split_whitespace().count() >= MIN_QUOTE_WORDS).collect();
            if long.iter().any(|q| spec.contains(q)) {
                Ok(())
            } else if long.is_empty() {
                Err(format!(
                    "`must` but `spec:` quotes no witx sentence (a double-quoted text of {MIN_QUOTE_WORDS}+ words \
                     found verbatim in suite/spec/)"
                ))
            } else {
                Err(format!(
                    "`must` but none of its quotes is witx text verbatim: {}",
                    long.iter().map(|q| format!("\"{q}\"")).collect::<Vec<_>>().join(", ")
                ))
            }
        }
        Strength::Should => {
            let lower = s.spec.to_lowercase();
            if SHOULD_BASES.iter().any(|b| lower.contains(b)) {
                Ok(())
            } else {
                Err(format!("`should` but `spec:` names no basis (one of: {})", SHOULD_BASES.join(", ")))
            }
        }
        Strength::DeFacto if failing.len() >= DE_FACTO_MAX_FAILING => Err(format!(
            "`de-facto` but {} runtimes fail it ({}): runtimes do not agree in practice",
            failing.len(),
            failing.join(", ")
        )),
        Strength::DeFacto => Ok(()),
        Strength::Choice if failing.is_empty() => {
            Err("`choice` but every runtime does what the reference does: that is `de-facto`".to_owned())
        }
        Strength::Choice => Ok(()),
    }
}

/// The runtimes (by expectation file) that list `id` as a known failure.
pub fn failing<'a>(id: &str, expectations: &'a [(String, Expectations)]) -> Vec<&'a str> {
    expectations.iter().filter(|(_, e)| e.get(id).is_some()).map(|(name, _)| name.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witx_comment_markers_and_backticks_do_not_matter() {
        let t = SpecText::from_texts([";;; Create file if it does not exist.\n  ;;; Fail if not a `directory`."]);
        assert!(t.contains("Create file if it does not exist."));
        assert!(t.contains("exist. Fail if not a directory"));
        assert!(t.contains("Fail if not a `directory`."));
        assert!(!t.contains("Create the file if it does not exist."));
        assert!(!t.contains(""));
    }

    #[test]
    fn quotes_are_the_double_quoted_segments() {
        assert_eq!(quotes(r#"witx: "a b c"; POSIX "d e" and "f"#), ["a b c", "d e"]);
        assert!(quotes("no quotes").is_empty());
    }
}
