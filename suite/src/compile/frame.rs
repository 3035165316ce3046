//! The stderr frames of [`TraceSink::Stderr`](super::TraceSink::Stderr): for runtimes
//! driven as a command line, whose memory cannot be read after the run, the module writes
//! to fd 2, when each step starts and when it returns, a *segment frame*
//! ([`SEGMENT_MAGIC`] … [`FRAME_END`], read back by [`crate::trace::extract_frames`]) with
//! two segments of the captured memory: everything below the first step's data (the
//! trace: header, step records, preopen slots, scan table) and the step's own data and
//! output areas. Laid over each other in sequence order they give the captured memory; a
//! frame costs the trace plus one step, so a scenario of many steps (a recorded program)
//! writes output in proportion to its size, not to its size times its steps.
//!
//! A frame is six iovecs: a 16-byte header (magic, sequence number, payload length), the
//! first segment's header (address 0, length) and bytes, the step's segment header and
//! bytes, an 8-byte trailer. The step's address and length are stored before each write.

use wasm_encoder::{BlockType, Function as Body, Instruction as I, ValType};

use super::asm::{mem, write_all};
use super::memory_map::MemoryMap;
use super::Compiler;
use wasi_conform_case::frames::{FRAME_END, SEGMENT_MAGIC};

/// Where the frame's parts live in guest memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    header: u32,
    trailer: u32,
    /// The segment headers: the trace's, the step's.
    segments: u32,
    /// The six iovecs.
    iovecs: u32,
    /// One iovec for `write_all`'s partial writes.
    scratch: u32,
    nwritten: u32,
}

/// Header offset of the sequence number.
const SEQUENCE: u64 = 8;
/// Header offset of the payload length.
const LENGTH: u64 = 12;
/// Iovecs of a frame.
const IOVECS: i32 = 6;

impl Frame {
    /// Reserves the frame's areas.
    pub(super) fn alloc(memory: &mut MemoryMap) -> Self {
        Frame {
            header: memory.alloc(16),
            trailer: memory.alloc(8),
            segments: memory.alloc(16),
            iovecs: memory.alloc(8 * IOVECS as u64),
            scratch: memory.alloc(8),
            nwritten: memory.alloc(4),
        }
    }

    /// The data segments of the frame, whose first segment is `[0, prefix)`; the step's
    /// segment is filled in by [`Compiler::flush`].
    pub(super) fn data(&self, prefix: u32, memory: &mut MemoryMap) {
        memory.data.push((self.header, [&SEGMENT_MAGIC[..], &0u32.to_le_bytes(), &0u32.to_le_bytes()].concat()));
        memory.data.push((self.trailer, FRAME_END.to_vec()));
        memory.data.push((self.segments, [0u32.to_le_bytes(), prefix.to_le_bytes()].concat()));
        let iovecs: Vec<u8> =
            [(self.header, 16u32), (self.segments, 8), (0, prefix), (self.segments + 8, 8), (0, 0), (self.trailer, 8)]
                .iter()
                .flat_map(|(p, n)| [p.to_le_bytes(), n.to_le_bytes()].concat())
                .collect();
        memory.data.push((self.iovecs, iovecs));
    }

    /// `$write_frame()`: writes the frame's six iovecs to fd 2, looping over short
    /// writes (a host may write only part of an iovec array, e.g. its first iovec), and
    /// giving up silently on an error (fd 2 closed).
    pub(super) fn write_frame_body(&self, fd_write: u32) -> Body {
        let (i, ptr, len, n) = (0, 1, 2, 3);
        let iov = self.iovecs as i32;
        let mut b = Body::new(vec![(4, ValType::I32)]);
        let head = [
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(i),
            I::I32Const(IOVECS),
            I::I32GeU,
            I::BrIf(1),
            I::LocalGet(i),
            I::I32Const(8),
            I::I32Mul,
            I::I32Const(iov),
            I::I32Add,
            I::I32Load(mem(0, 2)),
            I::LocalSet(ptr),
            I::LocalGet(i),
            I::I32Const(8),
            I::I32Mul,
            I::I32Const(iov),
            I::I32Add,
            I::I32Load(mem(4, 2)),
            I::LocalSet(len),
        ];
        let tail = [I::LocalGet(i), I::I32Const(1), I::I32Add, I::LocalSet(i), I::Br(0), I::End, I::End, I::End];
        let inner = write_all(fd_write, self.scratch, self.nwritten, (ptr, len, n), I::Return);
        for x in head.iter().chain(&inner).chain(&tail) {
            b.instruction(x);
        }
        b
    }
}

impl Compiler {
    /// Writes a frame of the trace and the step's area `[at, at + len)` to fd 2 (its
    /// sequence number first bumped); nothing in the other variants.
    pub(super) fn flush(&self, (at, len): (u32, u32), code: &mut Vec<I<'static>>) {
        let Some(write_frame) = self.functions.write_frame() else { return };
        let hdr = self.frame.header as i32;
        let prefix = self.frame_prefix;
        let store = |addr: u32, v: u32| [I::I32Const(addr as i32), I::I32Const(v as i32), I::I32Store(mem(0, 2))];
        code.extend(store(self.frame.header + LENGTH as u32, 8 + prefix + 8 + len));
        code.extend(store(self.frame.segments + 8, at));
        code.extend(store(self.frame.segments + 12, len));
        code.extend(store(self.frame.iovecs + 32, at));
        code.extend(store(self.frame.iovecs + 36, len));
        code.extend([
            I::I32Const(hdr),
            I::I32Const(hdr),
            I::I32Load(mem(SEQUENCE, 2)),
            I::I32Const(1),
            I::I32Add,
            I::I32Store(mem(SEQUENCE, 2)),
            I::Call(write_frame),
        ]);
    }
}
