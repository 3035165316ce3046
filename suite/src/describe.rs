//! Describing things in messages: a call with its decoded arguments, bytes, trees and their
//! differences, directory entries and poll events. Used by the verdict, the report and
//! the fuzz oracle, so that a value reads the same wherever it is shown.

use std::fmt::Write as _;

use wasi_conform_abi::types;
use wasi_conform_abi::{Errno, ParamType};

use crate::scenario::{Arg, Data, Node, Scalar, Scenario, Step, Tree};

/// The 1-based number of the step at index `k` among the scenario's own steps (the probe
/// steps the loader adds for `require:` are not counted).
pub fn step_number(s: &Scenario, k: usize) -> usize {
    k + 1 - s.steps[..k].iter().filter(|x| x.probe.is_some()).count()
}

/// `path_open(fd=$sandbox(3), dirflags=0, path="a", …)`, bindings resolved where known.
pub fn describe_call(step: &Step, binding: impl Fn(&str) -> Option<u64>) -> String {
    call_text(step, binding, Bindings::Resolved)
}

/// A call with its arguments as written in the scenario, bindings by name (`$sandbox`):
/// the same for every runtime, unlike [`describe_call`] which shows their run-time values.
pub fn describe_call_as_written(step: &Step) -> String {
    call_text(step, |_| None, Bindings::AsWritten)
}

/// How [`call_text`] shows a `$name` argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bindings {
    /// `$name(3)`, or `$name(?)` when unknown.
    Resolved,
    /// `$name`, as written.
    AsWritten,
}

fn call_text(step: &Step, binding: impl Fn(&str) -> Option<u64>, bindings: Bindings) -> String {
    let mut s = format!("{}(", step.function.name);
    for (i, (p, a)) in step.function.params.iter().zip(&step.args).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{}=", p.name);
        let scalar = |v: &Scalar| match v {
            Scalar::Value(v) => *v,
            Scalar::Binding(b) => binding(b).unwrap_or(u64::MAX),
            Scalar::Masked { binding: b, mask } => binding(b).map(|v| v & mask).unwrap_or(u64::MAX),
        };
        match (p.ty, a) {
            (_, Arg::Scalar(Scalar::Binding(b))) if bindings == Bindings::AsWritten => {
                let _ = write!(s, "${b}");
            }
            (_, Arg::Scalar(Scalar::Binding(b))) => {
                let v = binding(b).map(|v| v.to_string()).unwrap_or_else(|| "?".into());
                let _ = write!(s, "${b}({v})");
            }
            (_, Arg::Scalar(Scalar::Masked { binding: b, mask })) if bindings == Bindings::AsWritten => {
                let _ = write!(s, "${b}&{mask:#x}");
            }
            (_, Arg::Scalar(Scalar::Masked { binding: b, mask })) => {
                let v = binding(b).map(|v| (v & mask).to_string()).unwrap_or_else(|| "?".into());
                let _ = write!(s, "${b}&{mask:#x}({v})");
            }
            (ParamType::Enum(e), Arg::Scalar(v)) => s.push_str(&enum_value(e, scalar(v))),
            (ParamType::Flags(f), Arg::Scalar(v)) => s.push_str(&f.describe(scalar(v))),
            (ParamType::S64, Arg::Scalar(v)) => {
                let _ = write!(s, "{}", scalar(v) as i64);
            }
            (_, Arg::Scalar(v)) => {
                let _ = write!(s, "{}", scalar(v));
            }
            (_, Arg::Str(Data::Bytes(b))) => s.push_str(&show_bytes(b)),
            (_, Arg::Str(Data::Raw { ptr, len })) => {
                let _ = write!(s, "raw(ptr={ptr:#x}, len={len})");
            }
            (_, Arg::Ciovecs(parts)) => {
                let _ = write!(s, "[{}]", parts.iter().map(|p| show_bytes(p)).collect::<Vec<_>>().join(", "));
            }
            (_, Arg::Iovecs(sizes)) => {
                let _ = write!(s, "[{}]", sizes.iter().map(|n| format!("{n} bytes")).collect::<Vec<_>>().join(", "));
            }
            (_, Arg::Buffer { size, len }) if size == len => {
                let _ = write!(s, "{size}-byte buffer");
            }
            (_, Arg::Buffer { size, len }) => {
                let _ = write!(s, "{size}-byte buffer passed as {len}");
            }
            (_, Arg::Region(n)) => {
                let _ = write!(s, "{n}-byte area");
            }
            (_, Arg::Subscriptions(subs)) => {
                let _ = write!(s, "{} subscription(s)", subs.len());
            }
            (_, Arg::Events(n)) => {
                let _ = write!(s, "room for {n} event(s)");
            }
            (_, Arg::Raw { ptr, len }) => {
                let _ = write!(s, "raw(ptr={ptr:#x}, len={len})");
            }
        }
    }
    s.push(')');
    s
}

/// An enum value by name, `7 (invalid)` when the type defines no such value.
pub fn enum_value(e: &types::EnumType, v: u64) -> String {
    e.name_of(v).map(str::to_owned).unwrap_or_else(|| format!("{v} (invalid)"))
}

/// An errno by name, or its number when it is none.
pub fn errno(raw: u32) -> String {
    Errno::from_raw(raw).map(|e| e.name().to_owned()).unwrap_or_else(|| raw.to_string())
}

/// Directory entries, `"a": regular_file, "b": directory` (in the order given).
pub fn entries<'a>(entries: impl IntoIterator<Item = (&'a [u8], u64)>) -> String {
    entries
        .into_iter()
        .map(|(name, ty)| format!("{}: {}", show_bytes(name), types::FILETYPE.name_of(ty).unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A poll event's type and error: `fd_read success`.
pub fn event(error: u32, ty: u64) -> String {
    format!("{} {}", types::EVENTTYPE.name_of(ty).unwrap_or("?"), errno(error))
}

/// Adds implied parent directories to a tree.
pub fn with_parents(t: &Tree) -> Tree {
    let mut out = t.clone();
    for p in t.keys() {
        let mut cur = p.as_str();
        while let Some((up, _)) = cur.rsplit_once('/') {
            out.entry(up.to_owned()).or_insert(Node::Dir);
            cur = up;
        }
    }
    out
}

/// Differences between an expected and an observed tree.
pub fn tree_diff(want: &Tree, got: &Tree) -> Vec<String> {
    let (w, g) = (with_parents(want), with_parents(got));
    let mut out = Vec::new();
    for (p, n) in &w {
        match g.get(p) {
            None => out.push(format!("missing `{p}` ({})", show_node(n))),
            Some(m) if m != n => out.push(format!("`{p}`: expected {}, observed {}", show_node(n), show_node(m))),
            Some(_) => {}
        }
    }
    for (p, n) in &g {
        if !w.contains_key(p) {
            out.push(format!("unexpected `{p}` ({})", show_node(n)));
        }
    }
    out
}

fn show_node(n: &Node) -> String {
    match n {
        Node::Dir => "directory".into(),
        Node::File(b) => format!("file {}", show_bytes(b)),
        Node::Symlink(t) => format!("symlink -> {t:?}"),
        Node::Hardlink(t) => format!("hard link to {t:?}"),
    }
}

/// Bytes as a quoted string, long runs shortened.
pub fn show_bytes(b: &[u8]) -> String {
    const MAX: usize = 80;
    let s = String::from_utf8_lossy(&b[..b.len().min(MAX)]);
    let mut q = format!("{s:?}");
    if b.len() > MAX {
        let _ = write!(q, "…({} bytes)", b.len());
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario() -> Scenario {
        let text = "id: path_open/t\nsummary: s\nspec: t\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\n\
                    steps:\n  - path_open: {fd: $sandbox, path: \"a<b\", fs_rights_base: [fd_read], fs_rights_inheriting: []}\n    \
                    expect: {errno: noent}\n";
        crate::load::load_str(text, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()))
    }

    #[test]
    fn calls_as_written_and_as_run() {
        let s = scenario();
        let written = describe_call_as_written(&s.steps[0]);
        assert!(written.starts_with("path_open(fd=$sandbox, dirflags=0, path=\"a<b\""), "{written}");
        let run = describe_call(&s.steps[0], |b| (b == "sandbox").then_some(3));
        assert!(run.starts_with("path_open(fd=$sandbox(3), "), "{run}");
        assert!(describe_call(&s.steps[0], |_| None).starts_with("path_open(fd=$sandbox(?), "));
    }
}
