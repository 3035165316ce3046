//! Judging one run: an [`Outcome`] against its [`Scenario`], into a [`Verdict`] whose
//! failure message names the step, the call with its decoded arguments, and expected vs
//! observed.
//!
//! It judges only: what the run left in guest memory is read by [`crate::observe`], and
//! values are shown by [`crate::describe`].

use std::collections::BTreeMap;

use wasi_conform_abi::types;
use wasi_conform_abi::{Errno, ResultType, Returns};

use crate::compile::Layout;
use crate::describe::{self, describe_call, step_number, tree_diff};
use crate::observe::{Observation, Outputs};
use crate::outcome::{Canaries, Ending, ExitWidth, Outcome};
use crate::records;
use crate::scenario::*;
use crate::trace::{StepState, Trace};
use crate::views::{self, ViewKind};

/// Re-exported for callers that still name them here (the run loop in
/// `wasi-conform-runners`, the report's collector, the smith replay example); their home is
/// [`crate::observe`] and [`crate::describe`].
pub use crate::describe::{describe_call_as_written, show_bytes};
pub use crate::observe::{steps_seen, StepSeen};

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
    let seen = Observation::new(layout, o);
    let mut j = Judge { s, o, seen: &seen, out: Vec::new(), trapped_where_allowed: false };
    match seen.trace() {
        Ok(t) => {
            if let Some(missing) = j.probes(t) {
                return Verdict::NotApplicable(missing);
            }
            j.trace(t)
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
    o: &'a Outcome,
    seen: &'a Observation<'a>,
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
                            self.call(k, step),
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
                            self.call(k, step),
                            self.o.ending
                        ));
                    }
                    return;
                }
                StepState::Returned(raw) => self.step(k, step, raw),
            }
        }
    }

    fn step(&mut self, k: usize, step: &Step, raw: u32) {
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
                self.call(k, step),
                expect.describe()
            ));
            return;
        }
        if observed != Some(Errno::Success) {
            return;
        }
        let outputs = self.seen.outputs(k, step);
        let mut diffs = Vec::new();
        for (name, check) in &step.expect.results {
            let (i, r) =
                step.function.results.iter().enumerate().find(|(_, r)| r.name == *name).expect("loader checked");
            self.check_result(name, r.ty, &outputs, i, check, &mut diffs);
        }
        for (name, check) in &step.expect.views {
            let kind = views::kind(step.function, name).expect("loader checked");
            self.check_view(name, kind, &outputs, check, &mut diffs);
        }
        if !diffs.is_empty() {
            self.out.push(format!("{}\n    {}", self.call(k, step), diffs.join("\n    ")));
        }
    }

    fn binding_value(&self, name: &str) -> Option<u64> {
        self.seen.binding(name)
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

    fn check_result(
        &self,
        name: &str,
        ty: ResultType,
        outputs: &Outputs,
        i: usize,
        check: &ValueCheck,
        diffs: &mut Vec<String>,
    ) {
        let plain = |v: u64| v.to_string();
        let unreadable = |diffs: &mut Vec<String>| {
            diffs.push(format!("{name}: out-pointer {:#x} is outside captured memory", outputs.result_ptr(i)))
        };
        match ty {
            ResultType::Size | ResultType::Fd | ResultType::Filesize | ResultType::Timestamp => {
                match outputs.result(i) {
                    Some(v) => self.check_value(name, v, check, &plain, diffs),
                    None => unreadable(diffs),
                }
            }
            ResultType::Roflags => match outputs.result(i) {
                Some(v) => self.check_value(name, v, check, &|v| types::ROFLAGS.describe(v), diffs),
                None => unreadable(diffs),
            },
            ResultType::Fdstat | ResultType::Filestat | ResultType::Prestat => {
                let ValueCheck::Fields(fields) = check else { return };
                for (field, c) in fields {
                    let (Some(v), Some(field_type)) = (outputs.field(i, field), records::field_type(ty, field)) else {
                        unreadable(diffs);
                        return;
                    };
                    self.check_value(&format!("{name}.{field}"), v, c, &|v| field_type.describe(v), diffs);
                }
            }
        }
    }

    fn check_view(&self, name: &str, kind: ViewKind, outputs: &Outputs, check: &ViewCheck, diffs: &mut Vec<String>) {
        match (kind, check) {
            (ViewKind::Bytes, ViewCheck::Bytes(want)) => match outputs.bytes() {
                Some(g) if g == *want => {}
                Some(g) => diffs.push(format!("{name}: expected {}, observed {}", show_bytes(want), show_bytes(&g))),
                None => diffs.push(format!("{name}: the buffer was passed raw, nothing to check")),
            },
            (ViewKind::Strings, ViewCheck::Strings(want)) => {
                let got = outputs.strings(want.len());
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
                let got = outputs.entries();
                let got_map: Option<BTreeMap<Vec<u8>, u64>> =
                    got.as_ref().map(|v| v.iter().map(|(n, t)| (n.clone(), *t)).collect());
                if got_map.as_ref() != Some(want) || got.as_ref().is_some_and(|v| v.len() != want.len()) {
                    let render = |m: &[(Vec<u8>, u64)]| describe::entries(m.iter().map(|(n, t)| (n.as_slice(), *t)));
                    let exp: Vec<(Vec<u8>, u64)> = want.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    diffs.push(format!(
                        "{name}: expected {{{}}}, observed {{{}}}",
                        render(&exp),
                        got.map(|g| render(&g)).unwrap_or_else(|| "raw buffer".into())
                    ));
                }
            }
            (ViewKind::Events, ViewCheck::Events(want)) => {
                let got = outputs.events().unwrap_or_default();
                let want_raw: BTreeMap<u64, (u32, u64)> =
                    want.iter().map(|(k, (e, t))| (*k, (e.raw() as u32, *t))).collect();
                if got != want_raw {
                    let render = |m: &BTreeMap<u64, (u32, u64)>| {
                        m.iter()
                            .map(|(ud, (e, t))| format!("{{userdata {ud}: {}}}", describe::event(*e, *t)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    diffs.push(format!("{name}: expected [{}], observed [{}]", render(&want_raw), render(&got)));
                }
            }
            (ViewKind::Random, ViewCheck::NotAllZero) => {
                if outputs.buffer().is_some_and(|b| !b.is_empty() && b.iter().all(|x| *x == 0)) {
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
    fn call(&self, k: usize, step: &Step) -> String {
        let call = describe_call(step, |b| self.binding_value(b));
        match step.probe {
            Some(cap) => format!("probe of `{}` (line {}): {call}", cap.as_str(), step.line),
            None => format!("step {} (line {}): {call}", step_number(self.s, k), step.line),
        }
    }
}
