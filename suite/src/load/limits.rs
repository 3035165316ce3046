//! Limits on every size a scenario can ask for, checked while it is read and before
//! anything of that size is allocated: a value the host would build in memory (a repeated
//! string, a fixture file of N zero bytes), a size the compiler reserves in guest memory (a
//! buffer, an area, iovecs, room for events), and the whole of a scenario's guest data and
//! fixture. A scenario over a limit is refused with its file, line and column, like any
//! malformed one, and costs nothing else.

use crate::scenario::{Arg, Data, Fixture, Node, Step};

/// The largest single value: a string, a buffer, an area, an iovec (16 MiB).
pub const MAX_VALUE: u64 = 16 << 20;
/// The largest fixture file (16 MiB).
pub const MAX_FILE: u64 = 16 << 20;
/// Everything a scenario places in guest memory and its fixture, together (64 MiB: far
/// below the 4 GiB of a 32-bit memory, and what a sandbox directory should hold).
pub const MAX_TOTAL: u64 = 64 << 20;
/// Bytes of one `poll_oneoff` event.
const EVENT: u64 = 32;

/// `Err` when `n` bytes of `what` exceed [`MAX_VALUE`].
pub fn value(what: &str, n: u64) -> Result<(), String> {
    if n > MAX_VALUE {
        Err(format!("{what} of {n} bytes is over the limit of {MAX_VALUE} bytes (16 MiB) for one value"))
    } else {
        Ok(())
    }
}

/// `Err` when a fixture file of `n` bytes exceeds [`MAX_FILE`].
pub fn file(n: u64) -> Result<(), String> {
    if n > MAX_FILE {
        Err(format!("a fixture file of {n} bytes is over the limit of {MAX_FILE} bytes (16 MiB)"))
    } else {
        Ok(())
    }
}

/// `Err` when `count` events of room exceed [`MAX_VALUE`] bytes.
pub fn events(count: u64) -> Result<(), String> {
    value("room for events", count.saturating_mul(EVENT))
}

/// Guest memory the compiler reserves for one step's arguments (raw pointers reserve none).
pub fn step_bytes(step: &Step) -> u64 {
    step.args
        .iter()
        .map(|a| match a {
            Arg::Scalar(_) | Arg::Raw { .. } | Arg::Str(Data::Raw { .. }) => 0,
            Arg::Str(Data::Bytes(b)) => b.len() as u64,
            Arg::Ciovecs(parts) => parts.iter().map(|p| p.len() as u64 + 8).sum(),
            Arg::Iovecs(sizes) => sizes.iter().map(|n| *n as u64 + 8).sum(),
            Arg::Buffer { size, .. } | Arg::Region(size) => *size as u64,
            Arg::Subscriptions(subs) => subs.len() as u64 * 48,
            Arg::Events(n) => *n as u64 * EVENT,
        })
        .sum()
}

/// Bytes of the fixture: argv, environment, stdin and every file of every preopen.
pub fn fixture_bytes(f: &Fixture) -> u64 {
    let strings: u64 = f.args.iter().chain(&f.env).map(|s| s.len() as u64 + 1).sum();
    let files: u64 = f
        .preopens
        .iter()
        .flat_map(|p| p.tree.values())
        .map(|n| match n {
            Node::File(b) => b.len() as u64,
            Node::Dir | Node::Symlink(_) | Node::Hardlink(_) => 0,
        })
        .sum();
    strings + f.stdin.len() as u64 + files
}

/// `Err` when `total` bytes exceed [`MAX_TOTAL`].
pub fn total(total: u64) -> Result<(), String> {
    if total > MAX_TOTAL {
        Err(format!(
            "the scenario's guest data and fixture come to {total} bytes, over the limit of {MAX_TOTAL} bytes (64 MiB)"
        ))
    } else {
        Ok(())
    }
}
