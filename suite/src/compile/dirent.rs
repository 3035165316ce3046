//! Reading a field of a directory entry out of an `fd_readdir` buffer at run time, for
//! bindings like `$cookie: {entry: 1, field: next}`: the entries are walked by their
//! `d_namlen`, never past `bufused`, and a binding of an entry the buffer does not hold
//! completely is left as `0xff…`.

use wasm_encoder::{BlockType, Instruction as I};

use wasi_conform_abi::layout::{dirent, DIRENT};

use super::asm::mem;
use crate::scenario::EntryIndex;

/// Local of `_start` used to walk a dirent buffer.
pub(super) const WALK: u32 = 5;

/// Bytes of a dirent header; the name follows it.
const HEADER: i32 = DIRENT.size as i32;
/// Offset of `d_namlen` in the header.
const NAMLEN: u64 = dirent::NAMLEN.1 as u64;

/// After an `fd_readdir`: stores field `offset` of its `index`-th complete entry into
/// `slot` (left as `0xff…` when the buffer holds fewer complete entries). Entries are packed
/// without padding, so loads are unaligned.
pub(super) fn dirent_field(buf: u32, used_at: u32, index: EntryIndex, offset: u32, slot: u32) -> Vec<I<'static>> {
    let index = match index {
        EntryIndex::Nth(n) => n,
        EntryIndex::Last => return last_dirent_field(buf, used_at, offset, slot),
    };
    let mut v = vec![I::I32Const(0), I::LocalSet(WALK)];
    for _ in 0..index {
        // walk = min(walk + 24 + namlen(walk), bufused)
        v.extend(entry_end(buf));
        v.extend([
            I::LocalSet(WALK),
            I::LocalGet(WALK),
            I::I32Const(used_at as i32),
            I::I32Load(mem(0, 2)),
            I::LocalGet(WALK),
            I::I32Const(used_at as i32),
            I::I32Load(mem(0, 2)),
            I::I32LeU,
            I::Select,
            I::LocalSet(WALK),
        ]);
    }
    // a complete header: walk + 24 <= bufused
    v.extend(header_end_and_used(used_at));
    v.extend([I::I32LeU, I::If(BlockType::Empty)]);
    v.extend(store_field(buf, offset, slot));
    v.push(I::End);
    v
}

/// Pushes `walk + 24` (where the dirent header at `walk` ends) and `bufused`, for the
/// caller's comparison.
fn header_end_and_used(used_at: u32) -> [I<'static>; 5] {
    [I::LocalGet(WALK), I::I32Const(HEADER), I::I32Add, I::I32Const(used_at as i32), I::I32Load(mem(0, 2))]
}

/// Copies the 8-byte field at `offset` of the dirent at `buf + walk` into `slot`.
fn store_field(buf: u32, offset: u32, slot: u32) -> [I<'static>; 6] {
    [
        I::I32Const(slot as i32),
        I::LocalGet(WALK),
        I::I32Const(buf as i32),
        I::I32Add,
        I::I64Load(mem(offset as u64, 0)),
        I::I64Store(mem(0, 3)),
    ]
}

/// Pushes `walk + 24 + namlen(walk)`: where the dirent at `buf + walk` ends.
fn entry_end(buf: u32) -> [I<'static>; 8] {
    [
        I::LocalGet(WALK),
        I::I32Const(HEADER),
        I::I32Add,
        I::LocalGet(WALK),
        I::I32Const(buf as i32),
        I::I32Add,
        I::I32Load(mem(NAMLEN, 0)),
        I::I32Add,
    ]
}

/// Stores the `offset` field of the last complete dirent in `buf[..bufused]` into `slot`
/// (left untouched when no entry is complete): walk = 0; while walk + 24 + namlen(walk) <=
/// bufused { slot = field(walk); walk += 24 + namlen(walk) }.
fn last_dirent_field(buf: u32, used_at: u32, offset: u32, slot: u32) -> Vec<I<'static>> {
    // walk + 24 + namlen(walk), where namlen is read only once the header fits
    let end_of_entry = entry_end(buf);
    let mut v = vec![I::I32Const(0), I::LocalSet(WALK), I::Block(BlockType::Empty), I::Loop(BlockType::Empty)];
    // the header must fit before namlen is read
    v.extend(header_end_and_used(used_at));
    v.extend([I::I32GtU, I::BrIf(1)]);
    v.extend([
        // a name longer than the whole buffer ends the walk (and keeps the sum below 2^32)
        I::LocalGet(WALK),
        I::I32Const(buf as i32),
        I::I32Add,
        I::I32Load(mem(NAMLEN, 0)),
        I::I32Const(used_at as i32),
        I::I32Load(mem(0, 2)),
        I::I32GtU,
        I::BrIf(1),
    ]);
    v.extend(end_of_entry.clone());
    v.extend([I::I32Const(used_at as i32), I::I32Load(mem(0, 2)), I::I32GtU, I::BrIf(1)]);
    v.extend(store_field(buf, offset, slot));
    v.extend(end_of_entry);
    v.extend([I::LocalSet(WALK), I::Br(0), I::End, I::End]);
    v
}
