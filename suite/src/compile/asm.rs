//! Small instruction sequences the compiler's parts share, and that other generators of
//! preview1 code (the fuzzer's interpreter, the tracing shims of `wasi-conform-programs`)
//! reuse: memory arguments, value types, writing a whole buffer to fd 2, comparing bytes.

use wasi_conform_abi::CoreType;
use wasm_encoder::{BlockType, Instruction as I, MemArg, ValType};

/// A memory argument on memory 0.
pub fn mem(offset: u64, align: u32) -> MemArg {
    MemArg { offset, align, target: wasm_encoder::MemArgTarget::Memory(0), ordering: None }
}

/// The wasm value type of a core type of the function table.
pub fn val(t: CoreType) -> ValType {
    match t {
        CoreType::I32 => ValType::I32,
        CoreType::I64 => ValType::I64,
    }
}

/// Writes `len` bytes at `ptr` (locals) to fd 2, looping over short writes; `n` is a
/// scratch local, `scratch` 8 bytes for the iovec, `nwritten` 4 bytes. On an error or a
/// write of nothing (fd 2 closed or full) it runs `stop` (e.g. `return`, or a branch out of
/// the enclosing loops) from inside an `if` block.
pub fn write_all(
    fd_write: u32,
    scratch: u32,
    nwritten: u32,
    (ptr, len, n): (u32, u32, u32),
    stop: I<'static>,
) -> [I<'static>; 37] {
    [
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(len),
        I::I32Eqz,
        I::BrIf(1),
        I::I32Const(scratch as i32),
        I::LocalGet(ptr),
        I::I32Store(mem(0, 2)),
        I::I32Const(scratch as i32),
        I::LocalGet(len),
        I::I32Store(mem(4, 2)),
        I::I32Const(2),
        I::I32Const(scratch as i32),
        I::I32Const(1),
        I::I32Const(nwritten as i32),
        I::Call(fd_write),
        I::If(BlockType::Empty),
        stop.clone(),
        I::End,
        I::I32Const(nwritten as i32),
        I::I32Load(mem(0, 2)),
        I::LocalTee(n),
        I::I32Eqz,
        I::If(BlockType::Empty),
        stop.clone(),
        I::End,
        I::LocalGet(ptr),
        I::LocalGet(n),
        I::I32Add,
        I::LocalSet(ptr),
        I::LocalGet(len),
        I::LocalGet(n),
        I::I32Sub,
        I::LocalSet(len),
        I::Br(0),
        I::End,
        I::End,
    ]
}

/// Compares `n` bytes at the addresses in locals `a` and `b` (local `i`, zero at entry,
/// counts): `return 0` at the first difference, fall through when all are equal.
pub fn compare_bytes(a: u32, b: u32, n: u32, i: u32) -> [I<'static>; 26] {
    [
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(i),
        I::LocalGet(n),
        I::I32GeU,
        I::BrIf(1),
        I::LocalGet(a),
        I::LocalGet(i),
        I::I32Add,
        I::I32Load8U(mem(0, 0)),
        I::LocalGet(b),
        I::LocalGet(i),
        I::I32Add,
        I::I32Load8U(mem(0, 0)),
        I::I32Ne,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
        I::LocalGet(i),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(i),
        I::Br(0),
        I::End,
        I::End,
    ]
}
