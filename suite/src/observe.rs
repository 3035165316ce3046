//! The observation layer: one reading of guest memory after a run, for every judge.
//!
//! From a compiled scenario's [`Layout`] and the run's [`Outcome`], an [`Observation`]
//! gives per step how far it got and the errno it returned ([`crate::trace`]), its
//! results and record fields (out-pointers and offsets from the function table), and its
//! derived views ([`crate::views`]): the bytes read, a link's contents, strings, directory
//! entries, poll events. It reads; it does not judge.
//!
//! Its readers: [`crate::verdict`] (a run against its scenario), [`steps_seen`] (the
//! report's per-step view), and the fuzz oracle's normaliser (`differential/src/
//! normalise.rs`), which compares two runs. The self-checking compiler
//! ([`crate::compile::self_check`]) checks the byte views inside the module: it finds
//! them through [`bytes_source`], the same description [`Outputs::bytes`] decodes.

use std::collections::BTreeMap;

use wasi_conform_abi::layout::{self, dirent, event};
use wasi_conform_abi::{Errno, ResultType};

use crate::compile::{Layout, StepLayout};
use crate::describe::show_bytes;
use crate::outcome::{Ending, Outcome};
use crate::scenario::{Scenario, Step};
use crate::trace::{self, bytes_at, u16_at, u32_at, u64_at, u8_at, StepState, Trace, TraceError};

/// One run, read once.
#[derive(Debug)]
pub struct Observation<'a> {
    layout: &'a Layout,
    memory: &'a [u8],
    trace: Result<Trace, TraceError>,
}

impl<'a> Observation<'a> {
    /// Reads the trace of a run of the scenario compiled into `layout`.
    pub fn new(layout: &'a Layout, o: &'a Outcome) -> Observation<'a> {
        Observation {
            layout,
            memory: o.memory.as_deref().unwrap_or_default(),
            trace: trace::decode(layout, o.memory.as_deref()),
        }
    }

    /// The decoded trace (which steps ran, what each returned, the preopens the guest
    /// saw), or why it could not be read.
    pub fn trace(&self) -> Result<&Trace, &TraceError> {
        self.trace.as_ref()
    }

    /// The value of `$name` at the end of the run: a preopen's fd or a step's bound result.
    pub fn binding(&self, name: &str) -> Option<u64> {
        let (at, width) = *self.layout.bindings.get(name)?;
        read(self.memory, at, width)
    }

    /// What step `k` (0-based, `step` its scenario step) left in memory. Meaningful once
    /// the step returned success: the host writes outputs only then.
    pub fn outputs<'s>(&'s self, k: usize, step: &'s Step) -> Outputs<'s> {
        Outputs { memory: self.memory, step, at: &self.layout.steps[k] }
    }
}

/// Reads an unsigned value of `width` bytes (1, 2, 8; anything else is 4).
fn read(m: &[u8], at: u32, width: u32) -> Option<u64> {
    match width {
        1 => u8_at(m, at).map(u64::from),
        2 => u16_at(m, at).map(u64::from),
        8 => u64_at(m, at),
        _ => u32_at(m, at).map(u64::from),
    }
}

/// The outputs of one step: results and views, decoded on demand.
#[derive(Debug, Clone, Copy)]
pub struct Outputs<'a> {
    memory: &'a [u8],
    step: &'a Step,
    at: &'a StepLayout,
}

/// Where a [`crate::views::ViewKind::Bytes`] view lies in guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BytesSource {
    /// The pieces, in order: one buffer, or the buffers behind the iovecs.
    pub pieces: Vec<(u32, u32)>,
    /// Where the count of bytes the host wrote is (the function's first result), when it
    /// has one; without it the whole buffer is the view.
    pub used: Option<u32>,
    /// A single buffer (its bytes must all be readable) rather than iovec buffers
    /// (concatenated, an unreadable one counting as empty).
    pub single: bool,
}

impl<'a> Outputs<'a> {
    /// The out-pointer of result `i`.
    pub fn result_ptr(&self, i: usize) -> u32 {
        self.at.results[i]
    }

    /// Result `i` when it is a scalar (`size`, `fd`, `filesize`, `timestamp`, `roflags`);
    /// `None` for a record or when its out-pointer is outside memory.
    pub fn result(&self, i: usize) -> Option<u64> {
        let at = self.at.results[i];
        match self.step.function.results[i].ty {
            ResultType::Size | ResultType::Fd => u32_at(self.memory, at).map(u64::from),
            ResultType::Filesize | ResultType::Timestamp => u64_at(self.memory, at),
            ResultType::Roflags => u16_at(self.memory, at).map(u64::from),
            ResultType::Fdstat | ResultType::Filestat | ResultType::Prestat => None,
        }
    }

    /// A field of record result `i` (`fdstat`, `filestat`, `prestat`), at its offset in the
    /// function table; `None` when the record has no such field or it is outside memory.
    pub fn field(&self, i: usize, field: &str) -> Option<u64> {
        let ty = self.step.function.results[i].ty;
        let (_, offset, size) = layout::field(ty.fields(), field)?;
        read(self.memory, self.at.results[i].checked_add(offset)?, size)
    }

    /// The first result as a count (`nread`, `bufused`, `nevents`).
    pub fn used(&self) -> Option<u32> {
        self.at.results.first().and_then(|at| u32_at(self.memory, *at))
    }

    /// The bytes the host wrote (`read`, `contents`, `name`): the buffer cut at the count
    /// the call returned, or the iovec buffers concatenated and cut at it; `None` when the
    /// buffer was passed raw or lies outside memory.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        let src = bytes_source(self.step, self.at)?;
        let used = src.used.map(|at| u32_at(self.memory, at).unwrap_or(0));
        if src.single {
            let (at, len) = src.pieces[0];
            return bytes_at(self.memory, at, used.map_or(len, |n| n.min(len))).map(<[u8]>::to_vec);
        }
        let mut all = Vec::new();
        for (at, len) in &src.pieces {
            all.extend_from_slice(bytes_at(self.memory, *at, *len).unwrap_or_default());
        }
        all.truncate(used.unwrap_or(0) as usize);
        Some(all)
    }

    /// The whole buffer (`random_get`'s bytes); `None` when passed raw.
    pub fn buffer(&self) -> Option<&'a [u8]> {
        self.at.buffer.and_then(|(at, len)| bytes_at(self.memory, at, len))
    }

    /// Whether the count the call returned fills its buffer (or cannot be read): a
    /// directory listing that may have been cut. `None` when the buffer was passed raw.
    pub fn fills_buffer(&self) -> Option<bool> {
        let (_, len) = self.at.buffer?;
        Some(self.used().is_none_or(|u| u >= len))
    }

    /// `n` strings of an `args_get`/`environ_get` call (the pointer array, then the string
    /// buffer); anything else written into the string buffer follows as `+"…"` entries.
    pub fn strings(&self, n: usize) -> Result<Vec<Vec<u8>>, String> {
        let m = self.memory;
        let (&(arr, arr_size), &(buf, buf_size)) = match (self.at.regions.first(), self.at.regions.get(1)) {
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

    /// The complete `dirent`s in the buffer up to the count the call returned, in order, as
    /// (name, filetype); a truncated last entry is not listed. `None` when passed raw.
    pub fn entries(&self) -> Option<Vec<(Vec<u8>, u64)>> {
        let (at, len) = self.at.buffer?;
        Some(dirents(self.memory, at, self.used().unwrap_or(0).min(len)))
    }

    /// `poll_oneoff`'s events up to `nevents`, by userdata: (error, type). `None` when the
    /// events area was passed raw.
    pub fn events(&self) -> Option<BTreeMap<u64, (u32, u64)>> {
        let (at, cap) = self.at.events?;
        let mut out = BTreeMap::new();
        for i in 0..self.used().unwrap_or(0).min(cap) {
            let e = at + layout::EVENT.size * i;
            let (Some(userdata), Some(error), Some(ty)) = (
                u64_at(self.memory, e + event::USERDATA.1),
                u16_at(self.memory, e + event::ERROR.1),
                u8_at(self.memory, e + event::TYPE.1),
            ) else {
                break;
            };
            out.insert(userdata, (u32::from(error), u64::from(ty)));
        }
        Some(out)
    }
}

/// Where a step's bytes view is; `None` when the buffer was passed raw.
pub fn bytes_source(step: &Step, at: &StepLayout) -> Option<BytesSource> {
    let used = if step.function.results.is_empty() { None } else { at.results.first().copied() };
    match (at.buffer, at.iovecs.is_empty()) {
        (Some((buf, len)), _) => Some(BytesSource { pieces: vec![(buf, len)], used, single: true }),
        (None, false) => Some(BytesSource { pieces: at.iovecs.clone(), used, single: false }),
        (None, true) => None,
    }
}

/// Complete `dirent`s in `m[at..at + used]` (offsets from the ABI's record layouts).
fn dirents(m: &[u8], at: u32, used: u32) -> Vec<(Vec<u8>, u64)> {
    let Some(buf) = bytes_at(m, at, used) else { return Vec::new() };
    let ((_, namlen_at, _), (_, type_at, _)) = (dirent::NAMLEN, dirent::TYPE);
    let header = layout::DIRENT.size as usize;
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + header <= buf.len() {
        let namlen_at = off + namlen_at as usize;
        let namlen = u32::from_le_bytes(buf[namlen_at..namlen_at + 4].try_into().expect("4 bytes")) as usize;
        let ty = u64::from(buf[off + type_at as usize]);
        let Some(name) = buf.get(off + header..off + header + namlen) else { break };
        out.push((name.to_vec(), ty));
        off += header + namlen;
    }
    out
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
/// (the verdict's message says why). Read from the same observation the verdict reads.
pub fn steps_seen(s: &Scenario, layout: &Layout, o: &Outcome) -> Vec<StepSeen> {
    let observation = Observation::new(layout, o);
    let Ok(t) = observation.trace() else { return Vec::new() };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn no_trace_no_steps_seen() {
        let text = "id: path_open/t\nsummary: s\nspec: t\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\n\
                    steps:\n  - path_open: {fd: $sandbox, path: \"a<b\", fs_rights_base: [fd_read], fs_rights_inheriting: []}\n    \
                    expect: {errno: noent}\n";
        let s = crate::load::load_str(text, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()));
        let c = crate::compile::compile(&s).unwrap();
        let o = Outcome {
            ending: Ending::Crash("x".into()),
            exit_width: crate::outcome::ExitWidth::Full,
            stdout: vec![],
            stderr: vec![],
            memory: None,
            trees: BTreeMap::new(),
            canaries: crate::outcome::Canaries::Intact,
            elapsed: std::time::Duration::ZERO,
        };
        assert!(steps_seen(&s, &c.layout, &o).is_empty());
    }

    #[test]
    fn dirents_stop_at_the_count_and_drop_a_cut_entry() {
        let entry = |name: &[u8], ty: u8| {
            let mut e = vec![0u8; 24];
            e[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
            e[20] = ty;
            e.extend_from_slice(name);
            e
        };
        let mut m = vec![0xaa; 8];
        m.extend(entry(b"a", 4));
        m.extend(entry(b"dir", 3));
        m.extend(entry(b"cut", 4));
        let whole = m.len() as u32 - 8;
        assert_eq!(dirents(&m, 8, whole), vec![(b"a".to_vec(), 4), (b"dir".to_vec(), 3), (b"cut".to_vec(), 4)]);
        assert_eq!(dirents(&m, 8, whole - 1), vec![(b"a".to_vec(), 4), (b"dir".to_vec(), 3)]);
        assert_eq!(dirents(&m, 8, 24), Vec::<(Vec<u8>, u64)>::new());
        assert!(dirents(&m, 8, whole + 1).is_empty(), "a count past memory reads nothing");
    }
}
