//! Where the rewritten calls find their arguments: a scratch area of guest memory that the
//! rewriter fills with one data segment (path strings, a message, `iovec` arrays,
//! `poll_oneoff` subscriptions) and the slots the host writes results into.
//!
//! The area sits in the first page, which every generated module has (its memory is
//! `1..=MAX_PAGES` pages). Generated code may overwrite any of it at run time; that is part
//! of the fuzzing, and it happens identically on every runtime.
//!
//! Host-written data that differs legitimately between runtimes (timestamps, inode numbers,
//! random bytes, event order) goes to [`VOLATILE`], which no rewritten call reads from;
//! file contents, names and fd numbers go to [`READ_BUF`] and the result slots.

use wasi_conform_abi::layout;

/// Pages of linear memory every generated module declares: minimum 1, maximum this.
pub const MAX_PAGES: u64 = 16;
/// Start of the scratch area (and of the rewriter's data segment).
pub const BASE: u32 = 0x4000;
/// Path strings, packed, each at a fixed offset ([`PATHS`]).
pub const STRINGS: u32 = BASE;
/// The message `fd_write`-like calls send.
pub const MESSAGE: u32 = BASE + 0x400;
/// `ciovec` arrays over [`MESSAGE`].
pub const CIOVECS: u32 = BASE + 0x480;
/// `iovec` arrays over [`READ_BUF`].
pub const IOVECS: u32 = BASE + 0x500;
/// `poll_oneoff` subscriptions, [`SUBSCRIPTIONS_LEN`] of them.
pub const SUBSCRIPTIONS: u32 = BASE + 0x600;
/// End of the data segment.
pub const SEGMENT_END: u32 = BASE + 0x800;
/// Host-written bytes that are deterministic across correct runtimes (file contents,
/// directory names, link targets, args).
pub const READ_BUF: u32 = BASE + 0x800;
/// Length of [`READ_BUF`].
pub const READ_BUF_LEN: u32 = 0x100;
/// Host-written bytes that legitimately differ between runtimes (see the module doc).
pub const VOLATILE: u32 = BASE + 0x900;
/// Length of [`VOLATILE`].
pub const VOLATILE_LEN: u32 = 0x200;
/// The slot `fd` results are written to; "the last opened fd" is read from here.
pub const OUT_FD: u32 = BASE + 0xB00;
/// The slot every other small result (`size`, `filesize`, `roflags`, `fdstat`, `prestat`)
/// is written to.
pub const OUT_SMALL: u32 = BASE + 0xB08;
/// Buffer of the preopen finder's `fd_prestat_dir_name`.
pub const NAME_BUF: u32 = BASE + 0xC00;
/// Length of [`NAME_BUF`].
pub const NAME_BUF_LEN: u32 = 0x40;
/// The finder's `prestat` out-pointer.
pub const PRESTAT_OUT: u32 = BASE + 0xC40;

/// The message written by `fd_write`, `fd_pwrite` and `sock_send`.
pub const MESSAGE_TEXT: &[u8] = b"smith says hi\n";

/// Path strings offered to `path_*` calls: names in the fixture, names that are not,
/// escapes, odd spellings and malformed bytes.
pub const PATHS: &[&[u8]] = &[
    b"a",
    b"dir",
    b"dir/b",
    b"dir/sub",
    b"empty",
    b"link",
    b"dirlink/b",
    b"escape",
    b"dangling",
    b"loop",
    b"new",
    b"dir/new",
    b"a/",
    b"dir/",
    b".",
    b"..",
    b"./a",
    b"dir/../a",
    b"../outside/secret",
    b"dir/../../outside",
    b"/etc/passwd",
    b"",
    b"a\0b",
    b"\xff\xfe",
];

/// A long name (over the 255-byte `NAME_MAX` of common file systems).
pub const LONG_NAME_LEN: u32 = 300;

/// Offsets of [`PATHS`] inside the strings area, then the long name.
pub fn path_offsets() -> Vec<(u32, u32)> {
    let mut at = STRINGS;
    let mut v = Vec::new();
    for p in PATHS {
        v.push((at, p.len() as u32));
        at += p.len() as u32;
    }
    v.push((at, LONG_NAME_LEN));
    v
}

/// `iovec` arrays as `(pointer, count)` choices, over a buffer `buf` of at least 64 bytes:
/// one entry, two entries, an entry whose buffer is out of bounds, a zero-length entry.
fn iovec_entries(buf: u32) -> [(u32, u32); 5] {
    [(buf, 16), (buf + 16, 0), (buf + 16, 48), (0xFFFF_0000, 4), (buf, 0)]
}

/// The `(pointer, count)` choices over [`CIOVECS`] or [`IOVECS`].
pub fn iovec_choices(array: u32) -> [(u32, u32); 5] {
    let e = layout::IOVEC.size;
    [(array, 1), (array, 2), (array + 3 * e, 1), (array + 4 * e, 1), (array, 0)]
}

/// Number of prepared subscriptions.
pub const SUBSCRIPTIONS_LEN: u32 = 4;

/// The rewriter's data segment, placed at [`BASE`].
pub fn segment() -> Vec<u8> {
    let mut seg = vec![0u8; (SEGMENT_END - BASE) as usize];
    let mut put = |at: u32, bytes: &[u8]| {
        let i = (at - BASE) as usize;
        seg[i..i + bytes.len()].copy_from_slice(bytes);
    };
    for ((at, _), p) in path_offsets().iter().zip(PATHS) {
        put(*at, p);
    }
    let (long_at, long_len) = *path_offsets().last().expect("the long name is listed");
    put(long_at, &vec![b'x'; long_len as usize]);
    put(MESSAGE, MESSAGE_TEXT);
    let msg_len = MESSAGE_TEXT.len() as u32;
    let ciovecs = [(MESSAGE, msg_len), (MESSAGE, 5), (MESSAGE + 5, msg_len - 5), (0xFFFF_0000, 4), (MESSAGE, 0)];
    for (i, (buf, len)) in ciovecs.iter().enumerate() {
        put(CIOVECS + 8 * i as u32, &buf.to_le_bytes());
        put(CIOVECS + 8 * i as u32 + 4, &len.to_le_bytes());
    }
    for (i, (buf, len)) in iovec_entries(READ_BUF).iter().enumerate() {
        put(IOVECS + 8 * i as u32, &buf.to_le_bytes());
        put(IOVECS + 8 * i as u32 + 4, &len.to_le_bytes());
    }
    // Subscriptions: relative monotonic clock 1 µs; fd_read on stdin; fd_write on stdout;
    // absolute realtime clock at 0 (already passed).
    let sub = |i: u32| SUBSCRIPTIONS + i * layout::SUBSCRIPTION.size;
    let clock = |put: &mut dyn FnMut(u32, &[u8]), at: u32, id: u32, timeout: u64, flags: u16| {
        put(at, &(u64::from(at)).to_le_bytes());
        put(at + 8, &[0]);
        put(at + 16, &id.to_le_bytes());
        put(at + 24, &timeout.to_le_bytes());
        put(at + 32, &0u64.to_le_bytes());
        put(at + 40, &flags.to_le_bytes());
    };
    let fd_event = |put: &mut dyn FnMut(u32, &[u8]), at: u32, tag: u8, fd: u32| {
        put(at, &(u64::from(at)).to_le_bytes());
        put(at + 8, &[tag]);
        put(at + 16, &fd.to_le_bytes());
    };
    clock(&mut put, sub(0), 1, 1_000, 0);
    fd_event(&mut put, sub(1), 1, 0);
    fd_event(&mut put, sub(2), 2, 1);
    clock(&mut put, sub(3), 0, 0, 1);
    seg
}

// The areas do not overlap and fit the first page (checked at compile time).
const _: () = {
    assert!(MESSAGE + MESSAGE_TEXT.len() as u32 <= CIOVECS);
    assert!(CIOVECS + 5 * layout::IOVEC.size <= IOVECS);
    assert!(IOVECS + 5 * layout::IOVEC.size <= SUBSCRIPTIONS);
    assert!(SUBSCRIPTIONS + SUBSCRIPTIONS_LEN * layout::SUBSCRIPTION.size <= SEGMENT_END);
    assert!(SEGMENT_END <= READ_BUF);
    assert!(READ_BUF + READ_BUF_LEN <= VOLATILE);
    assert!(VOLATILE + VOLATILE_LEN <= OUT_FD);
    assert!(OUT_SMALL + layout::FDSTAT.size <= NAME_BUF);
    assert!(NAME_BUF + NAME_BUF_LEN <= PRESTAT_OUT);
    assert!(PRESTAT_OUT + layout::PRESTAT.size <= 0x10000);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strings_fit_before_the_message_and_the_segment_holds_them() {
        let (long_at, long_len) = *path_offsets().last().unwrap();
        assert!(long_at + long_len <= MESSAGE, "strings end at {:#x}", long_at + long_len);
        let seg = segment();
        assert_eq!(seg.len() as u32, SEGMENT_END - BASE);
        let (at, len) = path_offsets()[2];
        assert_eq!(&seg[(at - BASE) as usize..(at - BASE + len) as usize], b"dir/b");
        assert_eq!(&seg[(MESSAGE - BASE) as usize..][..MESSAGE_TEXT.len()], MESSAGE_TEXT);
    }
}
