//! Writing scenarios: [`bless`] fills a program's expectations with what the reference did
//! (so the reference passes it by construction), and [`to_yaml`] renders any [`Scenario`]
//! as the readable YAML that the suite's strict loader reads back to the same scenario.
//!
//! Strings are written double-quoted with YAML escapes; bytes that are not UTF-8 as
//! `{hex: …}`; flags as lists of witx names (an integer when undefined bits are set); enums
//! by name when the value is defined.

use std::fmt::Write as _;

use wasi_conform_abi::types::{self, EnumType, FlagsType};
use wasi_conform_abi::{Errno, ParamType};
use wasi_conform_suite::scenario::*;

use crate::normalise::{self, EndClass, Observation, Output, StepObs};
use crate::oracle::{Divergence, Place};

/// The program with expectations taken from the reference's observation. Every step's errno
/// is checked (an allowed set where an equivalence rule applies); the output, stream or tree
/// the divergence is about is checked too, and nothing else, so the scenario is about one
/// behaviour. Steps after the one the reference ended in are dropped.
pub fn bless(program: &Scenario, reference: &Observation, focus: &Divergence) -> Scenario {
    let mut s = program.clone();
    let mut steps = Vec::new();
    for (k, (step, obs)) in program.steps.iter().zip(&reference.steps).enumerate() {
        let mut step = step.clone();
        step.expect = StepExpect::default();
        match obs {
            StepObs::NotStarted => break,
            StepObs::Started => {
                steps.push(step);
                break;
            }
            StepObs::Returned { raw, outputs } => {
                let e = Errno::from_raw(*raw).unwrap_or(Errno::Inval);
                let rule = normalise::ERRNO_RULES
                    .iter()
                    .find(|r| normalise::situations(&step).contains(&r.when) && r.set.contains(&e));
                step.expect.errno = Some(match rule {
                    Some(r) => ErrnoExpect::OneOf {
                        set: r.set.to_vec(),
                        trap: false,
                        any_error: false,
                        because: r.reason.to_owned(),
                    },
                    None => ErrnoExpect::One(e),
                });
                if focus.place == Place::Step(k) && *raw == 0 {
                    if let Some((name, out)) = outputs.iter().find(|(n, _)| *n == focus.expected) {
                        add_check(&mut step, name, out);
                    }
                }
            }
        }
        steps.push(step);
    }
    s.steps = steps;
    s.end = match &reference.end {
        EndClass::Trap => End::Trap,
        EndClass::Exit(c) => End::Exit(ExitExpect::One(*c)),
        EndClass::Timeout | EndClass::Crash(_) => End::default(),
    };
    s.stdout = (focus.place == Place::Stdout).then(|| reference.stdout.clone());
    s.stderr = (focus.place == Place::Stderr).then(|| reference.stderr.clone());
    s.tree = (focus.place == Place::Tree).then(|| TreeExpect::One(reference.trees.clone()));
    s
}

fn add_check(step: &mut Step, name: &str, out: &Output) {
    let (head, field) = match name.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (name, None),
    };
    let value = match out {
        Output::Int(v) | Output::Enum(_, v) | Output::Flags(_, v) => Some(ValueCheck::Exact(*v)),
        _ => None,
    };
    if step.function.results.iter().any(|r| r.name == head) {
        let Some(v) = value else { return };
        let check = match field {
            Some(f) => ValueCheck::Fields(vec![(f.to_owned(), v)]),
            None => v,
        };
        step.expect.results.push((head.to_owned(), check));
        return;
    }
    let view = match out {
        Output::Bytes(b) => ViewCheck::Bytes(b.clone()),
        Output::Strings(v) => ViewCheck::Strings(v.clone()),
        Output::Entries(m) => ViewCheck::Entries(m.clone()),
        Output::Events(m) => ViewCheck::Events(
            m.iter().map(|(u, (e, t))| (*u, (Errno::from_raw(*e).unwrap_or(Errno::Inval), *t))).collect(),
        ),
        Output::Int(_) | Output::Enum(..) | Output::Flags(..) => return,
    };
    step.expect.views.push((name.to_owned(), view));
}

/// A YAML double-quoted string.
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
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bytes as a quoted string, `{repeat: …, times: …}` for long runs, or `{hex: …}`.
pub fn bytes(b: &[u8]) -> String {
    if b.len() > 32 && b.iter().all(|x| *x == b[0]) && b[0].is_ascii_graphic() {
        return format!("{{repeat: {}, times: {}}}", quote(&(b[0] as char).to_string()), b.len());
    }
    match std::str::from_utf8(b) {
        Ok(s) => quote(s),
        Err(_) => format!("{{hex: \"{}\"}}", b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")),
    }
}

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

fn scalar(s: &Scalar) -> String {
    match s {
        Scalar::Value(v) => v.to_string(),
        Scalar::Binding(b) => quote(&format!("${b}")),
    }
}

fn arg(ty: ParamType, a: &Arg) -> String {
    match (ty, a) {
        (_, Arg::Scalar(Scalar::Binding(b))) => quote(&format!("${b}")),
        (ParamType::Enum(e), Arg::Scalar(Scalar::Value(v))) => enum_name(e, *v),
        (ParamType::Flags(t), Arg::Scalar(Scalar::Value(v))) => flags(t, *v),
        (ParamType::S64, Arg::Scalar(Scalar::Value(v))) => (*v as i64).to_string(),
        (_, Arg::Scalar(Scalar::Value(v))) => v.to_string(),
        (_, Arg::Str(Data::Bytes(b))) => bytes(b),
        (_, Arg::Str(Data::Raw { ptr, len })) => format!("{{ptr: {ptr}, len: {len}}}"),
        (_, Arg::Ciovecs(parts)) => format!("[{}]", parts.iter().map(|p| bytes(p)).collect::<Vec<_>>().join(", ")),
        (_, Arg::Iovecs(sizes)) => format!("[{}]", sizes.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")),
        (_, Arg::Buffer { size, len }) if size == len => size.to_string(),
        (_, Arg::Buffer { size, len }) => format!("{{size: {size}, len: {len}}}"),
        (_, Arg::Region(n)) => n.to_string(),
        (_, Arg::Events(n)) => n.to_string(),
        (ParamType::Region | ParamType::Subscriptions | ParamType::Events, Arg::Raw { ptr, .. }) => {
            format!("{{ptr: {ptr}}}")
        }
        (_, Arg::Raw { ptr, len }) => format!("{{ptr: {ptr}, len: {len}}}"),
        (_, Arg::Subscriptions(subs)) => {
            let items: Vec<String> = subs
                .iter()
                .map(|s| {
                    let kind = match &s.kind {
                        SubscriptionKind::Clock { id, timeout, precision, flags: f } => format!(
                            "clock: {{id: {}, timeout: {timeout}, precision: {precision}, flags: {}}}",
                            enum_name(&types::CLOCKID, *id),
                            flags(&types::SUBCLOCKFLAGS, *f)
                        ),
                        SubscriptionKind::FdRead(fd) => format!("fd_read: {}", scalar(fd)),
                        SubscriptionKind::FdWrite(fd) => format!("fd_write: {}", scalar(fd)),
                        SubscriptionKind::Tag(t) => format!("tag: {t}"),
                    };
                    format!("{{userdata: {}, {kind}}}", s.userdata)
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn value_check(check: &ValueCheck, render: &dyn Fn(u64) -> String) -> String {
    match check {
        ValueCheck::Exact(v) => render(*v),
        ValueCheck::Range { min, max } => {
            let b = |x: &Option<Bound>| match x {
                None => None,
                Some(Bound::Value(v)) => Some(v.to_string()),
                Some(Bound::Binding(n)) => Some(quote(&format!("${n}"))),
            };
            let mut parts = Vec::new();
            if let Some(m) = b(min) {
                parts.push(format!("min: {m}"));
            }
            if let Some(m) = b(max) {
                parts.push(format!("max: {m}"));
            }
            format!("{{{}}}", parts.join(", "))
        }
        ValueCheck::SameAs(b) => quote(&format!("${b}")),
        ValueCheck::OneOf { set, because } => format!(
            "{{one-of: [{}], because: {}}}",
            set.iter().map(|v| render(*v)).collect::<Vec<_>>().join(", "),
            quote(because)
        ),
        ValueCheck::Bits { set, clear } => format!("{{includes: {}, excludes: {}}}", render(*set), render(*clear)),
        ValueCheck::Fields(fields) => {
            let items: Vec<String> = fields
                .iter()
                .map(|(name, c)| {
                    let r: Box<dyn Fn(u64) -> String> = match name.as_str() {
                        "filetype" => Box::new(|v| enum_name(&types::FILETYPE, v)),
                        "tag" => Box::new(|v| enum_name(&types::PREOPENTYPE, v)),
                        "flags" => Box::new(|v| flags(&types::FDFLAGS, v)),
                        "rights_base" | "rights_inheriting" => Box::new(|v| flags(&types::RIGHTS, v)),
                        _ => Box::new(|v: u64| v.to_string()),
                    };
                    format!("{name}: {}", value_check(c, &*r))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

fn view_check(v: &ViewCheck) -> String {
    match v {
        ViewCheck::Bytes(b) => bytes(b),
        ViewCheck::Strings(list) => format!("[{}]", list.iter().map(|s| bytes(s)).collect::<Vec<_>>().join(", ")),
        ViewCheck::Entries(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, t)| format!("{}: {}", quote(&String::from_utf8_lossy(k)), enum_name(&types::FILETYPE, *t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ViewCheck::Events(m) => format!(
            "[{}]",
            m.iter()
                .map(|(u, (e, t))| format!(
                    "{{userdata: {u}, error: {}, type: {}}}",
                    e.name(),
                    enum_name(&types::EVENTTYPE, *t)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ViewCheck::NotAllZero => "not-all-zero".into(),
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

fn node(n: &Node) -> String {
    match n {
        Node::Dir => "dir".into(),
        Node::File(b) => match std::str::from_utf8(b) {
            Ok(s) => format!("{{file: {}}}", quote(s)),
            Err(_) => {
                format!("{{file-hex: \"{}\"}}", b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" "))
            }
        },
        Node::Symlink(t) => format!("{{symlink: {}}}", quote(t)),
        Node::Hardlink(t) => format!("{{hardlink: {}}}", quote(t)),
    }
}

fn tree(out: &mut String, indent: &str, t: &Tree) {
    if t.is_empty() {
        let _ = writeln!(out, " {{}}");
        return;
    }
    let _ = writeln!(out);
    for (p, n) in t {
        let _ = writeln!(out, "{indent}{}: {}", quote(p), node(n));
    }
}

/// The scenario as YAML the loader accepts (`load_str(to_yaml(s))` is `s` again).
pub fn to_yaml(s: &Scenario) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "id: {}", s.id);
    let _ = writeln!(o, "summary: {}", quote(&s.summary));
    let _ = writeln!(o, "spec: {}", quote(&s.spec));
    let _ = writeln!(o, "strength: {}", s.strength.as_str());
    if let Some(c) = &s.choice {
        let _ = writeln!(o, "choice: {}", quote(c));
    }
    if !s.require.is_empty() {
        let _ = writeln!(o, "require: [{}]", s.require.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "));
    }
    if let Some(b) = s.budget {
        let _ = writeln!(o, "budget: {}ms", b.as_millis());
    }
    let _ = writeln!(o, "fixture:");
    if s.fixture.preopens.is_empty() {
        let _ = writeln!(o, "  preopens: []");
    } else {
        let _ = writeln!(o, "  preopens:");
        for p in &s.fixture.preopens {
            let _ = writeln!(o, "    - name: {}", quote(&p.name));
            let _ = write!(o, "      tree:");
            tree(&mut o, "        ", &p.tree);
        }
    }
    let list = |v: &[String]| v.iter().map(|x| quote(x)).collect::<Vec<_>>().join(", ");
    let _ = writeln!(o, "  args: [{}]", list(&s.fixture.args));
    let _ = writeln!(o, "  env: [{}]", list(&s.fixture.env));
    if !s.fixture.stdin.is_empty() {
        let _ = writeln!(o, "  stdin: {}", bytes(&s.fixture.stdin));
    }
    let _ = writeln!(o, "steps:");
    for step in s.steps.iter().filter(|s| s.probe.is_none()) {
        let f = step.function;
        let args: Vec<String> =
            f.params.iter().zip(&step.args).map(|(p, a)| format!("{}: {}", p.name, arg(p.ty, a))).collect();
        let _ = writeln!(o, "  - {}: {{{}}}", f.name, args.join(", "));
        match step.bind.as_slice() {
            [] => {}
            [Bind { name, source: BindSource::Result { result: 0, field: None } }] => {
                let _ = writeln!(o, "    bind: {name}");
            }
            binds => {
                let items: Vec<String> = binds
                    .iter()
                    .map(|b| {
                        let src = match &b.source {
                            BindSource::Result { result, field: None } => f.results[*result].name.to_owned(),
                            BindSource::Result { result, field: Some(x) } => format!("{}.{x}", f.results[*result].name),
                            BindSource::Entry { index, field } => format!("entries.{index}.{field}"),
                        };
                        format!("{}: {src}", b.name)
                    })
                    .collect();
                let _ = writeln!(o, "    bind: {{{}}}", items.join(", "));
            }
        }
        for (i, p) in step.out_ptrs.iter().enumerate() {
            if let Some(ptr) = p {
                let _ = writeln!(o, "    out-ptr: {{{}: {ptr}}}", f.results[i].name);
            }
        }
        let e = &step.expect;
        let mut parts = Vec::new();
        if let Some(x) = &e.errno {
            parts.push(format!("errno: {}", errno(x)));
        }
        for (name, c) in &e.results {
            parts.push(format!("{name}: {}", value_check(c, &|v| v.to_string())));
        }
        for (name, v) in &e.views {
            parts.push(format!("{name}: {}", view_check(v)));
        }
        if !parts.is_empty() {
            let _ = writeln!(o, "    expect: {{{}}}", parts.join(", "));
        }
    }
    match &s.end {
        End::Trap => {
            let _ = writeln!(o, "end: trap");
        }
        End::Exit(ExitExpect::One(c)) => {
            let _ = writeln!(o, "end: {{exit: {c}}}");
        }
        End::Exit(ExitExpect::OneOf { set, because }) => {
            let codes: Vec<String> = set.iter().map(u32::to_string).collect();
            let _ = writeln!(o, "end: {{exit: {{one-of: [{}], because: {}}}}}", codes.join(", "), quote(because));
        }
        End::OneOf { trap, exits, because } => {
            let alts: Vec<String> = trap
                .then(|| "trap".to_owned())
                .into_iter()
                .chain(exits.iter().map(|c| format!("{{exit: {c}}}")))
                .collect();
            let _ = writeln!(o, "end: {{one-of: [{}], because: {}}}", alts.join(", "), quote(because));
        }
    }
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
                let _ = write!(o, "  {}:", quote(name));
                tree(&mut o, "    ", t);
            }
        }
        Some(TreeExpect::OneOf { alternatives, because }) => {
            let _ = writeln!(o, "tree:");
            let _ = writeln!(o, "  because: {}", quote(because));
            let _ = writeln!(o, "  one-of:");
            for trees in alternatives {
                let mut first = true;
                for (name, t) in trees {
                    let _ = write!(o, "    {} {}:", if first { "-" } else { " " }, quote(name));
                    first = false;
                    tree(&mut o, "        ", t);
                }
            }
        }
    }
    o
}
