//! Where everything sits in guest memory: the [`Layout`] the decoder reads a run with, and
//! the [`MemoryMap`] the compiler allocates data and output areas from.
//!
//! `[0, TRACE_BASE)` is left free for raw pointers in scenarios; the trace (header, step
//! records, preopen slots, scan table; see [`crate::trace`]) follows; then every step's data
//! and output areas, 8-aligned, in step order.

use std::collections::BTreeMap;

use crate::trace::{HEADER_SIZE, MAX_SCAN, SCAN_ENTRY, SLOT, STEP_RECORD, TRACE_BASE, TRACE_MAGIC};

/// Where everything is in guest memory; what [`crate::trace`] needs to decode a run.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Step records: `state u32, errno u32` each, from `steps_at`.
    pub steps_at: u32,
    pub nsteps: u32,
    /// Fixture preopen slots (fd found, `u32::MAX` if none), from `slots_at`.
    pub slots_at: u32,
    /// Scan table and its prestat scratch.
    pub scan_at: u32,
    pub scratch_at: u32,
    /// Per step: where its outputs are.
    pub steps: Vec<StepLayout>,
    /// Binding name → (address, width in bytes) of its value.
    pub bindings: BTreeMap<String, (u32, u32)>,
    /// End of used memory.
    pub end: u32,
}

/// Addresses of one step's outputs.
#[derive(Debug, Clone, Default)]
pub struct StepLayout {
    /// Out-pointer per result (the raw override, if any).
    pub results: Vec<u32>,
    /// Buffers behind an `iovec_array` argument: (addr, len).
    pub iovecs: Vec<(u32, u32)>,
    /// A `Buffer` argument: (addr, len passed).
    pub buffer: Option<(u32, u32)>,
    /// `Region` arguments: (addr, size) in parameter order.
    pub regions: Vec<(u32, u32)>,
    /// `poll_oneoff` events area: (addr, capacity).
    pub events: Option<(u32, u32)>,
}

impl Layout {
    /// The step record of step `k` (0-based).
    pub fn step_record(&self, k: u32) -> u32 {
        self.steps_at + STEP_RECORD * k
    }

    /// The slot of fixture preopen `i`.
    pub fn slot(&self, i: u32) -> u32 {
        self.slots_at + SLOT * i
    }
}

/// The allocator of guest memory and the data segments that initialise it.
#[derive(Debug)]
pub(super) struct MemoryMap {
    next: u64,
    /// Active data segments: (address, bytes).
    pub(super) data: Vec<(u32, Vec<u8>)>,
}

impl MemoryMap {
    /// The trace's fixed part for `nsteps` steps and `npreopens` fixture preopens, with the
    /// header and the empty slots initialised; allocation continues after the scan table.
    pub(super) fn new(nsteps: u32, npreopens: u32) -> (Self, Layout) {
        let steps_at = TRACE_BASE + HEADER_SIZE;
        let slots_at = steps_at + STEP_RECORD * nsteps;
        let scratch_at = (slots_at + SLOT * npreopens + 7) & !7;
        let scan_at = scratch_at + 8;
        let end = scan_at + MAX_SCAN * SCAN_ENTRY;
        let mut data =
            vec![(TRACE_BASE, [TRACE_MAGIC.to_le_bytes(), nsteps.to_le_bytes(), npreopens.to_le_bytes()].concat())];
        if npreopens > 0 {
            data.push((slots_at, vec![0xff; (SLOT * npreopens) as usize]));
        }
        let layout = Layout {
            steps_at,
            nsteps,
            slots_at,
            scan_at,
            scratch_at,
            steps: Vec::new(),
            bindings: BTreeMap::new(),
            end,
        };
        (MemoryMap { next: end as u64, data }, layout)
    }

    /// Reserves `size` bytes aligned to 8 and returns the address.
    pub(super) fn alloc(&mut self, size: u64) -> u32 {
        let at = (self.next + 7) & !7;
        self.next = at + size.max(1);
        at.min(u32::MAX as u64) as u32
    }

    /// Reserves room for `bytes` and initialises it with them.
    pub(super) fn put(&mut self, bytes: Vec<u8>) -> u32 {
        let at = self.alloc(bytes.len() as u64);
        if !bytes.is_empty() {
            self.data.push((at, bytes));
        }
        at
    }

    /// The end of what was allocated, 8-aligned, or `None` when it does not fit below
    /// 4 GiB with a page to spare.
    pub(super) fn end(&self) -> Option<u32> {
        (self.next <= u32::MAX as u64 - 65536).then(|| ((self.next + 7) & !7) as u32)
    }
}
