//! The trace format, and decoding what a compiled scenario left in guest memory: which
//! steps ran, what each returned, which preopens the guest saw.
//!
//! This module owns the format: the compiler ([`crate::compile`]) writes the header, the
//! step records and the scan table with the constants below, and [`decode`] reads them
//! back. Where the variable parts sit (steps, slots, scan table, every step's outputs) is
//! the run's [`Layout`].
//!
//! ```text
//! TRACE_BASE + 0   magic "WCT1"     u32
//!            + 4   steps            u32
//!            + 8   fixture preopens u32
//!            + 12  preopens scanned u32   (written by the scan)
//! steps_at         per step: state u32 (NOT_STARTED / STARTED / RETURNED), errno u32
//! slots_at         per fixture preopen: the fd found by name, u32::MAX if none
//! scratch_at       8 bytes: the prestat the scan reads into
//! scan_at          MAX_SCAN entries of SCAN_ENTRY bytes: fd, name_len, name errno, pad, name
//! ```

pub use wasi_conform_case::frames::extract_frames;

use crate::compile::Layout;

/// Where the trace header starts: everything below is left free for raw pointers.
pub const TRACE_BASE: u32 = 1024;
/// The trace header's first word (`WCT1`, little-endian).
pub const TRACE_MAGIC: u32 = u32::from_le_bytes(*b"WCT1");
/// Bytes of the header; the step records follow it.
pub const HEADER_SIZE: u32 = 16;
/// Header offset of the number of steps.
pub const HEADER_NSTEPS: u32 = 4;
/// Header offset of the number of fixture preopens.
pub const HEADER_NPREOPENS: u32 = 8;
/// Header offset of the number of preopens the scan recorded.
pub const HEADER_NSCANNED: u32 = 12;
/// Bytes per step record: state, then errno.
pub const STEP_RECORD: u32 = 8;
/// Offset of the errno in a step record.
pub const STEP_ERRNO: u32 = 4;
/// Bytes per fixture preopen slot.
pub const SLOT: u32 = 4;
/// Preopens recorded by the scan, at most.
pub const MAX_SCAN: u32 = 16;
/// Longest preopen name recorded.
pub const MAX_NAME: u32 = 64;
/// Offsets in a scan entry: the fd, the name length, the errno of `fd_prestat_dir_name`
/// ([`NAME_NOT_READ`] when the name was longer than [`MAX_NAME`]), then the name.
pub const SCAN_FD: u32 = 0;
pub const SCAN_NAME_LEN: u32 = 4;
pub const SCAN_NAME_ERRNO: u32 = 8;
pub const SCAN_NAME: u32 = 16;
/// Bytes per scanned preopen.
pub const SCAN_ENTRY: u32 = SCAN_NAME + MAX_NAME;
/// The name errno of a scan entry whose name was not read.
pub const NAME_NOT_READ: u32 = 0xffff;
/// Step state: not reached.
pub const NOT_STARTED: u32 = 0;
/// Step state: the call was entered but did not return (exit or trap inside it).
pub const STARTED: u32 = 1;
/// Step state: the call returned.
pub const RETURNED: u32 = 2;

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
    /// errno of `fd_prestat_dir_name`, or [`NAME_NOT_READ`] when the name was too long to read.
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
    let need = layout.scan_at as usize + (MAX_SCAN * SCAN_ENTRY) as usize;
    if m.len() < need {
        return Err(TraceError::Short { got: m.len(), need });
    }
    let r32 = |at: u32| u32_at(m, at).expect("length checked");
    if r32(TRACE_BASE) != TRACE_MAGIC || r32(TRACE_BASE + HEADER_NSTEPS) != layout.nsteps {
        return Err(TraceError::BadMagic);
    }
    let npre = r32(TRACE_BASE + HEADER_NPREOPENS);
    let nscanned = r32(TRACE_BASE + HEADER_NSCANNED).min(MAX_SCAN);
    let scanned = (0..nscanned)
        .map(|i| {
            let e = layout.scan_at + i * SCAN_ENTRY;
            let name_len = r32(e + SCAN_NAME_LEN);
            let name_errno = r32(e + SCAN_NAME_ERRNO);
            let name = if name_errno == 0 {
                bytes_at(m, e + SCAN_NAME, name_len.min(MAX_NAME)).unwrap_or_default().to_vec()
            } else {
                Vec::new()
            };
            Scanned { fd: r32(e + SCAN_FD), name_len, name_errno, name }
        })
        .collect();
    let slots = (0..npre)
        .map(|i| match r32(layout.slots_at + SLOT * i) {
            u32::MAX => None,
            fd => Some(fd),
        })
        .collect();
    let steps = (0..layout.nsteps)
        .map(|k| {
            let at = layout.steps_at + STEP_RECORD * k;
            match r32(at) {
                NOT_STARTED => Ok(StepState::NotStarted),
                STARTED => Ok(StepState::Started),
                RETURNED => Ok(StepState::Returned(r32(at + STEP_ERRNO))),
                state => Err(TraceError::BadState { step: k as usize, state }),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Trace { scanned, slots, steps })
}
