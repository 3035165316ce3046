//! Comparing two traces call by call, after normalising what differs between two honest
//! runs: descriptor numbers (renumbered in order of first appearance; 0–2 stay), guest
//! addresses, inode and device numbers, timestamps, directory cookies, rights (a runtime's
//! choice, and wasi-libc computes the rights it asks for from them), the order of directory
//! entries and whether `.` and `..` are listed, and a directory's size and link count. What
//! is left — functions, paths, flags, sizes, errnos, bytes read and written, file types,
//! entry names — must agree.

use std::collections::BTreeMap;

use wasi_conform_abi::layout::{dirent, event, fdstat, filestat, prestat, DIRENT, EVENT};
use wasi_conform_abi::types::filetype;
use wasi_conform_abi::{Function, ParamType};

use crate::calls::Call;
use crate::regions::{core_indices, regions, Region};

/// A call as compared: every part as text, host-assigned values normalised.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Seen {
    pub function: String,
    /// `name=value` per semantic parameter.
    pub args: Vec<String>,
    pub errno: String,
    /// `name=value` per output.
    pub outputs: Vec<String>,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({}) -> {}", self.function, self.args.join(", "), self.errno)?;
        if !self.outputs.is_empty() {
            write!(f, " [{}]", self.outputs.join(", "))?;
        }
        Ok(())
    }
}

/// Descriptor renumbering of one run: each descriptor the program uses gets the lowest
/// canonical number not in use (from 3; 0–2 stay), and a closed one frees its number, so
/// two runtimes that hand out different numbers (lowest free, always new, random) for the
/// same opens and closes give the same canonical ones.
#[derive(Default)]
struct Fds {
    open: BTreeMap<u64, u64>,
}

impl Fds {
    fn canonical(&mut self, raw: u64) -> u64 {
        if raw <= 2 {
            return raw;
        }
        if let Some(c) = self.open.get(&raw) {
            return *c;
        }
        let used: std::collections::BTreeSet<u64> = self.open.values().copied().collect();
        let c = (3..).find(|c| !used.contains(c)).expect("a free number");
        self.open.insert(raw, c);
        c
    }

    /// The name of a descriptor a failed call passed: one that is open, or "not open"
    /// without reserving a number (a probe such as the prestat scan's last call).
    fn peek(&self, raw: u64) -> String {
        match (raw, self.open.get(&raw)) {
            (0..=2, _) => raw.to_string(),
            (_, Some(c)) => format!("fd#{c}"),
            (_, None) => "fd(not open)".into(),
        }
    }

    fn name(&mut self, raw: u64) -> String {
        match self.canonical(raw) {
            c @ 0..=2 => c.to_string(),
            c => format!("fd#{c}"),
        }
    }

    /// A descriptor the program was just given (`path_open`, `sock_accept`): a number the
    /// runtime reuses starts afresh.
    fn opened(&mut self, raw: u64) -> String {
        self.open.remove(&raw);
        self.name(raw)
    }

    /// After a successful `fd_close` / `fd_renumber`.
    fn closed(&mut self, raw: u64) {
        self.open.remove(&raw);
    }

    fn renumbered(&mut self, from: u64, to: u64) {
        if let Some(c) = self.open.remove(&from) {
            self.open.insert(to, c);
        }
    }
}

fn text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let shown: String = s.chars().take(200).collect();
    if shown.len() < s.len() {
        format!("{shown:?}… ({} bytes)", b.len())
    } else {
        format!("{shown:?}")
    }
}

pub(crate) fn le(b: &[u8], (_, at, size): wasi_conform_abi::layout::Field) -> u64 {
    let mut v = [0u8; 8];
    let (at, size) = (at as usize, size as usize);
    if let Some(s) = b.get(at..at + size) {
        v[..size].copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

/// The entries of a `fd_readdir` buffer as a sorted `name:type` list (cookies, inodes and
/// the optional `.` and `..` dropped), and whether the last entry was cut.
fn entries(b: &[u8]) -> (Vec<String>, bool) {
    let header = DIRENT.size as usize;
    let mut out = Vec::new();
    let mut at = 0;
    while at + header <= b.len() {
        let n = le(&b[at..], dirent::NAMLEN) as usize;
        let ty = le(&b[at..], dirent::TYPE);
        match b.get(at + header..at + header + n) {
            // Listing `.` and `..` is optional (divergences.md C1), as in the oracle.
            Some(b"." | b"..") => {}
            Some(name) => out.push(format!("{}:{ty}", String::from_utf8_lossy(name))),
            None => return (sorted(out), true),
        }
        at += header + n;
    }
    (sorted(out), at < b.len())
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Functions whose result on fd 0, 1 or 2 says what the host attached there (a pipe, a
/// file, a terminal, a socket) rather than how the runtime implements preview1: on stdio
/// their errno and outputs are not compared.
const STDIO_DEPENDENT: &[&str] = &[
    "fd_fdstat_get",
    "fd_filestat_get",
    "fd_seek",
    "fd_tell",
    "fd_fdstat_set_flags",
    "fd_advise",
    "fd_allocate",
    "fd_datasync",
    "fd_sync",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_pwrite",
];

/// Normalises one call.
fn seen(call: &Call, fds: &mut Fds) -> Seen {
    let f: &Function = call.function;
    let (core, _) = core_indices(f);
    let list = regions(f);
    let region = |which: &dyn Fn(&Region) -> bool| -> Option<&[u8]> {
        list.iter().zip(&call.regions).find(|(r, _)| which(r)).map(|(_, (_, b))| b.as_slice())
    };
    let arg = |i: usize| call.args.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    for (i, p) in f.params.iter().enumerate() {
        let at = core[i];
        let value = match p.ty {
            ParamType::Fd if call.errno == Some(0) => fds.name(arg(at)),
            ParamType::Fd => fds.peek(arg(at)),
            ParamType::Str => region(&|r| matches!(r, Region::Str { param, .. } if *param == i))
                .map(text)
                .unwrap_or_else(|| "<unreadable>".into()),
            ParamType::Ciovecs => {
                let parts: Vec<u8> = list
                    .iter()
                    .zip(&call.regions)
                    .filter(|(r, _)| matches!(r, Region::Ciovec { param, .. } if *param == i))
                    .flat_map(|(_, (_, b))| b.iter().copied())
                    .collect();
                format!("{} in {} iovecs", text(&parts), arg(at + 1))
            }
            ParamType::Iovecs => format!("{} iovecs", arg(at + 1)),
            ParamType::Buffer => format!("{} bytes", arg(at + 1)),
            ParamType::Region | ParamType::Events => "…".into(),
            ParamType::Subscriptions => region(&|r| matches!(r, Region::Subscriptions { .. }))
                .map(|b| format!("{} subscriptions", b.len() / 48))
                .unwrap_or_default(),
            ParamType::Flags(t) if t.name == "rights" => "(rights)".into(),
            ParamType::U32 | ParamType::U64 | ParamType::S64 | ParamType::Enum(_) | ParamType::Flags(_) => {
                if f.name == "clock_time_get" && p.name == "precision" {
                    "(precision)".into()
                } else {
                    arg(at).to_string()
                }
            }
        };
        args.push(format!("{}={value}", p.name));
    }
    let mut outputs = Vec::new();
    if call.errno == Some(0) {
        for (k, r) in f.results.iter().enumerate() {
            let Some(b) = region(&|x| matches!(x, Region::Result { result, .. } if *result == k)) else { continue };
            let v = le(b, ("", 0, b.len().min(8) as u32));
            let shown = match (f.name, r.name) {
                (_, "opened_fd" | "accepted_fd") => fds.opened(v),
                ("clock_time_get", _) | ("clock_res_get", _) => continue,
                (_, "fdstat") => format!("filetype={} flags={}", le(b, fdstat::FILETYPE), le(b, fdstat::FLAGS)),
                (_, "filestat") => {
                    let ty = le(b, filestat::FILETYPE);
                    if ty == u64::from(filetype::REGULAR_FILE) {
                        format!("filetype={ty} size={} nlink={}", le(b, filestat::SIZE), le(b, filestat::NLINK))
                    } else {
                        format!("filetype={ty}")
                    }
                }
                (_, "prestat") => format!("tag={} name_len={}", le(b, prestat::TAG), le(b, prestat::NAME_LEN)),
                ("fd_readdir", "bufused") => continue,
                _ => v.to_string(),
            };
            outputs.push(format!("{}={shown}", r.name));
        }
        let filled: Vec<u8> = list
            .iter()
            .zip(&call.regions)
            .filter(|(r, _)| matches!(r, Region::Iovec { .. }))
            .flat_map(|(_, (_, b))| b.iter().copied())
            .collect();
        if list.iter().any(|r| matches!(r, Region::Iovec { .. })) {
            outputs.push(format!("data={}", text(&filled)));
        }
        if let Some(b) = region(&|r| matches!(r, Region::Buffer { .. })) {
            let shown = match f.name {
                "fd_readdir" => {
                    let (names, cut) = entries(b);
                    format!("entries=[{}]{}", names.join(" "), if cut { " (last cut)" } else { "" })
                }
                _ => format!("buf={}", text(b)),
            };
            outputs.push(shown);
        }
        if let Some(b) = region(&|r| matches!(r, Region::Events { .. })) {
            let mut events: Vec<String> = b
                .chunks(EVENT.size as usize)
                .map(|e| format!("{}:{}:{}", le(e, event::USERDATA), le(e, event::ERROR), le(e, event::TYPE)))
                .collect();
            events.sort();
            outputs.push(format!("events=[{}]", events.join(" ")));
        }
    }
    if call.errno == Some(0) {
        match f.name {
            "fd_close" => fds.closed(arg(0)),
            "fd_renumber" => fds.renumbered(arg(0), arg(1)),
            _ => {}
        }
    }
    let on_stdio = f.params.first().is_some_and(|p| matches!(p.ty, ParamType::Fd)) && arg(0) <= 2;
    if on_stdio && STDIO_DEPENDENT.contains(&f.name) && call.errno.is_some() {
        return Seen {
            function: f.name.to_owned(),
            args,
            errno: "(stdio: what the host attached)".into(),
            outputs: Vec::new(),
        };
    }
    Seen { function: f.name.to_owned(), args, errno: call.errno_text(), outputs }
}

/// Every call of a run, normalised.
pub fn normalise(calls: &[Call]) -> Vec<Seen> {
    let mut fds = Fds::default();
    calls.iter().map(|c| seen(c, &mut fds)).collect()
}

/// Where a run first departs from the reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Divergence {
    /// 0-based index of the call.
    pub index: usize,
    /// The reference's call there, or `None` when its trace had ended.
    pub expected: Option<Seen>,
    /// The runtime's call there, or `None` when its trace had ended.
    pub observed: Option<Seen>,
    /// The calls before it (at most [`CONTEXT`]), which agree.
    pub before: Vec<Seen>,
}

/// Calls of context shown before a divergence.
pub const CONTEXT: usize = 5;

/// The first call where `observed` differs from `expected`, if any.
pub fn first_divergence(expected: &[Seen], observed: &[Seen]) -> Option<Divergence> {
    let n = expected.len().max(observed.len());
    let index = (0..n).find(|&i| expected.get(i) != observed.get(i))?;
    Some(Divergence {
        index,
        expected: expected.get(index).cloned(),
        observed: observed.get(index).cloned(),
        before: expected[index.saturating_sub(CONTEXT)..index].to_vec(),
    })
}
