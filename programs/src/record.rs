//! `wasi-conform record`: a traced run of a program written back as a scenario — the
//! fixture from the program's directories, argv, environment and stdin, and every preview1
//! call the program made as a step with its raw arguments. The expectations are the
//! reference's ([`wasi_conform_differential::write::bless_with`]); the strength is
//! `choice` until a person has reviewed them against the spec.
//!
//! Descriptors are written the way a scenario names them: a preopen by its binding
//! (`$lib`, found from the `fd_prestat_dir_name` calls of the trace), a descriptor a call
//! returned by the binding its step makes (`$f12`), stdio and every other number as the
//! number the reference saw. So a runtime that numbers descriptors differently runs the
//! same scenario; the rights a `path_open` asks for, when they come from the directory's
//! `fs_rights_inheriting` as wasi-libc computes them, are that runtime's value masked the
//! same way (`{of: $inh, and: …}`); a directory cookie an earlier `fd_readdir` handed out is bound there
//! (`entries.N.next`) and passed by name; a number the program guessed (the end of the prestat scan) stays a
//! number, as the program passed it.
//!
//! What a trace cannot give back is made as close as it can be and said in
//! [`Recording::notes`]: the `ciovec`s past the [`MAX_IOVECS`] recorded are left out, a
//! string cut or out of bounds is passed raw.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasi_conform_abi::layout::{dirent, fdstat, subscription, subscription_clock, subscription_fd_readwrite, DIRENT};
use wasi_conform_abi::types::{eventtype, whence};
use wasi_conform_abi::{Function, ParamType, ResultType};
use wasi_conform_case::fixture::Fixture;
use wasi_conform_differential::minimise;
use wasi_conform_differential::oracle::{Divergence, Oracle, OracleError, Place, Plan};
use wasi_conform_differential::program::fix_counts;
use wasi_conform_differential::triage::{signatures, Signature};
use wasi_conform_differential::write::{bless_with, to_yaml, Checks};
use wasi_conform_runners::registry::{self, REFERENCE};
use wasi_conform_suite::compile::{self, CompileError};
use wasi_conform_suite::load::{self, limits};
use wasi_conform_suite::scenario::{
    Arg, Bind, BindSource, Data, End, EntryIndex, Scalar, Scenario, Step, StepExpect, Strength, Subscription,
    SubscriptionKind, ViewCheck,
};
use wasi_conform_suite::verdict;

use crate::calls::Call;
use crate::compare::le;
use crate::diff::{run_traced, DiffError};
use crate::instrument::instrument;
use crate::program::Program;
use crate::regions::{core_indices, Region, MAX_IOVECS};

/// A recorded scenario (expectations not yet filled) and what could not be reproduced
/// exactly.
#[derive(Debug, Clone)]
pub struct Recording {
    pub scenario: Scenario,
    pub notes: Vec<String>,
}

/// The room a `Region` argument (`args_get`'s and `environ_get`'s areas) gets: the
/// loader's default, or more when the fixture's strings need it.
fn area_size(fixture: &Fixture) -> u32 {
    let need = |v: &[String]| {
        let strings: usize = v.iter().map(|s| s.len() + 1).sum();
        strings.max(4 * (v.len() + 1))
    };
    need(&fixture.args).max(need(&fixture.env)).max(4096) as u32
}

/// Descriptor numbers as the reference saw them, mapped to what a scenario passes.
struct Fds {
    names: BTreeMap<u64, String>,
}

impl Fds {
    fn arg(&self, raw: u64) -> Scalar {
        match self.names.get(&raw) {
            Some(name) => Scalar::Binding(name.clone()),
            None => Scalar::Value(raw),
        }
    }
}

/// The preopen bindings of the reference's descriptors, from the names
/// `fd_prestat_dir_name` gave.
fn preopen_fds(calls: &[Call], fixture: &Fixture) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for c in calls.iter().filter(|c| c.function.name == "fd_prestat_dir_name" && c.errno == Some(0)) {
        let Some(name) = c.region(|r| matches!(r, Region::Buffer { .. })) else { continue };
        let trim = |s: &[u8]| {
            let s = s.strip_prefix(b"./").unwrap_or(s);
            s.strip_prefix(b"/").unwrap_or(s).to_vec()
        };
        if let Some(p) = fixture.preopens.iter().find(|p| trim(p.name.as_bytes()) == trim(name)) {
            out.entry(c.args[0]).or_insert_with(|| p.binding.clone());
        }
    }
    out
}

/// The entries (buffer address, length) of a recorded iovec array.
fn array(call: &Call, param: usize) -> Vec<(u32, u32)> {
    let Some(b) = call.region(|r| matches!(r, Region::Array { param: p, .. } if *p == param)) else {
        return Vec::new();
    };
    b.chunks_exact(8)
        .map(|e| (u32::from_le_bytes(e[..4].try_into().expect("4")), u32::from_le_bytes(e[4..].try_into().expect("4"))))
        .collect()
}

/// One call as a step (without expectations).
fn step(k: usize, call: &Call, fds: &Fds, area: u32, notes: &mut Vec<String>) -> Step {
    let f: &'static Function = call.function;
    let (core, _) = core_indices(f);
    let raw = |i: usize| call.args.get(i).copied().unwrap_or(0);
    let mut note = |what: String| notes.push(format!("call #{} ({}): {what}", k + 1, f.name));
    let mut args = Vec::with_capacity(f.params.len());
    for (i, p) in f.params.iter().enumerate() {
        let at = core[i];
        let arg = match p.ty {
            ParamType::Fd => Arg::Scalar(fds.arg(raw(at))),
            ParamType::U32 | ParamType::U64 | ParamType::S64 | ParamType::Enum(_) | ParamType::Flags(_) => {
                Arg::Scalar(Scalar::Value(raw(at)))
            }
            ParamType::Str => {
                let (ptr, len) = (raw(at) as u32, raw(at + 1) as u32);
                match call.region(|r| matches!(r, Region::Str { param, .. } if *param == i)) {
                    Some(b) if b.len() as u32 == len => Arg::Str(Data::Bytes(b.to_vec())),
                    _ => {
                        note(format!("`{}` was not recorded whole; passed raw ({ptr:#x}, {len})", p.name));
                        Arg::Str(Data::Raw { ptr, len })
                    }
                }
            }
            ParamType::Ciovecs => {
                let count = raw(at + 1) as u32;
                let parts = (0..count.min(MAX_IOVECS))
                    .map(|j| {
                        let bytes =
                            call.region(|r| matches!(r, Region::Ciovec { param, k, .. } if *param == i && *k == j));
                        bytes.unwrap_or_default().to_vec()
                    })
                    .collect();
                if count > MAX_IOVECS {
                    note(format!("`{}`: {count} ciovecs, the first {MAX_IOVECS} recorded and passed", p.name));
                }
                Arg::Ciovecs(parts)
            }
            ParamType::Iovecs => {
                let (ptr, count) = (raw(at) as u32, raw(at + 1) as u32);
                let entries = array(call, i);
                if entries.len() as u32 != count {
                    note(format!("`{}`: {count} iovecs, {} recorded; passed raw", p.name, entries.len()));
                    Arg::Raw { ptr, len: count }
                } else {
                    Arg::Iovecs(entries.iter().map(|(_, len)| *len).collect())
                }
            }
            ParamType::Buffer => {
                let (ptr, len) = (raw(at) as u32, raw(at + 1) as u32);
                if limits::value("a buffer", len as u64).is_ok() {
                    Arg::Buffer { size: len, len }
                } else {
                    note(format!("`{}` of {len} bytes is over a scenario's limit; passed raw", p.name));
                    Arg::Raw { ptr, len }
                }
            }
            ParamType::Region => Arg::Region(area),
            ParamType::Events => Arg::Events(1),
            ParamType::Subscriptions => {
                let count = raw(at + 2) as usize;
                match call.region(|r| matches!(r, Region::Subscriptions { .. })) {
                    Some(b) if b.len() == 48 * count => Arg::Subscriptions(
                        b.chunks_exact(48)
                            .map(|r| {
                                let userdata = le(r, subscription::USERDATA);
                                let tag = le(r, subscription::TAG) as u8;
                                let kind = match tag {
                                    eventtype::CLOCK => SubscriptionKind::Clock {
                                        id: le(r, subscription_clock::ID),
                                        timeout: le(r, subscription_clock::TIMEOUT),
                                        precision: le(r, subscription_clock::PRECISION),
                                        flags: le(r, subscription_clock::FLAGS),
                                    },
                                    eventtype::FD_READ => SubscriptionKind::FdRead(
                                        fds.arg(le(r, subscription_fd_readwrite::FILE_DESCRIPTOR)),
                                    ),
                                    eventtype::FD_WRITE => SubscriptionKind::FdWrite(
                                        fds.arg(le(r, subscription_fd_readwrite::FILE_DESCRIPTOR)),
                                    ),
                                    other => SubscriptionKind::Tag(other),
                                };
                                Subscription { userdata, kind }
                            })
                            .collect(),
                    ),
                    _ => {
                        note(format!("{count} subscriptions, not all recorded; passed raw"));
                        Arg::Raw { ptr: raw(at) as u32, len: count as u32 }
                    }
                }
            }
        };
        args.push(arg);
    }
    let mut bind = Vec::new();
    if let Some(r) = f.results.iter().position(|r| r.ty == ResultType::Fd) {
        bind.push(Bind { name: format!("f{}", k + 1), source: BindSource::Result { result: r, field: None } });
    }
    let mut step = Step {
        function: f,
        args,
        defaulted: Vec::new(),
        out_ptrs: vec![None; f.results.len()],
        bind,
        expect: StepExpect::default(),
        probe: None,
        line: k + 1,
    };
    if f.name == "poll_oneoff" && matches!(step.args.first(), Some(Arg::Subscriptions(_))) {
        fix_counts(&mut step);
    }
    step
}

/// The `next` cookie of every complete entry of a `fd_readdir` buffer, in order.
fn next_cookies(buf: &[u8]) -> Vec<u64> {
    let header = DIRENT.size as usize;
    let mut out = Vec::new();
    let mut at = 0;
    while at + header <= buf.len() {
        let n = le(&buf[at..], dirent::NAMLEN) as usize;
        if at + header + n > buf.len() {
            break;
        }
        out.push(le(&buf[at..], dirent::NEXT));
        at += header + n;
    }
    out
}

/// Makes `step` bind `name` from `source`, unless an earlier use already did.
fn bind_once(step: &mut Step, name: &str, source: BindSource) {
    if !step.bind.iter().any(|b| b.name == name) {
        step.bind.push(Bind { name: name.to_owned(), source });
    }
}

/// A `fd_readdir` that resumes a listing passes the cookie an earlier call handed out: the
/// cookie is the runtime's own value, so the scenario binds it at that earlier step
/// (`entries.N.next`) and passes the binding. A cookie no earlier call gave stays a number.
fn resume_by_cookie(s: &mut Step, earlier: &mut [Step], cookies: &BTreeMap<u64, (usize, EntryIndex)>) {
    let Some(Arg::Scalar(Scalar::Value(cookie))) = s.args.get(2) else { return };
    if *cookie == 0 {
        return;
    }
    let Some(&(at, index)) = cookies.get(cookie) else { return };
    let name = format!("cookie{}_{index}", at + 1);
    bind_once(&mut earlier[at], &name, BindSource::Entry { index, field: "next" });
    s.args[2] = Arg::Scalar(Scalar::Binding(name));
}

/// wasi-libc's `open` asks `fd_fdstat_get` for the directory's `fs_rights_inheriting`
/// and passes that, and that masked by the open mode, as the new descriptor's rights: the
/// values depend on the runtime. When the recorded rights lie within what the reference
/// reported for the directory just before, the step passes the runtime's own value masked
/// the same way (`{of: $inh, and: …}`, bound at that `fd_fdstat_get`), so a runtime with a
/// narrower rights model is asked what the program would have asked it.
fn rights_from_inheriting(s: &mut Step, earlier: &mut [Step], dir: Option<&(usize, u64)>) {
    let Some(&(at, inh)) = dir else { return };
    let rights: Vec<usize> = s
        .function
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.starts_with("fs_rights_"))
        .map(|(i, _)| i)
        .collect();
    let within = |i: &usize| matches!(s.args[*i], Arg::Scalar(Scalar::Value(v)) if v & !inh == 0);
    if rights.is_empty() || !rights.iter().all(within) {
        return;
    }
    let name = format!("inh{}", at + 1);
    bind_once(&mut earlier[at], &name, BindSource::Result { result: 0, field: Some("rights_inheriting") });
    for i in rights {
        if let Arg::Scalar(Scalar::Value(mask)) = s.args[i] {
            s.args[i] = Arg::Scalar(Scalar::Masked { binding: name.clone(), mask });
        }
    }
}

/// A call that only asks what the host attached to fd 0, 1 or 2 (a pipe, a file, a
/// terminal): its answer differs between two honest runs (`diff` does not compare it
/// either), and leaving it out changes nothing.
fn asks_what_stdio_is(call: &Call) -> bool {
    let on_stdio = call.args.first().is_some_and(|fd| *fd <= 2);
    let query = match call.function.name {
        "fd_fdstat_get" | "fd_filestat_get" | "fd_tell" => true,
        // fd_seek(fd, offset 0, whence cur)
        "fd_seek" => call.args.get(1) == Some(&0) && call.args.get(2) == Some(&u64::from(whence::CUR)),
        _ => false,
    };
    on_stdio && query
}

/// The calls of a traced run as a scenario (expectations not filled). `fixture` is the
/// run's (see [`crate::program::Program::case`]); `id` names the scenario.
pub fn record(calls: &[Call], fixture: Fixture, id: &str, summary: String) -> Recording {
    let mut fds = Fds { names: preopen_fds(calls, &fixture) };
    let area = area_size(&fixture);
    let mut notes = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    // Directory cookies the reference handed out: value -> (step, entry).
    let mut cookies: BTreeMap<u64, (usize, EntryIndex)> = BTreeMap::new();
    // The last `fd_fdstat_get` of each descriptor: raw fd -> (step, rights_inheriting).
    let mut inheriting: BTreeMap<u64, (usize, u64)> = BTreeMap::new();
    let mut stdio_queries = 0;
    for (k, call) in calls.iter().enumerate() {
        if asks_what_stdio_is(call) {
            stdio_queries += 1;
            continue;
        }
        let at = steps.len();
        let mut s = step(k, call, &fds, area, &mut notes);
        match call.function.name {
            "fd_readdir" => resume_by_cookie(&mut s, &mut steps, &cookies),
            "path_open" => rights_from_inheriting(&mut s, &mut steps, inheriting.get(&call.args[0])),
            _ => {}
        }
        if call.errno == Some(0) {
            if call.function.name == "fd_fdstat_get" {
                if let Some(b) = call.region(|r| matches!(r, Region::Result { .. })) {
                    inheriting.insert(call.args[0], (at, le(b, fdstat::RIGHTS_INHERITING)));
                }
            }
            if call.function.name == "fd_readdir" {
                if let Some(buf) = call.region(|r| matches!(r, Region::Buffer { .. })) {
                    let next = next_cookies(buf);
                    for (j, c) in next.iter().enumerate() {
                        let index = if j + 1 == next.len() { EntryIndex::Last } else { EntryIndex::Nth(j as u32) };
                        cookies.insert(*c, (at, index));
                    }
                }
            }
            let result_fd = |name: &str| {
                call.region(
                    |r| matches!(r, Region::Result { result, .. } if call.function.results[*result].name == name),
                )
                .map(|b| le(b, ("", 0, 4)))
            };
            match call.function.name {
                "fd_close" => {
                    fds.names.remove(&call.args[0]);
                    inheriting.remove(&call.args[0]);
                }
                // The number `to` keeps its name; `from` is gone.
                "fd_renumber" => {
                    fds.names.remove(&call.args[0]);
                }
                "path_open" | "sock_accept" => {
                    let result = if call.function.name == "path_open" { "opened_fd" } else { "accepted_fd" };
                    if let (Some(fd), Some(b)) = (result_fd(result), s.bind.first()) {
                        fds.names.insert(fd, b.name.clone());
                    }
                }
                _ => {}
            }
        }
        steps.push(s);
    }
    if stdio_queries > 0 {
        notes.push(format!(
            "{stdio_queries} queries of what is attached to fd 0-2 (fd_fdstat_get, fd_filestat_get, fd_tell, \
             fd_seek by 0 from the current offset) left out: their answer describes the host's pipe, file or \
             terminal, not the runtime, and they change nothing"
        ));
    }
    let function = steps.first().map(|s| s.function).unwrap_or(&wasi_conform_abi::FUNCTIONS[0]);
    Recording {
        scenario: Scenario {
            id: id.to_owned(),
            function,
            summary,
            spec: "recorded from a real program's run on the reference (wasi-conform record); not yet reviewed".into(),
            strength: Strength::Choice,
            choice: Some(
                "the reference's results, recorded from one run; each must be reviewed against the spec before the \
                 strength is raised"
                    .into(),
            ),
            require: Vec::new(),
            budget: None,
            fixture,
            steps,
            end: End::default(),
            stdout: None,
            stderr: None,
            tree: None,
            source: PathBuf::from(format!("{id}.yaml")),
        },
        notes,
    }
}

/// Why a recording could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Oracle(#[from] OracleError),
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error("the recorded scenario does not compile: {0}")]
    Compile(#[from] CompileError),
    #[error("{0} is not available here: {1}")]
    NotAvailable(String, String),
    #[error("{0} agrees with the reference on the recorded scenario: there is no divergence to minimise")]
    NoDivergence(String),
    #[error("the written scenario does not read back: {0}")]
    Reload(String),
    #[error("the reference does not pass the written scenario (a wasi-conform bug): {0}")]
    ReferenceFails(String),
}

/// How a recording was reduced.
#[derive(Debug, Clone)]
pub struct Minimised {
    pub runtime: String,
    /// The divergence kept (function: expected, observed [runtimes]).
    pub signature: String,
    /// Steps and fixture entries before and after.
    pub steps: (usize, usize),
    pub fixture_entries: (usize, usize),
    /// Oracle runs spent.
    pub runs: usize,
}

/// A finished recording: the scenario with its expectations, as YAML, checked.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub scenario: Scenario,
    pub yaml: String,
    pub notes: Vec<String>,
    pub minimised: Option<Minimised>,
}

/// What `record --minimise` keeps: the divergence of `runtime`, shrunk with at most
/// `runs` oracle runs.
#[derive(Debug, Clone)]
pub struct Minimise {
    pub runtime: String,
    pub runs: usize,
}

fn entries(s: &Scenario) -> usize {
    s.fixture.preopens.iter().map(|p| p.tree.len()).sum()
}

/// Traces `program` on the reference, writes the run as scenario `id` with the
/// reference's results as expectations, and with `minimise`, reduces it to the smallest
/// scenario that still shows that runtime's first divergence. The result is read back by
/// the strict loader and the reference must pass it. Without an `id`, the scenario is
/// `<function>/recorded-<program>`, the function being the first call's (or the diverging
/// call's when minimised).
pub fn record_program(
    program: &Program,
    id: Option<&str>,
    minimise: Option<&Minimise>,
) -> Result<Recorded, RecordError> {
    let stem =
        format!("recorded-{}", program.name.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    let reference = registry::builtin(REFERENCE).expect("the reference is built in");
    let module = Arc::new(instrument(&program.wasm).map_err(DiffError::from)?.wasm);
    let (_, traced) = run_traced(reference.as_ref(), program, &module)?;
    let fixture = program.case(module.clone()).map_err(DiffError::from)?.fixture;
    let summary = format!(
        "`{}` recorded: {} preview1 calls",
        std::iter::once(program.name.as_str())
            .chain(program.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        traced.calls.len()
    );
    let Recording { mut scenario, notes } = record(&traced.calls, fixture, id.unwrap_or(&stem), summary);
    scenario.budget = Some(program.budget.min(Duration::from_secs(60)));
    let names: Vec<String> = minimise.map(|m| vec![m.runtime.clone()]).unwrap_or_default();
    let oracle = if names.is_empty() { Oracle::reference_only()? } else { Oracle::new(&names)? };
    if let Some((rt, why)) = oracle.unavailable.first() {
        return Err(RecordError::NotAvailable(rt.clone(), why.clone()));
    }
    let (mut scenario, minimised) = match minimise {
        None => {
            let c = compile::compile(&scenario)?;
            let seen = oracle.reference(&c.case, Some(Plan { scenario: &scenario, layout: &c.layout }));
            (bless_with(&scenario, &seen, Checks::Every), None)
        }
        Some(m) => {
            // The runtime's first divergence (of signature `sig`, when given).
            let first = |s: &Scenario, sig: Option<&Signature>| -> Result<Option<Divergence>, RecordError> {
                let c = compile::compile(s)?;
                let check = oracle.check(&c.case, Some(Plan { scenario: s, layout: &c.layout }), None);
                let mut ds: Vec<Divergence> = check
                    .divergences
                    .into_iter()
                    .filter(|d| d.runtime == m.runtime)
                    .filter(|d| sig.is_none_or(|g| signatures(std::slice::from_ref(d))[0].0 == *g))
                    .collect();
                ds.sort_by_key(|d| match d.place {
                    Place::Step(k) => k,
                    _ => usize::MAX,
                });
                Ok(ds.into_iter().next())
            };
            let d = first(&scenario, None)?.ok_or_else(|| RecordError::NoDivergence(m.runtime.clone()))?;
            let (sig, _) = signatures(std::slice::from_ref(&d)).remove(0);
            let runs = std::cell::Cell::new(0usize);
            let small = minimise::minimise_counting(&oracle, &scenario, &sig, m.runs, &runs);
            let focus = first(&small, Some(&sig))?.ok_or_else(|| RecordError::NoDivergence(m.runtime.clone()))?;
            let c = compile::compile(&small)?;
            let seen = oracle.reference(&c.case, Some(Plan { scenario: &small, layout: &c.layout }));
            let mut blessed = bless_with(&small, &seen, Checks::Focus(&focus));
            drop_unused_bindings(&mut blessed);
            if let Place::Step(k) = focus.place {
                check_preopen_name(&mut blessed, k);
            }
            blessed.function = match focus.place {
                Place::Step(k) => blessed.steps.get(k).map(|s| s.function).unwrap_or(blessed.function),
                _ => blessed.function,
            };
            blessed.summary = format!("{} (minimised: {} diverges, {sig})", blessed.summary, m.runtime);
            let info = Minimised {
                runtime: m.runtime.clone(),
                signature: sig.to_string(),
                steps: (scenario.steps.len(), blessed.steps.len()),
                fixture_entries: (entries(&scenario), entries(&blessed)),
                runs: runs.get(),
            };
            (blessed, Some(info))
        }
    };
    if id.is_none() {
        scenario.id = format!("{}/{stem}", scenario.function.name);
    }
    let yaml = to_yaml(&scenario);
    let back = load::load_str(&yaml, &scenario.source).map_err(|e| RecordError::Reload(e.with_snippet()))?;
    let c = compile::compile(&back)?;
    let outcome = wasi_conform_runners::execute(reference.as_ref(), &c.case);
    let verdict = verdict::judge(&back, &c.layout, &outcome);
    if !verdict.is_pass() {
        return Err(RecordError::ReferenceFails(verdict.message()));
    }
    let mut notes = notes;
    if let Some(m) = minimise {
        let rt = registry::select(std::slice::from_ref(&m.runtime))?.remove(0);
        let theirs = verdict::judge(&back, &c.layout, &wasi_conform_runners::execute(rt.as_ref(), &c.case));
        if theirs.is_pass() {
            notes.push(format!(
                "{} passes the minimised scenario: the divergence kept is in something its expectations do not state",
                m.runtime
            ));
        }
    }
    Ok(Recorded { scenario: back, yaml, notes, minimised })
}

/// Removes the bindings no step uses and no check compares with (left behind when the
/// steps that used them were minimised away).
fn drop_unused_bindings(s: &mut Scenario) {
    let used: std::collections::BTreeSet<String> =
        s.steps.iter().flat_map(|st| st.bindings_in_args().into_iter().chain(st.bindings_in_checks())).collect();
    for step in &mut s.steps {
        step.bind.retain(|b| used.contains(&b.name));
    }
}

/// The oracle compares a preopen's name without its leading `/`, so its blessing leaves the
/// name unchecked; when the divergence kept is in `fd_prestat_dir_name`, the step checks
/// the exact bytes the reference writes: the fixture's name, cut to the buffer.
fn check_preopen_name(s: &mut Scenario, k: usize) {
    let Some(step) = s.steps.get(k) else { return };
    if step.function.name != "fd_prestat_dir_name" {
        return;
    }
    let (Some(Arg::Scalar(Scalar::Binding(b))), Some(Arg::Buffer { len, .. })) = (step.args.first(), step.args.get(1))
    else {
        return;
    };
    let Some(p) = s.fixture.preopens.iter().find(|p| &p.binding == b) else { return };
    let name = p.name.as_bytes();
    let want = name[..(*len as usize).min(name.len())].to_vec();
    s.steps[k].expect.views.push(("name".into(), ViewCheck::Bytes(want)));
}
