//! Normalisation: an [`Outcome`] becomes an [`Observation`] in which two runs that behave the
//! same compare equal, whatever host, file system or clock they ran on.
//!
//! # Equivalence rules
//! Each rule is a documented reason why two different raw results are the *same* behaviour.
//! They are also listed in `fuzz/README.md`; a rule never hides a canary change.
//!
//! - **Descriptor numbers** are not compared: `opened_fd`/`accepted_fd` differ legitimately
//!   (Wasmer exposes its own root at fd 3 and shifts every preopen by one; the spec says
//!   nothing about fd allocation). Later steps refer to fds by binding, not by number.
//! - **Inode and device numbers, timestamps** (`filestat.dev/ino/atim/mtim/ctim`,
//!   `clock_*_get` results, `fd_readdir` `d_ino`/`d_next` cookies) are host values.
//! - **Directory sizes and link counts** (`filestat.size`/`nlink` of a directory) are file
//!   system values (4096 on ext4, 40+ on tmpfs, anything in memory).
//! - **Rights** (`fdstat.rights_base/inheriting`) are not compared: runtimes report
//!   anything from the exact rights to all bits (divergences.md F2), the spec leaves it open.
//! - **Preopen names** are compared without a leading `/`, and `prestat.name_len` not at
//!   all: WasmEdge reports `sandbox` for `/sandbox` (runtimes.md), a harness artefact.
//! - **`fd_readdir`**: the entries are compared as a set of name → filetype without `.` and
//!   `..` (listing them is optional, divergences.md C1), so `bufused` is not compared; and
//!   only for a whole listing (cookie 0, buffer not filled), since entry order is unspecified.
//! - **Errno classes** that wasi-testsuite itself accepts as equivalent, each only in the
//!   situation it was accepted for ([`ERRNO_RULES`]).
//! - **Traps** are compared as "a trap", not by message or class.

use std::collections::BTreeMap;

use wasi_conform_abi::{layout, types, Errno, Function, ResultType};
use wasi_conform_suite::compile::Layout;
use wasi_conform_suite::outcome::{Canaries, Ending, Outcome};
use wasi_conform_suite::scenario::{Arg, Data, Scalar, Scenario, Step, Tree};
use wasi_conform_suite::trace::{self, bytes_at, u16_at, u32_at, u64_at, u8_at, StepState};
use wasi_conform_suite::verdict::decode_dirents;

/// When an errno rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situation {
    /// A path argument leaves the preopen: absolute, `..`, or through the link that points out.
    PathEscapes,
    /// A path argument ends in `/`.
    TrailingSlash,
    /// A path argument contains a NUL byte.
    PathHasNul,
    /// A path argument (or a component) is longer than any host allows.
    PathTooLong,
}

/// A set of errnos that count as one behaviour in one situation.
#[derive(Debug)]
pub struct ErrnoRule {
    pub set: &'static [Errno],
    pub when: Situation,
    pub reason: &'static str,
}

/// The errno equivalence classes (divergences.md, "Normalisation guidance": the sets
/// wasi-testsuite accepts).
pub const ERRNO_RULES: &[ErrnoRule] = &[
    ErrnoRule {
        set: &[Errno::Perm, Errno::Notcapable],
        when: Situation::PathEscapes,
        reason: "sandbox escapes: wasi-testsuite accepts perm and notcapable (divergences.md A1)",
    },
    ErrnoRule {
        set: &[Errno::Notdir, Errno::Noent],
        when: Situation::TrailingSlash,
        reason: "trailing slash on a non-directory: wasi-testsuite accepts notdir and noent (divergences.md A5)",
    },
    ErrnoRule {
        set: &[Errno::Inval, Errno::Ilseq, Errno::Noent],
        when: Situation::PathHasNul,
        reason: "NUL in a path: wasi-testsuite accepts inval, ilseq and noent (divergences.md A8)",
    },
    ErrnoRule {
        set: &[Errno::Nametoolong, Errno::Noent],
        when: Situation::PathTooLong,
        reason: "an over-long name that does not exist: noent (lookup) or nametoolong (length check first)",
    },
];

/// The situations a step is in, from its path arguments.
pub fn situations(step: &Step) -> Vec<Situation> {
    let mut out = Vec::new();
    for a in &step.args {
        let Arg::Str(Data::Bytes(p)) = a else { continue };
        let has = |needle: &[u8]| p.windows(needle.len()).any(|w| w == needle);
        if p.first() == Some(&b'/') || has(b"..") || has(b"link-out") || has(b"link-abs") {
            out.push(Situation::PathEscapes);
        }
        if p.last() == Some(&b'/') {
            out.push(Situation::TrailingSlash);
        }
        if p.contains(&0) {
            out.push(Situation::PathHasNul);
        }
        if p.split(|b| *b == b'/').any(|c| c.len() > 255) {
            out.push(Situation::PathTooLong);
        }
    }
    out
}

/// The rule that makes two errnos of a step equivalent, if any.
pub fn equivalent(step: &Step, a: Errno, b: Errno) -> Option<&'static ErrnoRule> {
    let here = situations(step);
    ERRNO_RULES.iter().find(|r| here.contains(&r.when) && r.set.contains(&a) && r.set.contains(&b))
}

/// How a run ended, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndClass {
    Exit(u32),
    Trap,
    Timeout,
    Crash(String),
}

impl EndClass {
    pub fn describe(&self) -> String {
        match self {
            EndClass::Exit(c) => format!("exit {c}"),
            EndClass::Trap => "trap".into(),
            EndClass::Timeout => "timeout".into(),
            EndClass::Crash(_) => "crash".into(),
        }
    }
}

/// One output value of a step, typed enough to be written back as an expectation.
#[derive(Debug, Clone)]
pub enum Output {
    Int(u64),
    Enum(&'static types::EnumType, u64),
    Flags(&'static types::FlagsType, u64),
    Bytes(Vec<u8>),
    Strings(Vec<Vec<u8>>),
    /// Directory entries: name → filetype (raw, `.`/`..` included when listed).
    Entries(BTreeMap<Vec<u8>, u64>),
    /// poll events: userdata → (error, type).
    Events(BTreeMap<u64, (u32, u64)>),
}

impl PartialEq for Output {
    fn eq(&self, other: &Output) -> bool {
        match (self, other) {
            (Output::Int(a), Output::Int(b)) => a == b,
            (Output::Enum(t, a), Output::Enum(u, b)) => std::ptr::eq(*t, *u) && a == b,
            (Output::Flags(t, a), Output::Flags(u, b)) => std::ptr::eq(*t, *u) && a == b,
            (Output::Bytes(a), Output::Bytes(b)) => a == b,
            (Output::Strings(a), Output::Strings(b)) => a == b,
            (Output::Entries(a), Output::Entries(b)) => a == b,
            (Output::Events(a), Output::Events(b)) => a == b,
            (
                Output::Int(_)
                | Output::Enum(..)
                | Output::Flags(..)
                | Output::Bytes(_)
                | Output::Strings(_)
                | Output::Entries(_)
                | Output::Events(_),
                _,
            ) => false,
        }
    }
}

impl Eq for Output {}

impl Output {
    /// The comparable form (see the module rules).
    fn normal(&self) -> Output {
        match self {
            Output::Entries(m) => Output::Entries(
                m.iter()
                    .filter(|(k, _)| k.as_slice() != b"." && k.as_slice() != b"..")
                    .map(|(k, v)| (k.clone(), *v))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn same(&self, other: &Output) -> bool {
        self.normal() == other.normal()
    }

    pub fn describe(&self) -> String {
        use wasi_conform_suite::verdict::show_bytes;
        match self {
            Output::Int(v) => v.to_string(),
            Output::Enum(e, v) => e.name_of(*v).map(str::to_owned).unwrap_or_else(|| v.to_string()),
            Output::Flags(f, v) => f.describe(*v),
            Output::Bytes(b) => show_bytes(b),
            Output::Strings(v) => format!("[{}]", v.iter().map(|s| show_bytes(s)).collect::<Vec<_>>().join(", ")),
            Output::Entries(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, t)| format!("{}: {}", show_bytes(k), types::FILETYPE.name_of(*t).unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Output::Events(m) => format!(
                "[{}]",
                m.iter()
                    .map(|(u, (e, t))| format!(
                        "{u}: {} {}",
                        types::EVENTTYPE.name_of(*t).unwrap_or("?"),
                        Errno::from_raw(*e).map(|e| e.name().to_owned()).unwrap_or_else(|| e.to_string())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepObs {
    NotStarted,
    /// Entered, never returned (the run ended inside it).
    Started,
    /// Returned a raw value; on success, its compared outputs by name (`nread`,
    /// `filestat.size`, `read`, …).
    Returned {
        raw: u32,
        outputs: Vec<(String, Output)>,
    },
}

/// A run, normalised.
#[derive(Debug, Clone)]
pub struct Observation {
    pub runtime: String,
    pub end: EndClass,
    /// Per step; empty when the module has no trace (a generator-2 module).
    pub steps: Vec<StepObs>,
    /// Why the trace could not be read, when the module has one.
    pub trace_error: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub trees: BTreeMap<String, Tree>,
    pub canaries: Canaries,
}

/// Normalises an outcome. `plan` is the program and its compiled layout when the module
/// was compiled from a scenario; `None` for modules without a trace.
pub fn observe(runtime: &str, o: &Outcome, plan: Option<(&Scenario, &Layout)>) -> Observation {
    let end = match &o.ending {
        Ending::Exit(c) => EndClass::Exit(*c),
        Ending::Trap(_) => EndClass::Trap,
        Ending::Timeout => EndClass::Timeout,
        Ending::Crash(m) => EndClass::Crash(m.clone()),
    };
    let mut steps = Vec::new();
    let mut trace_error = None;
    if let Some((s, layout)) = plan {
        match trace::decode(layout, o.memory.as_deref()) {
            Ok(t) => {
                let m = o.memory.as_deref().unwrap_or_default();
                for (k, (step, state)) in s.steps.iter().zip(&t.steps).enumerate() {
                    steps.push(match *state {
                        StepState::NotStarted => StepObs::NotStarted,
                        StepState::Started => StepObs::Started,
                        StepState::Returned(raw) => {
                            let outputs = if raw == 0 { outputs(m, step, &layout.steps[k]) } else { Vec::new() };
                            StepObs::Returned { raw, outputs }
                        }
                    });
                }
            }
            Err(e) => trace_error = Some(e.to_string()),
        }
    }
    Observation {
        runtime: runtime.to_owned(),
        end,
        steps,
        trace_error,
        stdout: o.stdout.clone(),
        stderr: o.stderr.clone(),
        trees: o.trees.clone(),
        canaries: o.canaries.clone(),
    }
}

/// The compared outputs of a successful step (the rules above decide what is left out).
fn outputs(m: &[u8], step: &Step, sl: &wasi_conform_suite::compile::StepLayout) -> Vec<(String, Output)> {
    let f: &Function = step.function;
    let mut out = Vec::new();
    for (i, r) in f.results.iter().enumerate() {
        let at = sl.results[i];
        match r.ty {
            ResultType::Fd | ResultType::Timestamp => {}
            ResultType::Size => {
                if f.name != "fd_readdir" {
                    if let Some(v) = u32_at(m, at) {
                        out.push((r.name.to_owned(), Output::Int(v as u64)));
                    }
                }
            }
            ResultType::Filesize => {
                if let Some(v) = u64_at(m, at) {
                    out.push((r.name.to_owned(), Output::Int(v)));
                }
            }
            ResultType::Roflags => {
                if let Some(v) = u16_at(m, at) {
                    out.push((r.name.to_owned(), Output::Flags(&types::ROFLAGS, v as u64)));
                }
            }
            ResultType::Fdstat => {
                if let (Some(ft), Some(fl)) = (u8_at(m, at), u16_at(m, at + 2)) {
                    out.push((format!("{}.filetype", r.name), Output::Enum(&types::FILETYPE, ft as u64)));
                    out.push((format!("{}.flags", r.name), Output::Flags(&types::FDFLAGS, fl as u64)));
                }
            }
            ResultType::Filestat => {
                let field = |name: &str| {
                    let (_, off, size) = layout::field(layout::FILESTAT_FIELDS, name).expect("filestat field");
                    match size {
                        1 => u8_at(m, at + off).map(u64::from),
                        _ => u64_at(m, at + off),
                    }
                };
                if let Some(ft) = field("filetype") {
                    out.push((format!("{}.filetype", r.name), Output::Enum(&types::FILETYPE, ft)));
                    let dir = types::FILETYPE.value("directory") == Some(ft);
                    if !dir {
                        for name in ["nlink", "size"] {
                            if let Some(v) = field(name) {
                                out.push((format!("{}.{name}", r.name), Output::Int(v)));
                            }
                        }
                    }
                }
            }
            ResultType::Prestat => {
                if let Some(tag) = u8_at(m, at) {
                    out.push((format!("{}.tag", r.name), Output::Enum(&types::PREOPENTYPE, tag as u64)));
                }
            }
        }
    }
    let used = sl.results.first().and_then(|at| u32_at(m, *at));
    match f.name {
        "fd_read" | "fd_pread" | "sock_recv" => {
            let mut all = Vec::new();
            for (at, len) in &sl.iovecs {
                all.extend_from_slice(bytes_at(m, *at, *len).unwrap_or_default());
            }
            all.truncate(used.unwrap_or(0) as usize);
            out.push(("read".into(), Output::Bytes(all)));
        }
        "path_readlink" => {
            if let Some((at, len)) = sl.buffer {
                let n = used.unwrap_or(0).min(len);
                out.push(("contents".into(), Output::Bytes(bytes_at(m, at, n).unwrap_or_default().to_vec())));
            }
        }
        "fd_prestat_dir_name" => {
            if let Some((at, len)) = sl.buffer {
                let name = bytes_at(m, at, len).unwrap_or_default();
                let name = name.strip_prefix(b"/").unwrap_or(name);
                out.push(("name".into(), Output::Bytes(name.to_vec())));
            }
        }
        "fd_readdir" => {
            // Entry order is unspecified: only a whole listing (cookie 0, buffer not filled)
            // is the same set everywhere.
            let from_start = matches!(step.args.get(2), Some(Arg::Scalar(Scalar::Value(0))));
            if let (Some((at, len)), true) = (sl.buffer, from_start) {
                if used.is_none_or(|u| u >= len) {
                    return out;
                }
                let entries = decode_dirents(m, at, used.unwrap_or(0).min(len)).into_iter().collect();
                out.push(("entries".into(), Output::Entries(entries)));
            }
        }
        "poll_oneoff" => {
            if let Some((at, cap)) = sl.events {
                let mut ev = BTreeMap::new();
                for i in 0..used.unwrap_or(0).min(cap) {
                    let e = at + layout::EVENT.size * i;
                    if let (Some(ud), Some(err), Some(ty)) = (u64_at(m, e), u16_at(m, e + 8), u8_at(m, e + 10)) {
                        ev.insert(ud, (err as u32, ty as u64));
                    }
                }
                out.push(("events".into(), Output::Events(ev)));
            }
        }
        _ => {}
    }
    out
}

/// The errno a raw step result names, or its number.
pub fn describe_raw(raw: u32) -> String {
    Errno::from_raw(raw).map(|e| e.name().to_owned()).unwrap_or_else(|| format!("raw {raw}"))
}
