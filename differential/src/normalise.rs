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
//!
//! Guest memory is read by the suite's observation layer (`wasi_conform_suite::observe`), the
//! one the verdict reads; which outputs a function has comes from `wasi_conform_suite::views`
//! and the record tables; this module only decides what is compared.

use std::collections::BTreeMap;

use wasi_conform_abi::{types, Errno, Function, ResultType};
use wasi_conform_suite::compile::Layout;
use wasi_conform_suite::describe::{self, show_bytes};
use wasi_conform_suite::observe::{self, Outputs};
use wasi_conform_suite::outcome::{Canaries, Ending, Outcome};
use wasi_conform_suite::records::{self, FieldType};
use wasi_conform_suite::scenario::{Arg, Data, Scalar, Scenario, Step, Tree};
use wasi_conform_suite::trace::StepState;
use wasi_conform_suite::views::{self, ViewKind};

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
        match self {
            Output::Int(v) => v.to_string(),
            Output::Enum(e, v) => e.name_of(*v).map(str::to_owned).unwrap_or_else(|| v.to_string()),
            Output::Flags(f, v) => f.describe(*v),
            Output::Bytes(b) => show_bytes(b),
            Output::Strings(v) => format!("[{}]", v.iter().map(|s| show_bytes(s)).collect::<Vec<_>>().join(", ")),
            Output::Entries(m) => format!("{{{}}}", describe::entries(m.iter().map(|(k, t)| (k.as_slice(), *t)))),
            Output::Events(m) => format!(
                "[{}]",
                m.iter().map(|(u, (e, t))| format!("{u}: {}", describe::event(*e, *t))).collect::<Vec<_>>().join(", ")
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
        let seen = observe::Observation::new(layout, o);
        match seen.trace() {
            Ok(t) => {
                for (k, (step, state)) in s.steps.iter().zip(&t.steps).enumerate() {
                    steps.push(match *state {
                        StepState::NotStarted => StepObs::NotStarted,
                        StepState::Started => StepObs::Started,
                        StepState::Returned(raw) => {
                            let outputs = if raw == 0 { outputs(step, &seen.outputs(k, step)) } else { Vec::new() };
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
fn outputs(step: &Step, o: &Outputs) -> Vec<(String, Output)> {
    let f: &Function = step.function;
    let mut out = Vec::new();
    for (i, r) in f.results.iter().enumerate() {
        match r.ty {
            ResultType::Fd | ResultType::Timestamp => {}
            ResultType::Size => {
                if f.name != "fd_readdir" {
                    if let Some(v) = o.result(i) {
                        out.push((r.name.to_owned(), Output::Int(v)));
                    }
                }
            }
            ResultType::Filesize => {
                if let Some(v) = o.result(i) {
                    out.push((r.name.to_owned(), Output::Int(v)));
                }
            }
            ResultType::Roflags => {
                if let Some(v) = o.result(i) {
                    out.push((r.name.to_owned(), Output::Flags(&types::ROFLAGS, v)));
                }
            }
            ResultType::Fdstat => {
                if let (Some(ft), Some(fl)) = (o.field(i, "filetype"), o.field(i, "flags")) {
                    out.push(field(r.ty, r.name, "filetype", ft));
                    out.push(field(r.ty, r.name, "flags", fl));
                }
            }
            ResultType::Filestat => {
                if let Some(ft) = o.field(i, "filetype") {
                    out.push(field(r.ty, r.name, "filetype", ft));
                    let dir = types::FILETYPE.value("directory") == Some(ft);
                    if !dir {
                        for name in ["nlink", "size"] {
                            if let Some(v) = o.field(i, name) {
                                out.push(field(r.ty, r.name, name, v));
                            }
                        }
                    }
                }
            }
            ResultType::Prestat => {
                if let Some(tag) = o.field(i, "tag") {
                    out.push(field(r.ty, r.name, "tag", tag));
                }
            }
        }
    }
    for (name, kind) in views::views(f) {
        let view = match kind {
            ViewKind::Bytes => {
                let Some(bytes) = o.bytes() else { continue };
                // Preopen names without a leading `/` (see the module rules).
                let bytes = match f.name {
                    "fd_prestat_dir_name" => bytes.strip_prefix(b"/").map(<[u8]>::to_vec).unwrap_or(bytes),
                    _ => bytes,
                };
                Output::Bytes(bytes)
            }
            ViewKind::Entries => {
                // Entry order is unspecified: only a whole listing (cookie 0, buffer not
                // filled) is the same set everywhere.
                let from_start = matches!(step.args.get(2), Some(Arg::Scalar(Scalar::Value(0))));
                if !from_start || o.fills_buffer() != Some(false) {
                    continue;
                }
                Output::Entries(o.entries().unwrap_or_default().into_iter().collect())
            }
            ViewKind::Events => match o.events() {
                Some(events) => Output::Events(events),
                None => continue,
            },
            // argv and the environment are the fixture's; random bytes differ by design.
            ViewKind::Strings | ViewKind::Random => continue,
        };
        out.push(((*name).to_owned(), view));
    }
    out
}

/// A record field as an output named `result.field`, typed by the record table.
fn field(ty: ResultType, result: &str, name: &str, v: u64) -> (String, Output) {
    let output = match records::field_type(ty, name) {
        Some(FieldType::Enum(e)) => Output::Enum(e, v),
        Some(FieldType::Flags(t)) => Output::Flags(t, v),
        Some(FieldType::Int) | None => Output::Int(v),
    };
    (format!("{result}.{name}"), output)
}

/// The errno a raw step result names, or its number.
pub fn describe_raw(raw: u32) -> String {
    Errno::from_raw(raw).map(|e| e.name().to_owned()).unwrap_or_else(|| format!("raw {raw}"))
}
