//! The preopen scan at the start of `_start`, as wasi-libc does it: walk
//! `fd_prestat_get(3..)` until the first error, read each name with
//! `fd_prestat_dir_name`, record every preopen in the scan table (see [`crate::trace`]),
//! and bind each fixture preopen whose name matches to its slot. [`match_body`] is public:
//! the fuzzer's interpreter module matches preopen names by the same rule.

use wasi_conform_abi::layout::prestat;
use wasm_encoder::{BlockType, Function as Body, Instruction as I, ValType};

use super::asm::{compare_bytes, mem};
use super::Compiler;
use crate::trace::{
    HEADER_NSCANNED, MAX_NAME, MAX_SCAN, NAME_NOT_READ, SCAN_ENTRY, SCAN_FD, SCAN_NAME, SCAN_NAME_ERRNO, SCAN_NAME_LEN,
    TRACE_BASE,
};

/// `_start`'s locals the scan uses: the fd, the count, the scan entry, the name length.
const FD: u32 = 0;
const COUNT: u32 = 1;
const ENTRY: u32 = 2;
const LEN: u32 = 3;

impl Compiler {
    /// The scan; `want` holds the (address, length) of each fixture preopen's name as the
    /// matcher compares it.
    pub(super) fn scan(&self, want: &[(u32, u32)]) -> Vec<I<'static>> {
        let l = &self.layout;
        let prestat_get = self.functions.import_named("fd_prestat_get");
        let prestat_name = self.functions.import_named("fd_prestat_dir_name");
        let match_fn = self.functions.match_preopen_name();
        let entry_field = |offset: u32| mem(offset as u64, 2);
        let mut ins: Vec<I> = vec![
            I::I32Const(3),
            I::LocalSet(FD),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(COUNT),
            I::I32Const(MAX_SCAN as i32),
            I::I32GeU,
            I::BrIf(1),
            // entry = scan_at + count * SCAN_ENTRY
            I::LocalGet(COUNT),
            I::I32Const(SCAN_ENTRY as i32),
            I::I32Mul,
            I::I32Const(l.scan_at as i32),
            I::I32Add,
            I::LocalSet(ENTRY),
            I::LocalGet(FD),
            I::I32Const(l.scratch_at as i32),
            I::Call(prestat_get),
            I::BrIf(1),
            I::LocalGet(ENTRY),
            I::LocalGet(FD),
            I::I32Store(entry_field(SCAN_FD)),
            I::I32Const(l.scratch_at as i32),
            I::I32Load(mem(prestat::NAME_LEN.1 as u64, 2)),
            I::LocalSet(LEN),
            I::LocalGet(ENTRY),
            I::LocalGet(LEN),
            I::I32Store(entry_field(SCAN_NAME_LEN)),
            // the name errno stays NAME_NOT_READ for a name longer than MAX_NAME
            I::LocalGet(ENTRY),
            I::I32Const(NAME_NOT_READ as i32),
            I::I32Store(entry_field(SCAN_NAME_ERRNO)),
            I::LocalGet(LEN),
            I::I32Const(MAX_NAME as i32),
            I::I32LeU,
            I::If(BlockType::Empty),
            I::LocalGet(ENTRY),
            I::LocalGet(FD),
            I::LocalGet(ENTRY),
            I::I32Const(SCAN_NAME as i32),
            I::I32Add,
            I::LocalGet(LEN),
            I::Call(prestat_name),
            I::I32Store(entry_field(SCAN_NAME_ERRNO)),
        ];
        for (k, (ptr, wlen)) in want.iter().enumerate() {
            let slot = l.slot(k as u32);
            ins.extend([
                I::LocalGet(ENTRY),
                I::I32Load(entry_field(SCAN_NAME_ERRNO)),
                I::I32Eqz,
                I::I32Const(slot as i32),
                I::I32Load(mem(0, 2)),
                I::I32Const(-1),
                I::I32Eq,
                I::I32And,
                I::If(BlockType::Empty),
                I::LocalGet(ENTRY),
                I::I32Const(SCAN_NAME as i32),
                I::I32Add,
                I::LocalGet(LEN),
                I::I32Const(*ptr as i32),
                I::I32Const(*wlen as i32),
                I::Call(match_fn),
                I::If(BlockType::Empty),
                I::I32Const(slot as i32),
                I::LocalGet(FD),
                I::I32Store(mem(0, 2)),
                I::End,
                I::End,
            ]);
        }
        ins.extend([
            I::End,
            I::LocalGet(COUNT),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(COUNT),
            I::LocalGet(FD),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(FD),
            I::Br(0),
            I::End,
            I::End,
            I::I32Const(TRACE_BASE as i32),
            I::LocalGet(COUNT),
            I::I32Store(mem(HEADER_NSCANNED as u64, 2)),
        ]);
        ins
    }
}

/// `$match(p, l, q, m) -> i32`: is the runtime's preopen name `p[..l]` the fixture name
/// `q[..m]`, ignoring one leading `/` or `./` and one trailing `/` of `p`?
pub fn match_body() -> Body {
    let (p, l, q, m, i) = (0, 1, 2, 3, 4);
    let mut b = Body::new(vec![(1, ValType::I32)]);
    let ins = [
        // leading "./"
        I::LocalGet(l),
        I::I32Const(2),
        I::I32GeU,
        I::If(BlockType::Empty),
        I::LocalGet(p),
        I::I32Load16U(mem(0, 0)),
        I::I32Const(0x2f2e), // "./" little-endian
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(p),
        I::I32Const(2),
        I::I32Add,
        I::LocalSet(p),
        I::LocalGet(l),
        I::I32Const(2),
        I::I32Sub,
        I::LocalSet(l),
        I::End,
        I::End,
        // leading "/"
        I::LocalGet(l),
        I::If(BlockType::Empty),
        I::LocalGet(p),
        I::I32Load8U(mem(0, 0)),
        I::I32Const(b'/' as i32),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(p),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(p),
        I::LocalGet(l),
        I::I32Const(1),
        I::I32Sub,
        I::LocalSet(l),
        I::End,
        I::End,
        // trailing "/"
        I::LocalGet(l),
        I::If(BlockType::Empty),
        I::LocalGet(p),
        I::LocalGet(l),
        I::I32Add,
        I::I32Const(1),
        I::I32Sub,
        I::I32Load8U(mem(0, 0)),
        I::I32Const(b'/' as i32),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(l),
        I::I32Const(1),
        I::I32Sub,
        I::LocalSet(l),
        I::End,
        I::End,
        I::LocalGet(l),
        I::LocalGet(m),
        I::I32Ne,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
    ];
    for x in ins.iter().chain(&compare_bytes(p, q, l, i)).chain(&[I::I32Const(1), I::End]) {
        b.instruction(x);
    }
    b
}
