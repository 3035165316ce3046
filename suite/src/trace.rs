//! Decoding what a compiled scenario left in guest memory: which steps ran, what each
//! returned, which preopens the guest saw. The layout is described in [`crate::compile`].

pub use wasi_conform_case::frames::extract_frames;

use crate::compile::{Layout, MAX_NAME, NOT_STARTED, RETURNED, SCAN_ENTRY, STARTED, TRACE_BASE, TRACE_MAGIC};

/// The decoded trace of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Preopens found by the scan, in fd order.
    pub scanned: Vec<Scanned>,
    /// The fd bound to each fixture preopen (in fixture order), if its name was found.
    pub slots: Vec<Option<u32>>,
    pub steps: Vec<StepState>,
}

/// One preopen the guest saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub fd: u32,
    pub name_len: u32,
    /// errno of `fd_prestat_dir_name`, or `0xffff` when the name was too long to read.
    pub name_errno: u32,
    pub name: Vec<u8>,
}

/// How far a step got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    NotStarted,
    /// Entered but never returned: the run ended inside the call.
    Started,
    /// Returned this raw value (an errno, if the runtime is right).
    Returned(u32),
}

/// Why a trace could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("the runtime returned no guest memory")]
    NoMemory,
    #[error("guest memory is {got} bytes, the trace needs {need}")]
    Short { got: usize, need: usize },
    #[error("the trace header is corrupted (a step wrote over it?)")]
    BadMagic,
    #[error("step {step} has an impossible state {state}")]
    BadState { step: usize, state: u32 },
}

/// Little-endian reads from captured memory.
pub fn u8_at(m: &[u8], at: u32) -> Option<u8> {
    m.get(at as usize).copied()
}
pub fn u16_at(m: &[u8], at: u32) -> Option<u16> {
    bytes_at(m, at, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}
pub fn u32_at(m: &[u8], at: u32) -> Option<u32> {
    bytes_at(m, at, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}
pub fn u64_at(m: &[u8], at: u32) -> Option<u64> {
    bytes_at(m, at, 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}
pub fn bytes_at(m: &[u8], at: u32, len: u32) -> Option<&[u8]> {
    let start = at as usize;
    let end = start.checked_add(len as usize)?;
    m.get(start..end)
}

/// Decodes the trace from captured memory.
pub fn decode(layout: &Layout, memory: Option<&[u8]>) -> Result<Trace, TraceError> {
    let m = memory.ok_or(TraceError::NoMemory)?;
    let need = layout.scan_at as usize + (crate::compile::MAX_SCAN * SCAN_ENTRY) as usize;
    if m.len() < need {
        return Err(TraceError::Short { got: m.len(), need });
    }
    let r32 = |at: u32| u32_at(m, at).expect("length checked");
    if r32(TRACE_BASE) != TRACE_MAGIC || r32(TRACE_BASE + 4) != layout.nsteps {
        return Err(TraceError::BadMagic);
    }
    let npre = r32(TRACE_BASE + 8);
    let nscanned = r32(TRACE_BASE + 12).min(crate::compile::MAX_SCAN);
    let scanned = (0..nscanned)
        .map(|i| {
            let e = layout.scan_at + i * SCAN_ENTRY;
            let name_len = r32(e + 4);
            let name_errno = r32(e + 8);
            let name = if name_errno == 0 {
                bytes_at(m, e + 16, name_len.min(MAX_NAME)).unwrap_or_default().to_vec()
            } else {
                Vec::new()
            };
            Scanned { fd: r32(e), name_len, name_errno, name }
        })
        .collect();
    let slots = (0..npre)
        .map(|i| match r32(layout.slots_at + 4 * i) {
            u32::MAX => None,
            fd => Some(fd),
        })
        .collect();
    let steps = (0..layout.nsteps)
        .map(|k| {
            let at = layout.steps_at + 8 * k;
            match r32(at) {
                NOT_STARTED => Ok(StepState::NotStarted),
                STARTED => Ok(StepState::Started),
                RETURNED => Ok(StepState::Returned(r32(at + 4))),
                state => Err(TraceError::BadState { step: k as usize, state }),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Trace { scanned, slots, steps })
}
