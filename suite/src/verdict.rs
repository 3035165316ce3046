//! Judging one run: an [`Outcome`] against its [`Scenario`], into a [`Verdict`] whose
//! failure message names the step, the call with its decoded arguments, and expected vs
//! observed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use wasi_conform_abi::types::{self, FlagsType};
use wasi_conform_abi::{Errno, ParamType, ResultType, Returns};

use crate::compile::{Layout, StepLayout};
use crate::outcome::{Canaries, Ending, ExitWidth, Outcome};
use crate::scenario::*;
use crate::trace::{self, bytes_at, u16_at, u32_at, u64_at, u8_at, StepState, Trace};
use crate::views::{self, ViewKind};

/// The judgement of one scenario on one runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Behaviour differs from the scenario; one line per difference.
    Fail(Vec<String>),
    /// Something outside the preopens changed: a sandbox escape.
    Escape(Vec<String>),
    Timeout,
    Crash(String),
    /// The runtime lacks a capability the scenario `require:`s (its probe said so): the
    /// scenario says nothing about it, neither pass nor fail.
    NotApplicable(String),
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    /// Short class name for tables and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::Escape(_) => "escape",
            Verdict::Timeout => "timeout",
            Verdict::Crash(_) => "crash",
            Verdict::NotApplicable(_) => "not-applicable",
        }
    }

    pub fn is_not_applicable(&self) -> bool {
        matches!(self, Verdict::NotApplicable(_))
    }

    /// The full explanation.
    pub fn message(&self) -> String {
        match self {
            Verdict::Pass => "pass".to_owned(),
            Verdict::Fail(lines) => lines.join("\n"),
            Verdict::Escape(paths) => format!("SANDBOX ESCAPE: changed outside the preopens: {}", paths.join(", ")),
            Verdict::Timeout => "timeout: the run passed its time limit and was stopped".to_owned(),
            Verdict::Crash(m) => format!("runtime crash: {m}"),
            Verdict::NotApplicable(m) => format!("not applicable: {m}"),
        }
    }
}

/// Judges an outcome.
pub fn judge(s: &Scenario, layout: &Layout, o: &Outcome) -> Verdict {
    if let Canaries::Changed(paths) = &o.canaries {
        return Verdict::Escape(paths.clone());
    }
    match &o.ending {
        Ending::Timeout => return Verdict::Timeout,
        Ending::Crash(m) => return Verdict::Crash(m.clone()),
        Ending::Exit(_) | Ending::Trap(_) => {}
    }
    let mut j = Judge {
        s,
        layout,
        o,
        mem: o.memory.as_deref().unwrap_or_default(),
        out: Vec::new(),
        trapped_where_allowed: false,
    };
    match trace::decode(layout, o.memory.as_deref()) {
        Ok(t) => {
            if let Some(missing) = j.probes(&t) {
                return Verdict::NotApplicable(missing);
            }
            j.trace(&t)
        }
        Err(e) => j.out.push(format!("cannot read the trace: {e} (run ended with {})", o.ending)),
    }
    // A step that may trap and did ended the program there: what the scenario says of the
    // end, the streams and the final tree describes the run that did not trap.
    if !j.trapped_where_allowed {
        j.ending();
        j.streams();
        j.trees();
    }
    if j.out.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(j.out)
    }
}

struct Judge<'a> {
    s: &'a Scenario,
    layout: &'a Layout,
    o: &'a Outcome,
    mem: &'a [u8],
    out: Vec<String>,
    /// The run trapped inside a step that lists `trap` among its answers.
    trapped_where_allowed: bool,
}

impl Judge<'_> {
    /// The capability a probe step found missing, if any (see [`crate::load::probe`]).
    fn probes(&self, t: &Trace) -> Option<String> {
        for (step, state) in self.s.steps.iter().zip(&t.steps) {
            let Some(cap) = step.probe else { break };
            if let StepState::Returned(raw) = *state {
                let missing = crate::load::probe::missing_when(cap);
                if Errno::from_raw(raw).is_some_and(|e| missing.contains(&e)) {
                    return Some(format!("requires `{}`; this runtime has {}", cap.as_str(), cap.missing()));
                }
            }
        }
        None
    }

    fn trace(&mut self, t: &Trace) {
        let missing: Vec<&str> = self
            .s
            .fixture
            .preopens
            .iter()
            .zip(&t.slots)
            .filter(|(_, slot)| slot.is_none())
            .map(|(p, _)| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            let seen: Vec<String> =
                t.scanned.iter().map(|p| format!("fd {} = {:?}", p.fd, String::from_utf8_lossy(&p.name))).collect();
            self.out.push(format!(
                "preopen(s) {} not found by name; the guest's fd_prestat scan saw [{}]",
                missing.join(", "),
                seen.join(", ")
            ));
        }
        let last = self.s.steps.len().saturating_sub(1);
        for (k, (step, state)) in self.s.steps.iter().zip(&t.steps).enumerate() {
            let sl = &self.layout.steps[k];
            match *state {
                StepState::NotStarted => {
                    self.out.push(format!(
                        "step {} ({}) was never reached: the run ended with {}",
                        k + 1,
                        step.function.name,
                        self.o.ending
                    ));
                    return;
                }
                StepState::Started => {
                    if step.expect.errno.as_ref().is_some_and(ErrnoExpect::allows_trap)
                        && matches!(self.o.ending, Ending::Trap(_))
                    {
                        self.trapped_where_allowed = true;
                        return;
                    }
                    if step.probe.is_some() {
                        self.out.push(format!(
                            "{}: the capability probe did not return: the run ended inside it with {}",
                            self.call(k, step, sl),
                            self.o.ending
                        ));
                        return;
                    }
                    let expected_end = k == last
                        && match (&self.s.end, &self.o.ending) {
                            (end, Ending::Trap(_)) => end.allows_trap(),
                            (end, Ending::Exit(_)) => {
                                !end.exits().is_empty() && step.function.returns == Returns::Never
                            }
                            _ => false,
                        };
                    if !expected_end && step.function.returns == Returns::Errno {
                        self.out.push(format!(
                            "{}: did not return: the run ended inside it with {}",
                            self.call(k, step, sl),
                            self.o.ending
                        ));
                    }
                    return;
                }
                StepState::Returned(raw) => self.step(k, step, sl, raw),
            }
        }
    }

    fn step(&mut self, k: usize, step: &Step, sl: &StepLayout, raw: u32) {
        let Some(expect) = &step.expect.errno else { return };
        let observed = Errno::from_raw(raw);
        let ok = observed.is_some_and(|e| expect.allows(e));
        if !ok {
            let obs = observed.map(|e| e.name().to_owned()).unwrap_or_else(|| format!("{raw} (not an errno)"));
            let why = match expect {
                ErrnoExpect::OneOf { because, .. } => format!(" ({because})"),
                ErrnoExpect::One(_) => String::new(),
            };
            self.out.push(format!(
                "{}\n    errno: expected {}{why}, observed {obs}",
                self.call(k, step, sl),
                expect.describe()
            ));
            return;
        }
        if observed != Some(Errno::Success) {
            return;
        }
        let mut diffs = Vec::new();
        for (name, check) in &step.expect.results {
            let (i, r) =
                step.function.results.iter().enumerate().find(|(_, r)| r.name == *name).expect("loader checked");
            let at = sl.results[i];
            self.check_result(name, r.ty, at, check, &mut diffs);
        }
        for (name, check) in &step.expect.views {
            let kind =
                views::views(step.function).iter().find(|(n, _)| n == name).map(|(_, k)| *k).expect("loader checked");
            self.check_view(name, kind, step, sl, check, &mut diffs);
        }
        if !diffs.is_empty() {
            self.out.push(format!("{}\n    {}", self.call(k, step, sl), diffs.join("\n    ")));
        }
    }

    fn binding_value(&self, name: &str) -> Option<u64> {
        let (at, width) = *self.layout.bindings.get(name)?;
        match width {
            1 => u8_at(self.mem, at).map(u64::from),
            2 => u16_at(self.mem, at).map(u64::from),
            8 => u64_at(self.mem, at),
            _ => u32_at(self.mem, at).map(u64::from),
        }
    }

    fn bound(&self, b: &Option<Bound>) -> Option<Option<u64>> {
        match b {
            None => Some(None),
            Some(Bound::Value(v)) => Some(Some(*v)),
            Some(Bound::Binding(n)) => self.binding_value(n).map(Some),
        }
    }

    fn check_value(
        &self,
        what: &str,
        v: u64,
        check: &ValueCheck,
        render: &dyn Fn(u64) -> String,
        diffs: &mut Vec<String>,
    ) {
        let ok = match check {
            ValueCheck::Exact(x) => v == *x,
            ValueCheck::Range { min, max } => match (self.bound(min), self.bound(max)) {
                (Some(lo), Some(hi)) => lo.is_none_or(|m| v >= m) && hi.is_none_or(|m| v <= m),
                _ => false,
            },
            ValueCheck::SameAs(b) => self.binding_value(b) == Some(v),
            ValueCheck::OneOf { set, .. } => set.contains(&v),
            ValueCheck::Bits { set, clear } => v & set == *set && v & clear == 0,
            ValueCheck::Fields(_) => true,
        };
        if !ok {
            let exp = match check {
                ValueCheck::Exact(x) => render(*x),
                ValueCheck::Range { min, max } => {
                    let show = |b: &Option<Bound>| match b {
                        None => String::new(),
                        Some(Bound::Value(v)) => v.to_string(),
                        Some(Bound::Binding(n)) => format!(
                            "${n}({})",
                            self.binding_value(n).map(|v| v.to_string()).unwrap_or_else(|| "?".into())
                        ),
                    };
                    format!("{}..={}", show(min), show(max))
                }
                ValueCheck::SameAs(b) => {
                    format!("${b} = {}", self.binding_value(b).map(render).unwrap_or_else(|| "?".into()))
                }
                ValueCheck::OneOf { set, because } => {
                    format!("one of {} ({because})", set.iter().map(|x| render(*x)).collect::<Vec<_>>().join(", "))
                }
                ValueCheck::Bits { set, clear } => {
                    format!("including {} and excluding {}", render(*set), render(*clear))
                }
                ValueCheck::Fields(_) => String::new(),
            };
            diffs.push(format!("{what}: expected {exp}, observed {}", render(v)));
        }
    }

    fn check_result(&self, name: &str, ty: ResultType, at: u32, check: &ValueCheck, diffs: &mut Vec<String>) {
        let plain = |v: u64| v.to_string();
        let unreadable =
            |diffs: &mut Vec<String>| diffs.push(format!("{name}: out-pointer {at:#x} is outside captured memory"));
        match ty {
            ResultType::Size | ResultType::Fd => match u32_at(self.mem, at) {
                Some(v) => self.check_value(name, v as u64, check, &plain, diffs),
                None => unreadable(diffs),
            },
            ResultType::Filesize | ResultType::Timestamp => match u64_at(self.mem, at) {
                Some(v) => self.check_value(name, v, check, &plain, diffs),
                None => unreadable(diffs),
            },
            ResultType::Roflags => match u16_at(self.mem, at) {
                Some(v) => self.check_value(name, v as u64, check, &|v| types::ROFLAGS.describe(v), diffs),
                None => unreadable(diffs),
            },
            ResultType::Fdstat | ResultType::Filestat | ResultType::Prestat => {
                let ValueCheck::Fields(fields) = check else { return };
                for (field, c) in fields {
                    let Some((v, render)) = record_field(self.mem, ty, at, field) else {
                        unreadable(diffs);
                        return;
                    };
                    self.check_value(&format!("{name}.{field}"), v, c, &render, diffs);
                }
            }
        }
    }

    fn check_view(
        &self,
        name: &str,
        kind: ViewKind,
        step: &Step,
        sl: &StepLayout,
        check: &ViewCheck,
        diffs: &mut Vec<String>,
    ) {
        let used = sl.results.first().and_then(|at| u32_at(self.mem, *at));
        match (kind, check) {
            (ViewKind::Bytes, ViewCheck::Bytes(want)) => {
                let got = match (sl.buffer, sl.iovecs.is_empty()) {
                    (Some((at, len)), _) => {
                        let n = if step.function.results.is_empty() { len } else { used.unwrap_or(0).min(len) };
                        bytes_at(self.mem, at, n).map(<[u8]>::to_vec)
                    }
                    (None, false) => {
                        let mut all = Vec::new();
                        for (at, len) in &sl.iovecs {
                            all.extend_from_slice(bytes_at(self.mem, *at, *len).unwrap_or_default());
                        }
                        all.truncate(used.unwrap_or(0) as usize);
                        Some(all)
                    }
                    (None, true) => None,
                };
                match got {
                    Some(g) if g == *want => {}
                    Some(g) => {
                        diffs.push(format!("{name}: expected {}, observed {}", show_bytes(want), show_bytes(&g)))
                    }
                    None => diffs.push(format!("{name}: the buffer was passed raw, nothing to check")),
                }
            }
            (ViewKind::Strings, ViewCheck::Strings(want)) => {
                let got = decode_strings(self.mem, sl, want.len());
                if got.as_ref() != Ok(want) {
                    let obs = match got {
                        Ok(v) => format!("[{}]", v.iter().map(|s| show_bytes(s)).collect::<Vec<_>>().join(", ")),
                        Err(e) => e,
                    };
                    let exp = format!("[{}]", want.iter().map(|s| show_bytes(s)).collect::<Vec<_>>().join(", "));
                    diffs.push(format!("{name}: expected {exp}, observed {obs}"));
                }
            }
            (ViewKind::Entries, ViewCheck::Entries(want)) => {
                let got = sl.buffer.map(|(at, len)| decode_dirents(self.mem, at, used.unwrap_or(0).min(len)));
                let got_map: Option<BTreeMap<Vec<u8>, u64>> =
                    got.as_ref().map(|v| v.iter().map(|(n, t)| (n.clone(), *t)).collect());
                if got_map.as_ref() != Some(want) || got.as_ref().is_some_and(|v| v.len() != want.len()) {
                    let render = |m: &[(Vec<u8>, u64)]| {
                        m.iter()
                            .map(|(n, t)| format!("{}: {}", show_bytes(n), types::FILETYPE.name_of(*t).unwrap_or("?")))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let exp: Vec<(Vec<u8>, u64)> = want.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    diffs.push(format!(
                        "{name}: expected {{{}}}, observed {{{}}}",
                        render(&exp),
                        got.map(|g| render(&g)).unwrap_or_else(|| "raw buffer".into())
                    ));
                }
            }
            (ViewKind::Events, ViewCheck::Events(want)) => {
                let n = used.unwrap_or(0);
                let mut got = BTreeMap::new();
                if let Some((at, cap)) = sl.events {
                    for i in 0..n.min(cap) {
                        let e = at + 32 * i;
                        let (Some(ud), Some(err), Some(ty)) =
                            (u64_at(self.mem, e), u16_at(self.mem, e + 8), u8_at(self.mem, e + 10))
                        else {
                            break;
                        };
                        got.insert(ud, (err as u32, ty as u64));
                    }
                }
                let want_raw: BTreeMap<u64, (u32, u64)> =
                    want.iter().map(|(k, (e, t))| (*k, (e.raw() as u32, *t))).collect();
                if got != want_raw {
                    let render = |m: &BTreeMap<u64, (u32, u64)>| {
                        m.iter()
                            .map(|(ud, (e, t))| {
                                format!(
                                    "{{userdata {ud}: {} {}}}",
                                    types::EVENTTYPE.name_of(*t).unwrap_or("?"),
                                    Errno::from_raw(*e).map(|e| e.name().to_owned()).unwrap_or_else(|| e.to_string())
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    diffs.push(format!("{name}: expected [{}], observed [{}]", render(&want_raw), render(&got)));
                }
            }
            (ViewKind::Random, ViewCheck::NotAllZero) => {
                let got = sl.buffer.and_then(|(at, len)| bytes_at(self.mem, at, len));
                if got.is_some_and(|b| !b.is_empty() && b.iter().all(|x| *x == 0)) {
                    diffs.push(format!("{name}: every byte is zero"));
                }
            }
            _ => diffs.push(format!("{name}: internal: view kind and check disagree")),
        }
    }

    fn ending(&mut self) {
        let end = &self.s.end;
        let ok = match &self.o.ending {
            Ending::Exit(got) => end.exits().iter().any(|want| self.o.exit_width.matches(*want, *got)),
            Ending::Trap(_) => end.allows_trap(),
            Ending::Timeout | Ending::Crash(_) => false,
        };
        if !ok {
            let width = match (self.o.exit_width, &self.o.ending) {
                (ExitWidth::LowByte, Ending::Exit(_)) => " (this runtime reports an exit status modulo 256)",
                _ => "",
            };
            self.out.push(format!("end: expected {}, observed {}{width}", end.describe(), self.o.ending));
        }
    }

    fn streams(&mut self) {
        for (name, want, got) in
            [("stdout", &self.s.stdout, &self.o.stdout), ("stderr", &self.s.stderr, &self.o.stderr)]
        {
            if let Some(w) = want {
                if w != got {
                    self.out.push(format!("{name}: expected {}, observed {}", show_bytes(w), show_bytes(got)));
                }
            }
        }
    }

    fn trees(&mut self) {
        let Some(want) = &self.s.tree else { return };
        let differences = |alternative: &BTreeMap<String, Tree>| {
            let mut out = Vec::new();
            for (name, w) in alternative {
                let empty = Tree::new();
                let got = self.o.trees.get(name).unwrap_or(&empty);
                let diffs = tree_diff(w, got);
                if !diffs.is_empty() {
                    out.push(format!("final tree of {name}:\n    {}", diffs.join("\n    ")));
                }
            }
            out
        };
        let all: Vec<Vec<String>> = want.alternatives().iter().map(differences).collect();
        if all.iter().any(Vec::is_empty) {
            return;
        }
        match want {
            TreeExpect::One(_) => self.out.extend(all.into_iter().flatten()),
            TreeExpect::OneOf { because, .. } => {
                let (k, closest) =
                    all.iter().enumerate().min_by_key(|(_, d)| d.len()).expect("at least two alternatives");
                self.out.push(format!(
                    "final tree: none of the {} alternatives ({because}) matches; closest, alternative {}:",
                    all.len(),
                    k + 1
                ));
                self.out.extend(closest.iter().cloned());
            }
        }
    }

    /// `step 3 (line 12): path_open(fd=$sandbox(3), …)`; a probe step is `probe of rights`.
    fn call(&self, k: usize, step: &Step, sl: &StepLayout) -> String {
        let _ = sl;
        let call = describe_call(step, |b| self.binding_value(b));
        match step.probe {
            Some(cap) => format!("probe of `{}` (line {}): {call}", cap.as_str(), step.line),
            None => format!("step {} (line {}): {call}", step_number(self.s, k), step.line),
        }
    }
}

/// The 1-based number of the step at index `k` among the scenario's own steps (the probe
/// steps the loader adds for `require:` are not counted).
pub fn step_number(s: &Scenario, k: usize) -> usize {
    k + 1 - s.steps[..k].iter().filter(|x| x.probe.is_some()).count()
}

/// `path_open(fd=$sandbox(3), dirflags=0, path="a", …)`, bindings resolved where known.
pub fn describe_call(step: &Step, binding: impl Fn(&str) -> Option<u64>) -> String {
    call_text(step, binding, Bindings::Resolved)
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
        };
        match (p.ty, a) {
            (_, Arg::Scalar(Scalar::Binding(b))) if bindings == Bindings::AsWritten => {
                let _ = write!(s, "${b}");
            }
            (_, Arg::Scalar(Scalar::Binding(b))) => {
                let v = binding(b).map(|v| v.to_string()).unwrap_or_else(|| "?".into());
                let _ = write!(s, "${b}({v})");
            }
            (ParamType::Enum(e), Arg::Scalar(v)) => {
                let v = scalar(v);
                let _ = write!(s, "{}", e.name_of(v).map(str::to_owned).unwrap_or_else(|| format!("{v} (invalid)")));
            }
            (ParamType::Flags(f), Arg::Scalar(v)) => s.push_str(&describe_flags(f, scalar(v))),
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

fn describe_flags(f: &FlagsType, v: u64) -> String {
    f.describe(v)
}

/// Renders a field value for messages.
type Render = Box<dyn Fn(u64) -> String>;

/// Reads one field of a record result (offsets from the ABI table); returns the value and
/// how to render it.
fn record_field(m: &[u8], ty: ResultType, at: u32, field: &str) -> Option<(u64, Render)> {
    let (_, offset, size) = wasi_conform_abi::layout::field(ty.fields(), field)?;
    let v = match size {
        1 => u8_at(m, at + offset)? as u64,
        2 => u16_at(m, at + offset)? as u64,
        4 => u32_at(m, at + offset)? as u64,
        _ => u64_at(m, at + offset)?,
    };
    let render: Render = match field {
        "filetype" => {
            Box::new(|v| types::FILETYPE.name_of(v).map(str::to_owned).unwrap_or_else(|| format!("{v} (invalid)")))
        }
        "flags" => Box::new(|v| types::FDFLAGS.describe(v)),
        "rights_base" | "rights_inheriting" => Box::new(|v| types::RIGHTS.describe(v)),
        "tag" => Box::new(|v| types::PREOPENTYPE.name_of(v).unwrap_or("invalid").to_owned()),
        _ => Box::new(|v| v.to_string()),
    };
    Some((v, render))
}

/// Decodes `n` strings of an `args_get`/`environ_get` call and checks nothing more was
/// written into the string buffer.
fn decode_strings(m: &[u8], sl: &StepLayout, n: usize) -> Result<Vec<Vec<u8>>, String> {
    let (&(arr, arr_size), &(buf, buf_size)) = match (sl.regions.first(), sl.regions.get(1)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err("raw pointers: nothing to decode".into()),
    };
    let mut out = Vec::new();
    let mut end = buf;
    for i in 0..n as u32 {
        if 4 * i + 4 > arr_size {
            return Err(format!("more than {} pointers do not fit the {arr_size}-byte array", arr_size / 4));
        }
        let p = u32_at(m, arr + 4 * i).ok_or("pointer array unreadable")?;
        if p < buf || p >= buf + buf_size {
            return Err(format!("pointer {i} = {p:#x} is outside the string buffer"));
        }
        let rest = bytes_at(m, p, buf + buf_size - p).ok_or("string buffer unreadable")?;
        let len = rest.iter().position(|b| *b == 0).ok_or(format!("string {i} is not NUL-terminated"))?;
        out.push(rest[..len].to_vec());
        end = end.max(p + len as u32 + 1);
    }
    let tail = bytes_at(m, end, buf + buf_size - end).unwrap_or_default();
    if tail.iter().any(|b| *b != 0) {
        let extra = tail.split(|b| *b == 0).filter(|s| !s.is_empty()).map(show_bytes).collect::<Vec<_>>();
        out.extend(extra.iter().map(|s| format!("+{s}").into_bytes()));
    }
    Ok(out)
}

/// Complete `dirent`s in `buf[..used]`, in order; a truncated last entry is dropped.
pub fn decode_dirents(m: &[u8], at: u32, used: u32) -> Vec<(Vec<u8>, u64)> {
    let Some(buf) = bytes_at(m, at, used) else { return Vec::new() };
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + 24 <= buf.len() {
        let namlen = u32::from_le_bytes(buf[off + 16..off + 20].try_into().expect("4 bytes")) as usize;
        let ty = buf[off + 20] as u64;
        let Some(name) = buf.get(off + 24..off + 24 + namlen) else { break };
        out.push((name.to_vec(), ty));
        off += 24 + namlen;
    }
    out
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

/// One step of a run as the report shows it: what the call returned, beside what the
/// scenario expects of it (`Step::expect.errno`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepSeen {
    /// The errno name the call returned (`perm`), `<n> (not an errno)`, `not reached`
    /// (the run ended before the step) or `did not return` (the run ended inside it).
    pub observed: String,
    /// Whether the returned errno is one the scenario allows; `None` when the scenario
    /// states no errno for the step or the call never returned one.
    pub errno_ok: Option<bool>,
}

/// Every step of a run, observed, in scenario order; empty when the trace cannot be read
/// (the verdict's message says why). Read from the same trace [`judge`] reads.
pub fn steps_seen(s: &Scenario, layout: &Layout, o: &Outcome) -> Vec<StepSeen> {
    let Ok(t) = trace::decode(layout, o.memory.as_deref()) else { return Vec::new() };
    s.steps
        .iter()
        .zip(&t.steps)
        .map(|(step, state)| match *state {
            StepState::NotStarted => StepSeen { observed: "not reached".to_owned(), errno_ok: None },
            StepState::Started if matches!(o.ending, Ending::Trap(_)) => StepSeen {
                observed: "trapped".to_owned(),
                errno_ok: step.expect.errno.as_ref().filter(|x| x.allows_trap()).map(|_| true),
            },
            StepState::Started => StepSeen { observed: "did not return".to_owned(), errno_ok: None },
            StepState::Returned(raw) => {
                let errno = Errno::from_raw(raw);
                StepSeen {
                    observed: errno.map(|e| e.name().to_owned()).unwrap_or_else(|| format!("{raw} (not an errno)")),
                    errno_ok: step.expect.errno.as_ref().map(|x| errno.is_some_and(|e| x.allows(e))),
                }
            }
        })
        .collect()
}

/// A call with its arguments as written in the scenario, bindings by name (`$sandbox`):
/// the same for every runtime, unlike [`describe_call`] which shows their run-time values.
pub fn describe_call_as_written(step: &Step) -> String {
    call_text(step, |_| None, Bindings::AsWritten)
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

    #[test]
    fn no_trace_no_steps_seen() {
        let s = scenario();
        let c = crate::compile::compile(&s).unwrap();
        let o = Outcome {
            ending: Ending::Crash("x".into()),
            exit_width: crate::outcome::ExitWidth::Full,
            stdout: vec![],
            stderr: vec![],
            memory: None,
            trees: BTreeMap::new(),
            canaries: Canaries::Intact,
            elapsed: std::time::Duration::ZERO,
        };
        assert!(steps_seen(&s, &c.layout, &o).is_empty());
    }
}
