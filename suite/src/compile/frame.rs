//! The stderr frames of [`TraceSink::Stderr`](super::TraceSink::Stderr): for runtimes
//! driven as a command line, whose memory cannot be read after the run, the module writes
//! the whole captured region to fd 2 when each step starts and when it returns, framed by
//! [`FRAME_MAGIC`] and [`FRAME_END`] (read back by [`crate::trace::extract_frames`]).
//!
//! A frame is three iovecs: a 16-byte header (magic, sequence number, length), the region
//! `[0, end)`, an 8-byte trailer.

use wasm_encoder::{BlockType, Function as Body, Instruction as I, ValType};

use super::asm::{mem, write_all};
use super::memory_map::MemoryMap;
use super::Compiler;
use wasi_conform_case::frames::{FRAME_END, FRAME_MAGIC};

/// Where the frame's parts live in guest memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    header: u32,
    trailer: u32,
    /// The three iovecs: header, payload, trailer.
    iovecs: u32,
    /// One iovec for `write_all`'s partial writes.
    scratch: u32,
    nwritten: u32,
}

/// Header offset of the sequence number.
const SEQUENCE: u64 = 8;

impl Frame {
    /// Reserves the frame's areas.
    pub(super) fn alloc(memory: &mut MemoryMap) -> Self {
        Frame {
            header: memory.alloc(16),
            trailer: memory.alloc(8),
            iovecs: memory.alloc(24),
            scratch: memory.alloc(8),
            nwritten: memory.alloc(4),
        }
    }

    /// The data segments of a frame over `[0, end)`.
    pub(super) fn data(&self, end: u32, memory: &mut MemoryMap) {
        memory.data.push((self.header, [&FRAME_MAGIC[..], &0u32.to_le_bytes(), &end.to_le_bytes()].concat()));
        memory.data.push((self.trailer, FRAME_END.to_vec()));
        let iovecs: Vec<u8> = [(self.header, 16u32), (0, end), (self.trailer, 8)]
            .iter()
            .flat_map(|(p, n)| [p.to_le_bytes(), n.to_le_bytes()].concat())
            .collect();
        memory.data.push((self.iovecs, iovecs));
    }

    /// `$write_frame()`: writes the frame's three iovecs to fd 2, looping over short
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
            I::I32Const(3),
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
    /// Writes the captured region to fd 2 as one frame (its sequence number first bumped);
    /// nothing in the other variants.
    pub(super) fn flush(&self, code: &mut Vec<I<'static>>) {
        let Some(write_frame) = self.functions.write_frame() else { return };
        let hdr = self.frame.header as i32;
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
