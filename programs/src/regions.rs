//! Which parts of guest memory a traced call records, per function: generated from the
//! function table, so that the instrumenter ([`crate::shim`]) and the decoder
//! ([`crate::calls`]) read the same list.
//!
//! Inputs the host reads (path strings, an iovec array's entries, the first [`MAX_IOVECS`] buffers of a
//! `ciovec_array`, subscriptions) are recorded on every call; outputs the host writes (the
//! result out-pointers, the filled part of an `iovec_array`, a `fd_readdir` or
//! `path_readlink` buffer up to `bufused`, a preopen name, events) only when the call
//! returned `success`. `random_get`'s bytes and `args_get`/`environ_get`'s areas are not
//! recorded: the first differs on every run, the second are compared through what the
//! program does with them.

use wasi_conform_abi::{Function, ParamType};

/// `iovec`s / `ciovec`s recorded per array, at most.
pub const MAX_IOVECS: u32 = 4;
/// Bytes recorded per region, at most.
pub const MAX_REGION: u32 = 1 << 20;
/// Bytes recorded of a path string, at most.
pub const MAX_PATH: u32 = 4096;
/// Entries of an `iovec_array` itself (its pointers and lengths) recorded,
/// at most: the lengths are what [`crate::record`] needs to make the same call again.
pub const MAX_ARRAY: u32 = 64;

/// One recorded region of a call. Indices are *core* parameter indices (a string is two
/// core parameters: pointer, length); result out-pointers follow the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// A string the host reads: `ptr`, `len`.
    Str { param: usize, ptr: usize, len: usize },
    /// The `k`-th buffer of a `ciovec_array` the host reads.
    Ciovec { param: usize, array: usize, count: usize, k: u32 },
    /// The `k`-th buffer of an `iovec_array` the host filled, up to the `total` it
    /// reported (the result at core index `total`).
    Iovec { param: usize, array: usize, count: usize, k: u32, total: usize },
    /// A buffer the host filled: all `len` bytes, or up to the result at core index `used`.
    Buffer { param: usize, ptr: usize, len: usize, used: Option<usize> },
    /// An `iovec_array` itself: `count` (core index) entries of 8 bytes
    /// (buffer address, length), at most [`MAX_ARRAY`].
    Array { param: usize, array: usize, count: usize },
    /// `poll_oneoff`'s subscriptions: `count` (core index) records of 48 bytes.
    Subscriptions { param: usize, ptr: usize, count: usize },
    /// `poll_oneoff`'s events, as many as the result at core index `count`.
    Events { param: usize, ptr: usize, count: usize },
    /// A result the host wrote through an out-pointer (core index `ptr`) of `size` bytes.
    Result { result: usize, ptr: usize, size: u32 },
}

impl Region {
    /// Whether the host writes it (recorded only after `success`).
    pub fn is_output(&self) -> bool {
        !matches!(
            self,
            Region::Str { .. } | Region::Array { .. } | Region::Ciovec { .. } | Region::Subscriptions { .. }
        )
    }

    /// The semantic parameter it belongs to, or `None` for a result.
    pub fn param(&self) -> Option<usize> {
        match *self {
            Region::Str { param, .. }
            | Region::Array { param, .. }
            | Region::Ciovec { param, .. }
            | Region::Iovec { param, .. }
            | Region::Buffer { param, .. }
            | Region::Subscriptions { param, .. }
            | Region::Events { param, .. } => Some(param),
            Region::Result { .. } => None,
        }
    }
}

/// The core index of each semantic parameter's first core value, and of each result's
/// out-pointer.
pub fn core_indices(f: &Function) -> (Vec<usize>, Vec<usize>) {
    let mut at = 0;
    let params = f
        .params
        .iter()
        .map(|p| {
            let here = at;
            at += p.ty.core().len();
            here
        })
        .collect();
    let results = (0..f.results.len()).map(|i| at + i).collect();
    (params, results)
}

/// The regions recorded for a call of `f`, in frame order.
pub fn regions(f: &Function) -> Vec<Region> {
    let (params, results) = core_indices(f);
    // The result that tells how much of a buffer was filled (`nread`, `bufused`, `nevents`).
    let filled = || results.first().copied();
    let mut out = Vec::new();
    for (i, p) in f.params.iter().enumerate() {
        let at = params[i];
        match p.ty {
            ParamType::Str => out.push(Region::Str { param: i, ptr: at, len: at + 1 }),
            ParamType::Ciovecs => {
                // The lengths of the first MAX_IOVECS are those of their recorded bytes. (An
                // `Array` region here made wasmi 2.0 stop the GNU as workload at its exit,
                // reported as a timeout; not investigated further.)
                out.extend((0..MAX_IOVECS).map(|k| Region::Ciovec { param: i, array: at, count: at + 1, k }))
            }
            ParamType::Iovecs => {
                let total = filled().expect("an iovec_array call reports how much it filled");
                out.push(Region::Array { param: i, array: at, count: at + 1 });
                out.extend((0..MAX_IOVECS).map(|k| Region::Iovec { param: i, array: at, count: at + 1, k, total }))
            }
            ParamType::Buffer if f.name == "random_get" => {}
            ParamType::Buffer => {
                let used = if f.results.is_empty() { None } else { filled() };
                out.push(Region::Buffer { param: i, ptr: at, len: at + 1, used });
            }
            ParamType::Subscriptions => {
                let count = f.params.iter().position(|q| q.name == "nsubscriptions").map(|q| params[q]);
                out.push(Region::Subscriptions { param: i, ptr: at, count: count.expect("poll_oneoff's count") });
            }
            ParamType::Events => {
                out.push(Region::Events { param: i, ptr: at, count: filled().expect("poll_oneoff's nevents") })
            }
            ParamType::Region
            | ParamType::Fd
            | ParamType::U32
            | ParamType::U64
            | ParamType::S64
            | ParamType::Enum(_)
            | ParamType::Flags(_) => {}
        }
    }
    for (r, res) in f.results.iter().enumerate() {
        out.push(Region::Result { result: r, ptr: results[r], size: res.ty.shape().size });
    }
    out
}

/// The most regions any function records.
pub fn max_regions() -> usize {
    wasi_conform_abi::FUNCTIONS.iter().map(|f| regions(f).len()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasi_conform_abi::function;

    #[test]
    fn path_open_records_its_path_and_the_opened_fd() {
        let r = regions(function("path_open").unwrap());
        assert_eq!(r, vec![Region::Str { param: 2, ptr: 2, len: 3 }, Region::Result { result: 0, ptr: 8, size: 4 }]);
    }

    #[test]
    fn fd_read_records_the_filled_part_of_its_first_iovecs() {
        let r = regions(function("fd_read").unwrap());
        assert_eq!(r.len(), MAX_IOVECS as usize + 2);
        assert_eq!(r[0], Region::Array { param: 1, array: 1, count: 2 });
        assert!(!r[0].is_output(), "the array is read by the host: recorded on every call");
        assert!(matches!(r[1], Region::Iovec { array: 1, count: 2, k: 0, total: 3, .. }));
        assert!(r[1..].iter().all(Region::is_output));
    }

    #[test]
    fn random_bytes_are_not_recorded() {
        assert!(regions(function("random_get").unwrap()).is_empty());
    }
}
