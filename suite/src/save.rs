//! The YAML writer: a [`Scenario`] → text that the strict loader ([`crate::load`]) reads
//! back to the same scenario. Every generated scenario is written here: the fuzzer's
//! findings (`differential/src/write.rs`) and the capability-denial matrix
//! ([`crate::denial`]).
//!
//! Two forms ([`Form`]): [`Form::Explicit`] spells out every field and argument, one flow
//! map per step, every string quoted; [`Form::Readable`] lays a scenario out as a person
//! writes one: arguments one per line, only those the scenario gives
//! ([`Step::defaulted`]), what the loader fills in by default left out, names and paths
//! plain where that reads as the same string.
//!
//! Strings are written double-quoted with YAML escapes ([`quote`]); bytes that are not
//! UTF-8 as `{hex: …}`; flags as lists of witx names (an integer when undefined bits are
//! set); enums by name when the value is defined.

use std::fmt::Write as _;

use wasi_conform_abi::types::{self, EnumType, FlagsType};
use wasi_conform_abi::{ParamType, ResultType};

use crate::load::DEFAULT_ARGV0;
use crate::records::{self, FieldType};
use crate::scenario::*;

/// How a scenario is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Everything spelled out: every fixture field, every argument, the ending; a step is
    /// one line (`- fd_close: {fd: "$f"}`); every string quoted. Nothing depends on the
    /// loader's defaults (the fuzzer's findings).
    Explicit,
    /// As a person writes it: a step's arguments one per line, only those it gives; the
    /// default argv, an empty environment or tree and `end: {exit: 0}` left out; names,
    /// paths and `$bindings` plain where YAML reads them as the same string; an `expect`
    /// with a reason (`one-of`) as a block (the denial matrix).
    Readable,
}

/// The scenario as YAML the loader accepts: loading the text gives `s` again.
pub fn to_yaml(s: &Scenario, form: Form) -> String {
    Writer { form }.scenario(s)
}

/// A YAML double-quoted string: `"`, `\` and every character YAML does not allow raw
/// escaped (the C0 controls, DEL, the C1 controls but NEL, U+FFFE and U+FFFF: outside YAML's
/// printable set, the loader refuses them).
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (('\u{80}'..='\u{9f}').contains(&c) && c != '\u{85}') || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A name or path as a plain YAML scalar when YAML reads it as the same string (no
/// indicator, number, boolean or null), else [`quote`]d.
pub fn plain_or_quoted(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let keyword =
        matches!(lower.as_str(), "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | ".inf" | ".nan");
    let numeric_dot = s.starts_with('.') && s[1..].starts_with(|c: char| c.is_ascii_digit());
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '.' || c == '/')
        && !keyword
        && !numeric_dot;
    if plain {
        s.to_owned()
    } else {
        quote(s)
    }
}

/// Bytes as a quoted string, `{repeat: …, times: …}` for long runs, or `{hex: …}`.
pub fn bytes(b: &[u8]) -> String {
    if b.len() > 32 && b.iter().all(|x| *x == b[0]) && b[0].is_ascii_graphic() {
        return format!("{{repeat: {}, times: {}}}", quote(&(b[0] as char).to_string()), b.len());
    }
    match std::str::from_utf8(b) {
        Ok(s) => quote(s),
        Err(_) => format!("{{hex: \"{}\"}}", hex(b)),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

/// Flags as a list of names, `all` for every flag of a large set, or an integer when
/// undefined bits are set.
fn flags(t: &FlagsType, v: u64) -> String {
    let (names, rest) = t.decode(v);
    if rest != 0 {
        return v.to_string();
    }
    if v == t.all() && t.flags.len() > 4 {
        return "all".into();
    }
    format!("[{}]", names.join(", "))
}

fn enum_name(e: &EnumType, v: u64) -> String {
    e.name_of(v).map(str::to_owned).unwrap_or_else(|| v.to_string())
}

/// A value of a record field, as the loader reads it back.
fn field_value(ty: FieldType, v: u64) -> String {
    match ty {
        FieldType::Int => v.to_string(),
        FieldType::Enum(e) => enum_name(e, v),
        FieldType::Flags(t) => flags(t, v),
    }
}

fn list<T>(items: impl IntoIterator<Item = T>, show: impl Fn(T) -> String) -> String {
    items.into_iter().map(show).collect::<Vec<_>>().join(", ")
}

struct Writer {
    form: Form,
}

impl Writer {
    fn readable(&self) -> bool {
        self.form == Form::Readable
    }

    /// A preopen name, tree path or link target.
    fn name(&self, s: &str) -> String {
        if self.readable() {
            plain_or_quoted(s)
        } else {
            quote(s)
        }
    }

    /// `$name`.
    fn binding(&self, b: &str) -> String {
        // A binding name is letters, digits and `_-.` (the loader checks): plain is safe.
        if self.readable() {
            format!("${b}")
        } else {
            quote(&format!("${b}"))
        }
    }

    fn scalar(&self, s: &Scalar) -> String {
        match s {
            Scalar::Value(v) => v.to_string(),
            Scalar::Binding(b) => self.binding(b),
            Scalar::Masked { binding, mask } => format!("{{of: {}, and: {mask}}}", self.binding(binding)),
        }
    }

    fn path(&self, b: &[u8]) -> String {
        match std::str::from_utf8(b) {
            Ok(s) if self.readable() && plain_or_quoted(s) == s => s.to_owned(),
            _ => bytes(b),
        }
    }

    fn arg(&self, ty: ParamType, a: &Arg) -> String {
        match (ty, a) {
            (_, Arg::Scalar(Scalar::Binding(b))) => self.binding(b),
            (ParamType::Flags(t), Arg::Scalar(Scalar::Masked { binding, mask })) => {
                format!("{{of: {}, and: {}}}", self.binding(binding), flags(t, *mask))
            }
            (_, Arg::Scalar(m @ Scalar::Masked { .. })) => self.scalar(m),
            (ParamType::Enum(e), Arg::Scalar(Scalar::Value(v))) => enum_name(e, *v),
            (ParamType::Flags(t), Arg::Scalar(Scalar::Value(v))) => flags(t, *v),
            (ParamType::S64, Arg::Scalar(Scalar::Value(v))) => (*v as i64).to_string(),
            (_, Arg::Scalar(Scalar::Value(v))) => v.to_string(),
            (_, Arg::Str(Data::Bytes(b))) => self.path(b),
            (_, Arg::Str(Data::Raw { ptr, len })) => format!("{{ptr: {ptr}, len: {len}}}"),
            (_, Arg::Ciovecs(parts)) => format!("[{}]", list(parts, |p| bytes(p))),
            (_, Arg::Iovecs(sizes)) => format!("[{}]", list(sizes, u32::to_string)),
            (_, Arg::Buffer { size, len }) if size == len => size.to_string(),
            (_, Arg::Buffer { size, len }) => format!("{{size: {size}, len: {len}}}"),
            (_, Arg::Region(n)) => n.to_string(),
            (_, Arg::Events(n)) => n.to_string(),
            (ParamType::Region | ParamType::Subscriptions | ParamType::Events, Arg::Raw { ptr, .. }) => {
                format!("{{ptr: {ptr}}}")
            }
            (_, Arg::Raw { ptr, len }) => format!("{{ptr: {ptr}, len: {len}}}"),
            (_, Arg::Subscriptions(subs)) => format!("[{}]", list(subs, |s| self.subscription(s))),
        }
    }

    fn subscription(&self, s: &Subscription) -> String {
        let kind = match &s.kind {
            SubscriptionKind::Clock { id, timeout, precision, flags: f } => format!(
                "clock: {{id: {}, timeout: {timeout}, precision: {precision}, flags: {}}}",
                enum_name(&types::CLOCKID, *id),
                flags(&types::SUBCLOCKFLAGS, *f)
            ),
            SubscriptionKind::FdRead(fd) => format!("fd_read: {}", self.scalar(fd)),
            SubscriptionKind::FdWrite(fd) => format!("fd_write: {}", self.scalar(fd)),
            SubscriptionKind::Tag(t) => format!("tag: {t}"),
        };
        format!("{{userdata: {}, {kind}}}", s.userdata)
    }

    /// A value check; `record` is the result type whose fields a [`ValueCheck::Fields`] names.
    fn value_check(&self, check: &ValueCheck, render: &dyn Fn(u64) -> String, record: Option<ResultType>) -> String {
        match check {
            ValueCheck::Exact(v) => render(*v),
            ValueCheck::Range { min, max } => {
                let bound = |x: &Option<Bound>| match x {
                    None => None,
                    Some(Bound::Value(v)) => Some(v.to_string()),
                    Some(Bound::Binding(n)) => Some(self.binding(n)),
                };
                let parts: Vec<String> = [("min", bound(min)), ("max", bound(max))]
                    .into_iter()
                    .filter_map(|(k, b)| b.map(|b| format!("{k}: {b}")))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            ValueCheck::SameAs(b) => self.binding(b),
            ValueCheck::OneOf { set, because } => {
                format!("{{one-of: [{}], because: {}}}", list(set, |v| render(*v)), quote(because))
            }
            ValueCheck::Bits { set, clear } => format!("{{includes: {}, excludes: {}}}", render(*set), render(*clear)),
            ValueCheck::Fields(fields) => {
                let items = list(fields, |(name, c)| {
                    let ty = record.and_then(|r| records::field_type(r, name)).unwrap_or(FieldType::Int);
                    format!("{name}: {}", self.value_check(c, &|v| field_value(ty, v), None))
                });
                format!("{{{items}}}")
            }
        }
    }

    fn view_check(&self, v: &ViewCheck) -> String {
        match v {
            ViewCheck::Bytes(b) => bytes(b),
            ViewCheck::Strings(strings) => format!("[{}]", list(strings, |s| bytes(s))),
            ViewCheck::Entries(m) => format!(
                "{{{}}}",
                list(m, |(k, t)| format!(
                    "{}: {}",
                    quote(&String::from_utf8_lossy(k)),
                    enum_name(&types::FILETYPE, *t)
                ))
            ),
            ViewCheck::Events(m) => format!(
                "[{}]",
                list(m, |(u, (e, t))| format!(
                    "{{userdata: {u}, error: {}, type: {}}}",
                    e.name(),
                    enum_name(&types::EVENTTYPE, *t)
                ))
            ),
            ViewCheck::NotAllZero => "not-all-zero".into(),
        }
    }

    fn node(&self, n: &Node) -> String {
        match n {
            Node::Dir => "dir".into(),
            Node::File(b) => match std::str::from_utf8(b) {
                Ok(s) => format!("{{file: {}}}", quote(s)),
                Err(_) => format!("{{file-hex: \"{}\"}}", hex(b)),
            },
            Node::Symlink(t) => format!("{{symlink: {}}}", self.name(t)),
            Node::Hardlink(t) => format!("{{hardlink: {}}}", self.name(t)),
        }
    }

    fn tree(&self, out: &mut String, indent: &str, t: &Tree) {
        if t.is_empty() {
            let _ = writeln!(out, " {{}}");
            return;
        }
        let _ = writeln!(out);
        for (p, n) in t {
            let _ = writeln!(out, "{indent}{}: {}", self.name(p), self.node(n));
        }
    }

    fn scenario(&self, s: &Scenario) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "id: {}", s.id);
        let _ = writeln!(o, "summary: {}", quote(&s.summary));
        let _ = writeln!(o, "spec: {}", quote(&s.spec));
        let _ = writeln!(o, "strength: {}", s.strength.as_str());
        if let Some(c) = &s.choice {
            let _ = writeln!(o, "choice: {}", quote(c));
        }
        if !s.require.is_empty() {
            let _ = writeln!(o, "require: [{}]", list(&s.require, |c| c.as_str().to_owned()));
        }
        if let Some(b) = s.budget {
            let _ = writeln!(o, "budget: {}ms", b.as_millis());
        }
        self.fixture(&mut o, &s.fixture);
        let _ = writeln!(o, "steps:");
        for step in s.steps.iter().filter(|s| s.probe.is_none()) {
            self.step(&mut o, step);
        }
        self.end(&mut o, &s.end);
        if let Some(b) = &s.stdout {
            let _ = writeln!(o, "stdout: {}", bytes(b));
        }
        if let Some(b) = &s.stderr {
            let _ = writeln!(o, "stderr: {}", bytes(b));
        }
        match &s.tree {
            None => {}
            Some(TreeExpect::One(trees)) => {
                let _ = writeln!(o, "tree:");
                for (name, t) in trees {
                    let _ = write!(o, "  {}:", self.name(name));
                    self.tree(&mut o, "    ", t);
                }
            }
            Some(TreeExpect::OneOf { alternatives, because }) => {
                let _ = writeln!(o, "tree:");
                let _ = writeln!(o, "  because: {}", quote(because));
                let _ = writeln!(o, "  one-of:");
                for trees in alternatives {
                    if trees.is_empty() {
                        let _ = writeln!(o, "    - {{}}");
                    }
                    for (i, (name, t)) in trees.iter().enumerate() {
                        let _ = write!(o, "    {} {}:", if i == 0 { "-" } else { " " }, self.name(name));
                        self.tree(&mut o, "        ", t);
                    }
                }
            }
        }
        o
    }

    fn fixture(&self, o: &mut String, f: &Fixture) {
        let _ = writeln!(o, "fixture:");
        if f.preopens.is_empty() {
            let _ = writeln!(o, "  preopens: []");
        } else {
            let _ = writeln!(o, "  preopens:");
            for p in &f.preopens {
                let _ = writeln!(o, "    - name: {}", self.name(&p.name));
                // The loader binds a preopen to its name without a leading `./` or `/`.
                if p.binding != p.name.trim_start_matches("./").trim_start_matches('/') {
                    let _ = writeln!(o, "      binding: {}", self.name(&p.binding));
                }
                if !(self.readable() && p.tree.is_empty()) {
                    let _ = write!(o, "      tree:");
                    self.tree(o, "        ", &p.tree);
                }
            }
        }
        if !(self.readable() && f.args == [DEFAULT_ARGV0]) {
            let _ = writeln!(o, "  args: [{}]", list(&f.args, |x| quote(x)));
        }
        if !(self.readable() && f.env.is_empty()) {
            let _ = writeln!(o, "  env: [{}]", list(&f.env, |x| quote(x)));
        }
        if !f.stdin.is_empty() {
            let _ = writeln!(o, "  stdin: {}", bytes(&f.stdin));
        }
    }

    fn step(&self, o: &mut String, step: &Step) {
        let f = step.function;
        let args: Vec<String> = f
            .params
            .iter()
            .zip(&step.args)
            .filter(|(p, _)| !(self.readable() && step.defaulted.contains(&p.name)))
            .map(|(p, a)| format!("{}: {}", p.name, self.arg(p.ty, a)))
            .collect();
        if self.readable() && !args.is_empty() {
            let _ = writeln!(o, "  - {}:", f.name);
            for a in &args {
                let _ = writeln!(o, "      {a}");
            }
        } else {
            let _ = writeln!(o, "  - {}: {{{}}}", f.name, args.join(", "));
        }
        match step.bind.as_slice() {
            [] => {}
            [Bind { name, source: BindSource::Result { result: 0, field: None } }] => {
                let _ = writeln!(o, "    bind: {name}");
            }
            binds => {
                let items = list(binds, |b| {
                    let src = match &b.source {
                        BindSource::Result { result, field: None } => f.results[*result].name.to_owned(),
                        BindSource::Result { result, field: Some(x) } => format!("{}.{x}", f.results[*result].name),
                        BindSource::Entry { index, field } => format!("entries.{index}.{field}"),
                    };
                    format!("{}: {src}", b.name)
                });
                let _ = writeln!(o, "    bind: {{{items}}}");
            }
        }
        let out_ptrs: Vec<String> = (f.results.iter().zip(&step.out_ptrs))
            .filter_map(|(r, p)| p.map(|ptr| format!("{}: {ptr}", r.name)))
            .collect();
        if !out_ptrs.is_empty() {
            let _ = writeln!(o, "    out-ptr: {{{}}}", out_ptrs.join(", "));
        }
        let e = &step.expect;
        let mut parts = Vec::new();
        if let Some(x) = &e.errno {
            parts.push(format!("errno: {}", errno(x)));
        }
        for (name, c) in &e.results {
            let record = f.results.iter().find(|r| r.name == *name).map(|r| r.ty);
            parts.push(format!("{name}: {}", self.value_check(c, &|v| v.to_string(), record)));
        }
        for (name, v) in &e.views {
            parts.push(format!("{name}: {}", self.view_check(v)));
        }
        // An errno with a reason makes a long line: a block in the readable form.
        let with_reason = matches!(e.errno, Some(ErrnoExpect::OneOf { .. }));
        match parts.as_slice() {
            [] => {}
            _ if self.readable() && with_reason => {
                let _ = writeln!(o, "    expect:");
                for p in &parts {
                    let _ = writeln!(o, "      {p}");
                }
            }
            _ => {
                let _ = writeln!(o, "    expect: {{{}}}", parts.join(", "));
            }
        }
    }

    fn end(&self, o: &mut String, end: &End) {
        match end {
            _ if self.readable() && *end == End::default() => {}
            End::Trap => {
                let _ = writeln!(o, "end: trap");
            }
            End::Exit(ExitExpect::One(c)) => {
                let _ = writeln!(o, "end: {{exit: {c}}}");
            }
            End::Exit(ExitExpect::OneOf { set, because }) => {
                let _ = writeln!(
                    o,
                    "end: {{exit: {{one-of: [{}], because: {}}}}}",
                    list(set, u32::to_string),
                    quote(because)
                );
            }
            End::OneOf { trap, exits, because } => {
                let alternatives: Vec<String> = trap
                    .then(|| "trap".to_owned())
                    .into_iter()
                    .chain(exits.iter().map(|c| format!("{{exit: {c}}}")))
                    .collect();
                let _ = writeln!(o, "end: {{one-of: [{}], because: {}}}", alternatives.join(", "), quote(because));
            }
        }
    }
}

fn errno(e: &ErrnoExpect) -> String {
    match e {
        ErrnoExpect::One(e) => e.name().to_owned(),
        ErrnoExpect::OneOf { set, trap, any_error, because } => format!(
            "{{one-of: [{}], because: {}}}",
            set.iter()
                .map(|e| e.name())
                .chain(any_error.then_some("any-error"))
                .chain(trap.then_some("trap"))
                .collect::<Vec<_>>()
                .join(", "),
            quote(because)
        ),
    }
}
