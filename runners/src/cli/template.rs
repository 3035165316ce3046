//! The command-line template language shared by the built-in command-line adapters
//! ([`crate::cli::wasmedge`], [`crate::cli::iwasm`]) and `runtimes.toml`
//! ([`crate::cli::configured`]): a [`Template`] is the words after the binary, with
//! placeholders for the module, the guest's arguments, one mount per preopen and one entry
//! per environment variable (syntax in [`Template`]'s docs).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// A value substituted inside one word of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `{module}`: the module's file name (the process runs in its directory).
    Module,
    /// `{host}`: a preopen's host directory (absolute).
    Host,
    /// `{guest}`: a preopen's guest name.
    Guest,
    /// `{key}`: an environment variable's name.
    Key,
    /// `{value}`: an environment variable's value.
    Value,
}

impl Slot {
    fn name(self) -> &'static str {
        match self {
            Slot::Module => "module",
            Slot::Host => "host",
            Slot::Guest => "guest",
            Slot::Key => "key",
            Slot::Value => "value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(Slot),
}

/// One word of a command line: text and [`Slot`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word(Vec<Piece>);

/// One element of a [`Template::command`]: a word, or a placeholder that expands to zero
/// or more words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Word(Word),
    /// `{mounts}`: [`Template::mount`] once per preopen.
    Mounts,
    /// `{envs}`: [`Template::env`] once per environment entry.
    Envs,
    /// `{args}`: the guest's arguments after `argv[0]`, one word each.
    Args,
}

/// A command line with placeholders.
///
/// Syntax, shared by the built-in adapters and `runtimes.toml`: each word is literal text
/// with `{name}` placeholders; `{{` and `}}` stand for literal braces. `command` holds
/// `{module}` (inside a word, e.g. `--module={module}` or alone) and each of the list
/// placeholders `{mounts}`, `{envs}` and `{args}` exactly once, each alone in its word.
/// `mount` is the word(s) repeated per preopen, with `{host}` and `{guest}`; `env` the
/// word(s) repeated per environment entry, with `{key}` and `{value}`. Any other
/// placeholder, an unmatched brace, or a placeholder used where it has no value is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub command: Vec<Element>,
    pub mount: Vec<Word>,
    pub env: Vec<Word>,
}

/// Where a template is wrong: which list (`command`, `mount`, `env`), which word, what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}{}: {message}", index.map(|i| format!("[{i}]")).unwrap_or_default())]
pub struct TemplateError {
    pub field: &'static str,
    /// Index of the word in its list; `None` for a problem of the whole list.
    pub index: Option<usize>,
    pub message: String,
}

/// What is wrong with one word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum WordError {
    #[error("unmatched `}}` (write `}}}}` for a literal brace)")]
    Unmatched,
    #[error("unclosed `{{` (write `{{{{` for a literal brace)")]
    Unclosed,
    #[error("{{{0}}} must be a whole element of `command`, alone")]
    NotAlone(String),
    #[error("unknown placeholder {{{0}}}")]
    Unknown(String),
    #[error("{{{name}}} cannot be used here (allowed: {allowed})")]
    NotHere { name: String, allowed: String },
}

impl Template {
    /// Parses the three lists (`command` without the binary).
    pub fn parse<S: AsRef<str>>(command: &[S], mount: &[S], env: &[S]) -> Result<Template, TemplateError> {
        let err = |field, index, message: String| TemplateError { field, index, message };
        let mut elements = Vec::new();
        let (mut modules, mut mounts, mut envs, mut args) = (0, 0, 0, 0);
        for (i, w) in command.iter().enumerate() {
            let w = w.as_ref();
            let element = match w {
                "{mounts}" => {
                    mounts += 1;
                    Element::Mounts
                }
                "{envs}" => {
                    envs += 1;
                    Element::Envs
                }
                "{args}" => {
                    args += 1;
                    Element::Args
                }
                _ => {
                    let word = parse_word(w, &[Slot::Module])
                        .map_err(|m| err("command", Some(i), format!("{m} (in {w:?})")))?;
                    modules += word.0.iter().filter(|p| **p == Piece::Slot(Slot::Module)).count();
                    Element::Word(word)
                }
            };
            elements.push(element);
        }
        for (name, count) in [("{module}", modules), ("{mounts}", mounts), ("{envs}", envs), ("{args}", args)] {
            if count != 1 {
                return Err(err("command", None, format!("must use {name} exactly once (it is used {count} times)")));
            }
        }
        let words = |field: &'static str, list: &[S], slots: &[Slot]| -> Result<Vec<Word>, TemplateError> {
            if list.is_empty() {
                return Err(err(field, None, "must have at least one word".into()));
            }
            let words = list
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    parse_word(w.as_ref(), slots).map_err(|m| err(field, Some(i), format!("{m} (in {:?})", w.as_ref())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for s in slots {
                if !words.iter().any(|w| w.0.contains(&Piece::Slot(*s))) {
                    return Err(err(field, None, format!("must use {{{}}}", s.name())));
                }
            }
            Ok(words)
        };
        Ok(Template {
            command: elements,
            mount: words("mount", mount, &[Slot::Host, Slot::Guest])?,
            env: words("env", env, &[Slot::Key, Slot::Value])?,
        })
    }

    /// The words after the binary for one run.
    pub fn expand(
        &self,
        module: &str,
        args: &[String],
        preopens: &[(String, PathBuf)],
        env: &[String],
    ) -> Vec<OsString> {
        let mut out = Vec::new();
        for e in &self.command {
            match e {
                Element::Word(w) => out.push(w.render(|s| (s == Slot::Module).then(|| OsStr::new(module)))),
                Element::Args => out.extend(args.iter().map(OsString::from)),
                Element::Mounts => {
                    for (guest, host) in preopens {
                        for w in &self.mount {
                            out.push(w.render(|s| match s {
                                Slot::Host => Some(host.as_os_str()),
                                Slot::Guest => Some(OsStr::new(guest.as_str())),
                                _ => None,
                            }));
                        }
                    }
                }
                Element::Envs => {
                    for entry in env {
                        let (k, v) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
                        for w in &self.env {
                            out.push(w.render(|s| match s {
                                Slot::Key => Some(OsStr::new(k)),
                                Slot::Value => Some(OsStr::new(v)),
                                _ => None,
                            }));
                        }
                    }
                }
            }
        }
        out
    }
}

impl Word {
    fn render<'a>(&self, value: impl Fn(Slot) -> Option<&'a OsStr>) -> OsString {
        let mut s = OsString::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => s.push(t),
                // Parsing admits only the slots the caller fills.
                Piece::Slot(slot) => s.push(value(*slot).unwrap_or_default()),
            }
        }
        s
    }
}

/// Parses one word, admitting only `allowed` slots.
fn parse_word(w: &str, allowed: &[Slot]) -> Result<Word, WordError> {
    const ALL: [Slot; 5] = [Slot::Module, Slot::Host, Slot::Guest, Slot::Key, Slot::Value];
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = w.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err(WordError::Unmatched),
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(WordError::Unclosed),
                    }
                }
                let slot = match ALL.iter().find(|s| s.name() == name) {
                    Some(s) => *s,
                    None if ["mounts", "envs", "args"].contains(&name.as_str()) => {
                        return Err(WordError::NotAlone(name))
                    }
                    None => return Err(WordError::Unknown(name)),
                };
                if !allowed.contains(&slot) {
                    let names: Vec<String> = allowed.iter().map(|s| format!("{{{}}}", s.name())).collect();
                    return Err(WordError::NotHere { name, allowed: names.join(", ") });
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Slot(slot));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Word(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(command: &[&str]) -> Result<Template, TemplateError> {
        Template::parse(command, &["--dir", "{guest}:{host}"], &["--env={key}={value}"])
    }

    #[test]
    fn a_template_expands_in_order() {
        let tpl = t(&["run", "{mounts}", "{envs}", "--", "{module}", "{args}"]).unwrap();
        let words = tpl.expand(
            "scenario.wasm",
            &["a".into(), "".into()],
            &[("/sandbox".into(), "/h/s".into()), ("/b".into(), "/h/b".into())],
            &["A=1".into(), "EQ=a=b".into(), "NOEQ".into()],
        );
        let words: Vec<&str> = words.iter().map(|w| w.to_str().unwrap()).collect();
        assert_eq!(
            words,
            [
                "run",
                "--dir",
                "/sandbox:/h/s",
                "--dir",
                "/b:/h/b",
                "--env=A=1",
                "--env=EQ=a=b",
                "--env=NOEQ=",
                "--",
                "scenario.wasm",
                "a",
                ""
            ]
        );
    }

    #[test]
    fn braces_escape_and_module_inside_a_word() {
        let tpl = t(&["--module={module}", "{{literal}}", "{mounts}", "{envs}", "{args}"]).unwrap();
        let words = tpl.expand("m.wasm", &[], &[], &[]);
        assert_eq!(words, [OsString::from("--module=m.wasm"), OsString::from("{literal}")]);
    }

    #[test]
    fn bad_templates_are_refused() {
        let msg = |c: &[&str]| t(c).unwrap_err().to_string();
        assert!(msg(&["{mounts}", "{envs}", "{args}"]).contains("{module} exactly once"));
        assert!(msg(&["{module}", "{module}", "{mounts}", "{envs}", "{args}"]).contains("2 times"));
        assert!(msg(&["{module}", "{mounts}", "{envs}", "{args}", "{modul}"]).contains("unknown placeholder {modul}"));
        assert!(msg(&["{module}", "-x{mounts}", "{envs}", "{args}"]).contains("alone"));
        assert!(msg(&["{module}", "{mounts}", "{envs}", "{args}", "{host}"]).contains("cannot be used here"));
        assert!(msg(&["{module", "{mounts}", "{envs}", "{args}"]).contains("unclosed"));
        assert!(msg(&["{module}}", "{mounts}", "{envs}", "{args}"]).starts_with("command[0]"));
        let e = Template::parse(&["{module}", "{mounts}", "{envs}", "{args}"], &["{host}"], &["{key}={value}"]);
        assert_eq!(e.unwrap_err().to_string(), "mount: must use {guest}");
    }

    #[test]
    fn word_errors_read_exactly() {
        let msg = |w: &str, allowed: &[Slot]| parse_word(w, allowed).unwrap_err().to_string();
        assert_eq!(msg("a}", &[]), "unmatched `}` (write `}}` for a literal brace)");
        assert_eq!(msg("{a", &[]), "unclosed `{` (write `{{` for a literal brace)");
        assert_eq!(msg("-{args}", &[]), "{args} must be a whole element of `command`, alone");
        assert_eq!(msg("{x}", &[]), "unknown placeholder {x}");
        assert_eq!(msg("{host}", &[Slot::Module, Slot::Key]), "{host} cannot be used here (allowed: {module}, {key})");
        let e = TemplateError { field: "env", index: Some(2), message: "m".into() };
        assert_eq!(
            (e.to_string(), TemplateError { index: None, ..e }.to_string()),
            ("env[2]: m".into(), "env: m".into())
        );
    }
}
