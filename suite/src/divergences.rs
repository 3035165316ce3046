//! The divergence cases of `suite/divergences.toml` (a copy of the case ids, titles and
//! links of the research notes' divergences.md, A1…I3) and the citations of them in
//! scenarios' `spec` ("divergences.md A5", "(divergences.md A1, A2)"). Used by
//! `wasi-conform coverage` and the harness, so that the repository does not depend on the
//! notes at run time.

use std::path::Path;

/// One case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// `A1` … `I3`.
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub links: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    case: Vec<Case>,
}

/// Loads a case file.
pub fn load(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut seen = std::collections::BTreeSet::new();
    for c in &file.case {
        if !is_case_id(&c.id) {
            return Err(format!("{}: `{}` is not a case id (a letter A-I and a number)", path.display(), c.id));
        }
        if !seen.insert(c.id.clone()) {
            return Err(format!("{}: case `{}` is listed twice", path.display(), c.id));
        }
    }
    Ok(file.case)
}

/// The built-in `suite/divergences.toml`.
pub fn builtin() -> Result<Vec<Case>, String> {
    load(&crate::discover::suite_dir().join("divergences.toml"))
}

/// `A1` … `I99`.
pub fn is_case_id(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some('A'..='I')) && (2..=3).contains(&s.len()) && c.all(|d| d.is_ascii_digit())
}

/// The case ids a `spec` text cites: each `divergences.md` followed by one or more ids
/// separated by `,`, `/` or `and` (`divergences.md A1, A2`; `(divergences.md C5: …)`).
pub fn cited(spec: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, _) in spec.match_indices("divergences.md") {
        let rest = &spec[i + "divergences.md".len()..];
        let mut tokens = rest.split(|c: char| c.is_whitespace() || c == '/').filter(|t| !t.is_empty()).peekable();
        while let Some(tok) = tokens.next() {
            let id = tok.trim_end_matches([',', ';', ':', ')', '.']);
            if !is_case_id(id) {
                break;
            }
            if !out.iter().any(|o| o == id) {
                out.push(id.to_owned());
            }
            // Another id follows only after a separator.
            let continues = tok.ends_with(',') || tokens.peek().is_some_and(|t| *t == "and" || *t == "&");
            if !continues {
                break;
            }
            if tokens.peek().is_some_and(|t| *t == "and" || *t == "&") {
                tokens.next();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations() {
        assert_eq!(cited("x (divergences.md A1)"), ["A1"]);
        assert_eq!(cited("x (divergences.md A1, A2)"), ["A1", "A2"]);
        assert_eq!(cited("divergences.md C5: Windows"), ["C5"]);
        assert_eq!(cited("divergences.md A7 normalisation; divergences.md A7"), ["A7"]);
        assert_eq!(cited("divergences.md A3 and A4; then divergences.md B1 (x)"), ["A3", "A4", "B1"]);
        assert_eq!(cited("divergences.md E1, https://x"), ["E1"]);
        assert_eq!(cited("divergences.md section A"), Vec::<String>::new());
        assert_eq!(cited("divergences.md A10)"), ["A10"]);
    }

    #[test]
    fn the_builtin_file_lists_a1_to_i3() {
        let cases = builtin().unwrap();
        assert_eq!(cases.len(), 46);
        assert_eq!(cases.first().map(|c| c.id.as_str()), Some("A1"));
        assert_eq!(cases.last().map(|c| c.id.as_str()), Some("I3"));
    }
}
