//! Decoding a run's call frames back into calls: the function, its raw core arguments,
//! the errno, and the bytes of each recorded region (see [`crate::frame`] and
//! [`crate::regions`]).

use wasi_conform_abi::{Errno, Function, FUNCTIONS};
use wasi_conform_case::frames::extract_call_frames;

use wasi_conform_suite::trace::u32_at;

use crate::frame::*;
use crate::regions::{regions, Region};

/// One preview1 call the program made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Call {
    #[serde(serialize_with = "function_name")]
    pub function: &'static Function,
    /// The core arguments as passed (i32 zero-extended).
    pub args: Vec<u64>,
    /// The raw value returned; `None` when the call never returned (exit, trap, or the
    /// run was stopped inside it).
    pub errno: Option<u32>,
    /// Each recorded region: (guest address, bytes), in [`regions`] order.
    pub regions: Vec<(u32, Vec<u8>)>,
}

fn function_name<S: serde::Serializer>(f: &&'static Function, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name)
}

impl Call {
    /// The errno's name, `did not return`, or the raw value when it is not an errno.
    pub fn errno_text(&self) -> String {
        match self.errno {
            None => "did not return".to_owned(),
            Some(raw) => match Errno::from_raw(raw) {
                Some(e) => e.name().to_owned(),
                None => format!("{raw} (not an errno)"),
            },
        }
    }

    /// The recorded bytes of the region of kind `which`, if recorded.
    pub fn region(&self, which: impl Fn(&Region) -> bool) -> Option<&[u8]> {
        regions(self.function).iter().zip(&self.regions).find(|(r, _)| which(r)).map(|(_, (_, b))| b.as_slice())
    }
}

/// A run's calls, and the output streams without the frames.
#[derive(Debug, Clone, Default)]
pub struct Traced {
    pub calls: Vec<Call>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Frames that could not be decoded (should be none), with why.
    pub malformed: Vec<String>,
}

/// Decodes one frame payload (the bytes after the envelope header).
fn decode(payload: &[u8]) -> Result<(u32, Call), String> {
    // Payload offsets are frame offsets minus the header.
    let field = |at: u32| u32_at(payload, at - HEADER).ok_or_else(|| format!("frame cut at {at}"));
    let index = field(FUNCTION)? as usize;
    let function = FUNCTIONS.get(index).ok_or_else(|| format!("function index {index}"))?;
    let phase = field(PHASE)?;
    let errno = field(ERRNO)?;
    let nregions = field(NREGIONS)?;
    let nargs = function.core_params().len() as u32;
    let args = (0..nargs)
        .map(|i| {
            let at = (ARGS - HEADER + 8 * i) as usize;
            payload.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        })
        .collect::<Option<Vec<u64>>>()
        .ok_or("arguments cut")?;
    let mut at = (FIXED - HEADER) as usize;
    let mut recorded = Vec::new();
    for j in 0..nregions.min(MAX_REGIONS) {
        let ptr = field(TABLE + 8 * j)?;
        let len = field(TABLE + 8 * j + 4)? as usize;
        let bytes = payload.get(at..at + len).ok_or("region bytes cut")?;
        recorded.push((ptr, bytes.to_vec()));
        at += len;
    }
    let errno = (phase == RETURNED).then_some(errno);
    Ok((phase, Call { function, args, errno, regions: recorded }))
}

/// Takes the call frames out of a run's output streams and pairs each `ENTERED` frame
/// with the `RETURNED` frame that follows it; a call whose second frame never came did
/// not return.
pub fn from_streams(stdout: &[u8], stderr: &[u8]) -> Traced {
    let (stdout, stderr, frames) = extract_call_frames(stdout, stderr);
    let mut calls: Vec<Call> = Vec::new();
    let mut malformed = Vec::new();
    let mut open: Option<Call> = None;
    for (seq, payload) in frames {
        match decode(&payload) {
            Ok((ENTERED, call)) => {
                if let Some(unfinished) = open.replace(call) {
                    calls.push(unfinished);
                }
            }
            Ok((_, call)) => {
                open = None;
                calls.push(call);
            }
            Err(why) => malformed.push(format!("frame {seq}: {why}")),
        }
    }
    calls.extend(open);
    Traced { calls, stdout, stderr, malformed }
}
