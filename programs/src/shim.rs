//! The generated code of an instrumented module: one shim per preview1 import, with the
//! import's own signature, and the helpers they share. A shim writes an `ENTERED` frame,
//! makes the real call, and writes a `RETURNED` frame with the errno and the regions of
//! [`crate::regions`]; `proc_exit` gets only the first. Frames go to fd 2 through the real
//! `fd_write` (format: [`crate::frame`]).
//!
//! Everything the shims touch in guest memory is the borrowed scratch `[0, SCRATCH)`,
//! saved into globals by `$begin` and restored by `$restore` before the program continues;
//! every read of guest memory is bounds-checked, so a shim never traps where the program
//! would not. A memory of zero pages is not traced.

use wasi_conform_abi::{CoreType, Function, Returns};
use wasm_encoder::{BlockType, Function as Body, Instruction as I, MemArg, ValType};

use wasi_conform_suite::compile::asm::{self, write_all};

use crate::frame::*;
use crate::regions::{regions, Region, MAX_ARRAY, MAX_PATH, MAX_REGION};

/// Globals that hold the saved scratch bytes.
pub const SAVED_GLOBALS: u32 = SCRATCH / 8;

/// The function and global indices the generated code calls and uses.
#[derive(Debug, Clone, Copy)]
pub struct Indices {
    /// The real `fd_write` import.
    pub fd_write: u32,
    /// The first helper function; the helpers follow in [`HELPERS`] order.
    pub helpers: u32,
    /// The first of the [`SAVED_GLOBALS`] globals; the sequence counter follows them.
    pub globals: u32,
}

/// The helpers, in index order, with their signatures (params, results).
pub const HELPERS: [(&str, &[ValType], &[ValType]); 6] = [
    ("wasi_conform_begin", &[ValType::I32, ValType::I32], &[]),
    ("wasi_conform_emit", &[], &[]),
    ("wasi_conform_restore", &[], &[]),
    ("wasi_conform_clamp", &[ValType::I32, ValType::I32, ValType::I32], &[ValType::I32]),
    ("wasi_conform_u32_at", &[ValType::I32], &[ValType::I32]),
    ("wasi_conform_save", &[], &[]),
];
const BEGIN: u32 = 0;
const EMIT: u32 = 1;
const RESTORE: u32 = 2;
const CLAMP: u32 = 3;
const U32_AT: u32 = 4;
const SAVE: u32 = 5;

fn mem(offset: u32, align: u32) -> MemArg {
    asm::mem(offset.into(), align)
}

fn body(locals: Vec<(u32, ValType)>, ins: &[I<'_>]) -> Body {
    let mut b = Body::new(locals);
    for i in ins {
        b.instruction(i);
    }
    b.instruction(&I::End);
    b
}

impl Indices {
    fn helper(&self, which: u32) -> I<'static> {
        I::Call(self.helpers + which)
    }

    fn seq(&self) -> u32 {
        self.globals + SAVED_GLOBALS
    }

    /// The helpers' bodies, in [`HELPERS`] order.
    pub fn helper_bodies(&self) -> Vec<Body> {
        vec![self.begin(), self.emit(), self.restore(), clamp(), u32_at(), self.save()]
    }

    /// `$begin(function, phase)`: saves the scratch, writes the header and the record,
    /// clears the region table.
    fn begin(&self) -> Body {
        let (function, phase) = (0, 1);
        let word = |at: usize| i32::from_le_bytes(CALL_MAGIC[at..at + 4].try_into().expect("4 bytes"));
        let mut ins = vec![
            self.helper(SAVE),
            I::I32Const(0),
            I::I32Const(word(0)),
            I::I32Store(mem(0, 0)),
            I::I32Const(0),
            I::I32Const(word(4)),
            I::I32Store(mem(4, 0)),
            I::GlobalGet(self.seq()),
            I::I32Const(1),
            I::I32Add,
            I::GlobalSet(self.seq()),
            I::I32Const(0),
            I::GlobalGet(self.seq()),
            I::I32Store(mem(8, 0)),
            I::I32Const(0),
            I::LocalGet(function),
            I::I32Store(mem(FUNCTION, 0)),
            I::I32Const(0),
            I::LocalGet(phase),
            I::I32Store(mem(PHASE, 0)),
            I::I32Const(0),
            I::I32Const(NO_ERRNO as i32),
            I::I32Store(mem(ERRNO, 0)),
            I::I32Const(0),
            I::I32Const(0),
            I::I32Store(mem(NREGIONS, 0)),
        ];
        for k in 0..(FIXED - ARGS) / 8 {
            ins.extend([I::I32Const(0), I::I64Const(0), I::I64Store(mem(ARGS + 8 * k, 0))]);
        }
        body(vec![], &ins)
    }

    /// `$save()`: the scratch bytes into the globals.
    fn save(&self) -> Body {
        let mut ins = Vec::new();
        for k in 0..SAVED_GLOBALS {
            ins.extend([I::I32Const(0), I::I64Load(mem(8 * k, 0)), I::GlobalSet(self.globals + k)]);
        }
        body(vec![], &ins)
    }

    /// `$restore()`: the globals back into the scratch bytes.
    fn restore(&self) -> Body {
        let mut ins = Vec::new();
        for k in 0..SAVED_GLOBALS {
            ins.extend([I::I32Const(0), I::GlobalGet(self.globals + k), I::I64Store(mem(8 * k, 0))]);
        }
        body(vec![], &ins)
    }

    /// `$emit()`: computes the payload length, lays out the ciovecs (fixed part, regions,
    /// trailer) and writes them to fd 2, looping over short writes; gives up silently when
    /// fd 2 fails or takes nothing (the program closed it).
    fn emit(&self) -> Body {
        let (i, n, total, ptr, len, w) = (0, 1, 2, 3, 4, 5);
        let ins = [
            // n = regions + 2 ciovecs; total = FIXED - HEADER + Σ len
            I::I32Const(0),
            I::I32Load(mem(NREGIONS, 0)),
            I::LocalSet(n),
            I::I32Const((FIXED - HEADER) as i32),
            I::LocalSet(total),
            // ciovec 0: the fixed part
            I::I32Const(0),
            I::I32Const(0),
            I::I32Store(mem(CIOVECS, 0)),
            I::I32Const(0),
            I::I32Const(FIXED as i32),
            I::I32Store(mem(CIOVECS + 4, 0)),
            // ciovecs 1..=n: the regions
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(i),
            I::LocalGet(n),
            I::I32GeU,
            I::BrIf(1),
            I::LocalGet(i),
            I::I32Const(8),
            I::I32Mul,
            I::LocalTee(w),
            I::LocalGet(w),
            I::I32Load(mem(TABLE, 0)),
            I::I32Store(mem(CIOVECS + 8, 0)),
            I::LocalGet(w),
            I::LocalGet(w),
            I::I32Load(mem(TABLE + 4, 0)),
            I::LocalTee(len),
            I::I32Store(mem(CIOVECS + 12, 0)),
            I::LocalGet(total),
            I::LocalGet(len),
            I::I32Add,
            I::LocalSet(total),
            I::LocalGet(i),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(i),
            I::Br(0),
            I::End,
            I::End,
            // the trailer, and its ciovec
            I::I32Const(0),
            I::I64Const(i64::from_le_bytes(*FRAME_END)),
            I::I64Store(mem(TRAILER, 0)),
            I::LocalGet(n),
            I::I32Const(8),
            I::I32Mul,
            I::LocalTee(w),
            I::I32Const(TRAILER as i32),
            I::I32Store(mem(CIOVECS + 8, 0)),
            I::LocalGet(w),
            I::I32Const(8),
            I::I32Store(mem(CIOVECS + 12, 0)),
            I::I32Const(0),
            I::LocalGet(total),
            I::I32Store(mem(12, 0)),
            // write ciovecs 0..n+2, each whole
            I::I32Const(0),
            I::LocalSet(i),
            I::LocalGet(n),
            I::I32Const(2),
            I::I32Add,
            I::LocalSet(n),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(i),
            I::LocalGet(n),
            I::I32GeU,
            I::BrIf(1),
            I::LocalGet(i),
            I::I32Const(8),
            I::I32Mul,
            I::LocalTee(w),
            I::I32Load(mem(CIOVECS, 0)),
            I::LocalSet(ptr),
            I::LocalGet(w),
            I::I32Load(mem(CIOVECS + 4, 0)),
            I::LocalSet(len),
        ];
        let tail = [I::LocalGet(i), I::I32Const(1), I::I32Add, I::LocalSet(i), I::Br(0), I::End, I::End];
        let write = write_all(self.fd_write, PARTIAL, NWRITTEN, (ptr, len, w), I::Return);
        let all: Vec<I> = ins.iter().chain(&write).chain(&tail).cloned().collect();
        body(vec![(6, ValType::I32)], &all)
    }

    /// The shim of an import of `f` whose real index is `real`.
    pub fn shim(&self, f: &Function, real: u32) -> Body {
        let core = f.core_params();
        let nparams = core.len() as u32;
        let (r, rem, p, l) = (nparams, nparams + 1, nparams + 2, nparams + 3);
        let call_through: Vec<I> = (0..nparams).map(I::LocalGet).chain([I::Call(real)]).collect();
        let store_args = |ins: &mut Vec<I<'static>>| {
            for (i, t) in core.iter().enumerate() {
                ins.extend([I::I32Const(0), I::LocalGet(i as u32)]);
                if *t == CoreType::I32 {
                    ins.push(I::I64ExtendI32U);
                }
                ins.push(I::I64Store(mem(ARGS + 8 * i as u32, 0)));
            }
        };
        let id = f.index as i32;
        let returns = f.returns == Returns::Errno;
        // Untraced when there is no memory to borrow.
        let mut ins = vec![I::MemorySize(0), I::I32Eqz, I::If(BlockType::Empty)];
        ins.extend(call_through.iter().cloned());
        ins.extend([I::Return, I::End]);
        // ENTERED
        ins.extend([I::I32Const(id), I::I32Const(ENTERED as i32), self.helper(BEGIN)]);
        store_args(&mut ins);
        ins.extend([self.helper(EMIT), self.helper(RESTORE)]);
        ins.extend(call_through.iter().cloned());
        if !returns {
            return body(vec![(4, ValType::I32)], &ins);
        }
        ins.push(I::LocalSet(r));
        // RETURNED
        ins.extend([I::I32Const(id), I::I32Const(RETURNED as i32), self.helper(BEGIN)]);
        store_args(&mut ins);
        ins.extend([I::I32Const(0), I::LocalGet(r), I::I32Store(mem(ERRNO, 0))]);
        let list = regions(f);
        for (j, region) in list.iter().enumerate() {
            self.region(region, (r, rem, p, l), &mut ins);
            if region.is_output() {
                // nothing is recorded of a failed call's outputs
                ins.extend([I::LocalGet(r), I::If(BlockType::Empty), I::I32Const(0), I::LocalSet(l), I::End]);
            }
            let at = TABLE + 8 * j as u32;
            ins.extend([
                I::I32Const(0),
                I::LocalGet(p),
                I::I32Store(mem(at, 0)),
                I::I32Const(0),
                I::LocalGet(l),
                I::I32Store(mem(at + 4, 0)),
            ]);
        }
        ins.extend([
            I::I32Const(0),
            I::I32Const(list.len() as i32),
            I::I32Store(mem(NREGIONS, 0)),
            self.helper(EMIT),
            self.helper(RESTORE),
            I::LocalGet(r),
        ]);
        body(vec![(4, ValType::I32)], &ins)
    }

    /// Sets locals `p` and `l` to one region's address and recorded length.
    fn region(&self, region: &Region, (_r, rem, p, l): (u32, u32, u32, u32), ins: &mut Vec<I<'static>>) {
        let local = |i: usize| I::LocalGet(i as u32);
        let clamp_to = |ins: &mut Vec<I<'static>>, cap: u32| {
            // l = clamp(p, l, cap)
            ins.extend([I::LocalGet(p), I::LocalGet(l), I::I32Const(cap as i32), self.helper(CLAMP), I::LocalSet(l)]);
        };
        let min_u = |ins: &mut Vec<I<'static>>, other: I<'static>| {
            // if other < l { l = other } (an `if`, not `select`: wasmi 2.0 computes
            // `l = select(l, …)` wrongly after `l = call …`; see the README)
            ins.extend([
                other.clone(),
                I::LocalGet(l),
                I::I32LtU,
                I::If(BlockType::Empty),
                other,
                I::LocalSet(l),
                I::End,
            ]);
        };
        match *region {
            Region::Str { ptr, len, .. } => {
                ins.extend([local(ptr), I::LocalSet(p), local(len), I::LocalSet(l)]);
                clamp_to(ins, MAX_PATH);
            }
            Region::Ciovec { array, count, k, .. } | Region::Iovec { array, count, k, .. } => {
                if let Region::Iovec { total, .. } = *region {
                    if k == 0 {
                        ins.extend([local(total), self.helper(U32_AT), I::LocalSet(rem)]);
                    }
                }
                ins.extend([I::I32Const(0), I::LocalSet(p), I::I32Const(0), I::LocalSet(l)]);
                ins.extend([I::I32Const(k as i32), local(count), I::I32LtU, I::If(BlockType::Empty)]);
                let entry =
                    |field: u32| [local(array), I::I32Const((8 * k + field) as i32), I::I32Add, self.helper(U32_AT)];
                ins.extend(entry(0));
                ins.push(I::LocalSet(p));
                ins.extend(entry(4));
                ins.push(I::LocalSet(l));
                if let Region::Iovec { .. } = *region {
                    min_u(ins, I::LocalGet(rem));
                    ins.extend([I::LocalGet(rem), I::LocalGet(l), I::I32Sub, I::LocalSet(rem)]);
                }
                clamp_to(ins, MAX_REGION);
                ins.push(I::End);
            }
            Region::Buffer { ptr, len, used, .. } => {
                ins.extend([local(ptr), I::LocalSet(p), local(len), I::LocalSet(l)]);
                if let Some(used) = used {
                    let mut used_value = vec![local(used), self.helper(U32_AT)];
                    // min_u(l, *used) with *used loaded once into rem
                    used_value.push(I::LocalSet(rem));
                    ins.extend(used_value);
                    min_u(ins, I::LocalGet(rem));
                }
                clamp_to(ins, MAX_REGION);
            }
            Region::Array { array, count, .. } => {
                ins.extend([local(array), I::LocalSet(p), local(count), I::LocalSet(l)]);
                min_u(ins, I::I32Const(MAX_ARRAY as i32));
                ins.extend([I::LocalGet(l), I::I32Const(8), I::I32Mul, I::LocalSet(l)]);
                clamp_to(ins, 8 * MAX_ARRAY);
            }
            Region::Subscriptions { ptr, count, .. } => {
                ins.extend([local(ptr), I::LocalSet(p), local(count), I::LocalSet(l)]);
                min_u(ins, I::I32Const((MAX_REGION / 48) as i32));
                ins.extend([I::LocalGet(l), I::I32Const(48), I::I32Mul, I::LocalSet(l)]);
                clamp_to(ins, MAX_REGION);
            }
            Region::Events { ptr, count, .. } => {
                ins.extend([local(ptr), I::LocalSet(p), local(count), self.helper(U32_AT), I::LocalSet(l)]);
                min_u(ins, I::I32Const((MAX_REGION / 32) as i32));
                ins.extend([I::LocalGet(l), I::I32Const(32), I::I32Mul, I::LocalSet(l)]);
                clamp_to(ins, MAX_REGION);
            }
            Region::Result { ptr, size, .. } => {
                ins.extend([local(ptr), I::LocalSet(p), I::I32Const(size as i32), I::LocalSet(l)]);
                clamp_to(ins, size);
            }
        }
    }
}

/// `$clamp(ptr, len, cap) -> len'`: `min(len, cap)`, cut at the end of memory; 0 when
/// `ptr` is outside it.
fn clamp() -> Body {
    let (ptr, len, cap, size) = (0, 1, 2, 3);
    let ins = [
        I::MemorySize(0),
        I::I64ExtendI32U,
        I::I64Const(16),
        I::I64Shl,
        I::LocalSet(size),
        I::LocalGet(ptr),
        I::I64ExtendI32U,
        I::LocalGet(size),
        I::I64GeU,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
        // if cap < len { len = cap }
        I::LocalGet(cap),
        I::LocalGet(len),
        I::I32LtU,
        I::If(BlockType::Empty),
        I::LocalGet(cap),
        I::LocalSet(len),
        I::End,
        // min(len, size - ptr)
        I::LocalGet(len),
        I::I64ExtendI32U,
        I::LocalGet(size),
        I::LocalGet(ptr),
        I::I64ExtendI32U,
        I::I64Sub,
        I::I64GtU,
        I::If(BlockType::Result(ValType::I32)),
        I::LocalGet(size),
        I::LocalGet(ptr),
        I::I64ExtendI32U,
        I::I64Sub,
        I::I32WrapI64,
        I::Else,
        I::LocalGet(len),
        I::End,
    ];
    body(vec![(1, ValType::I64)], &ins)
}

/// `$u32_at(addr) -> u32`: the word at `addr`, or 0 when it is not inside memory.
fn u32_at() -> Body {
    let ins = [
        I::LocalGet(0),
        I::I64ExtendI32U,
        I::I64Const(4),
        I::I64Add,
        I::MemorySize(0),
        I::I64ExtendI32U,
        I::I64Const(16),
        I::I64Shl,
        I::I64GtU,
        I::If(BlockType::Result(ValType::I32)),
        I::I32Const(0),
        I::Else,
        I::LocalGet(0),
        I::I32Load(mem(0, 0)),
        I::End,
    ];
    body(vec![], &ins)
}
