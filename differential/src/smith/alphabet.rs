//! The argument alphabet of rewritten calls: for each parameter of a preview1 function (by
//! its semantic type in the one table, `wasi_conform_abi::FUNCTIONS`), a small set of
//! interesting values — valid and invalid fds (stdio, the preopen found by name, the last
//! fd a call returned, closed, huge), in-bounds and out-of-bounds pointers, the path
//! strings of [`super::layout`], defined and undefined flag bits and enum values — plus
//! the value the generated code left on the operand stack.
//!
//! A [`CallPlan`] is data (drawn from the fuzz input); [`super::rewrite`] lowers it to
//! instructions.

use arbitrary::{Result, Unstructured};
use wasi_conform_abi::{layout, CoreType, EnumType, FlagsType, Function, ParamType, ResultType};

use super::layout as mem;

/// Where one core-wasm argument comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// An `i32` constant.
    I32(u32),
    /// An `i64` constant.
    I64(u64),
    /// The wrapper's own `i32` parameter: the value the generated code had on its stack.
    Stack,
    /// The same, zero-extended to `i64`.
    StackU64,
    /// The same, sign-extended to `i64`.
    StackS64,
    /// The fd of the preopen named `/sandbox` (or `sandbox`), found at run time by
    /// scanning `fd_prestat_get` / `fd_prestat_dir_name` from fd 3, as wasi-libc does.
    PreopenFd,
    /// The fd most recently written to [`mem::OUT_FD`] (by `path_open`, `sock_accept`).
    LastFd,
    /// `memory.size * 65536 - n`: a pointer `n` bytes before the end of memory.
    EndOfMemory(u32),
}

impl Operand {
    /// The core type the operand produces.
    pub fn core(self) -> CoreType {
        match self {
            Operand::I64(_) | Operand::StackU64 | Operand::StackS64 => CoreType::I64,
            Operand::I32(_) | Operand::Stack | Operand::PreopenFd | Operand::LastFd | Operand::EndOfMemory(_) => {
                CoreType::I32
            }
        }
    }
}

/// One rewritten call: the function and one operand per core parameter.
#[derive(Debug, Clone)]
pub struct CallPlan {
    pub function: &'static Function,
    pub operands: Vec<Operand>,
}

impl CallPlan {
    /// Whether the plan needs the preopen finder.
    pub fn uses_preopen_finder(&self) -> bool {
        self.operands.contains(&Operand::PreopenFd)
    }
}

/// Draws the arguments of a call to `f`.
pub fn plan(f: &'static Function, u: &mut Unstructured) -> Result<CallPlan> {
    let mut operands = Vec::with_capacity(f.core_params().len());
    for p in f.params {
        match p.ty {
            ParamType::Fd => operands.push(fd(u)?),
            ParamType::U32 => operands.push(u32_param(f, u)?),
            ParamType::U64 => operands.push(u64_param(u)?),
            ParamType::S64 => operands.push(s64_param(u)?),
            ParamType::Enum(e) => operands.push(enum_value(e, u)?),
            ParamType::Flags(t) => operands.push(flags_value(t, u)?),
            ParamType::Str => operands.extend(path(u)?),
            ParamType::Ciovecs => operands.extend(iovecs(mem::CIOVECS, u)?),
            ParamType::Iovecs => operands.extend(iovecs(mem::IOVECS, u)?),
            ParamType::Buffer => operands.extend(buffer(volatile_output(f), u)?),
            ParamType::Region => {
                operands.push(pointer(if volatile_output(f) { mem::VOLATILE } else { mem::READ_BUF }, u)?)
            }
            ParamType::Subscriptions => {
                let i = u.int_in_range(0..=mem::SUBSCRIPTIONS_LEN - 1)?;
                operands.push(pointer(mem::SUBSCRIPTIONS + i * layout::SUBSCRIPTION.size, u)?)
            }
            ParamType::Events => operands.push(pointer(mem::VOLATILE, u)?),
        }
    }
    for r in f.results {
        let slot = match r.ty {
            ResultType::Fd => mem::OUT_FD,
            ResultType::Timestamp | ResultType::Filestat => mem::VOLATILE,
            ResultType::Size
            | ResultType::Filesize
            | ResultType::Fdstat
            | ResultType::Prestat
            | ResultType::Roflags => mem::OUT_SMALL,
        };
        operands.push(pointer(slot, u)?);
    }
    debug_assert_eq!(operands.iter().map(|o| o.core()).collect::<Vec<_>>(), f.core_params());
    Ok(CallPlan { function: f, operands })
}

/// Whether `f` writes bytes that differ legitimately between runtimes into its buffers
/// (random bytes; directory entries with inode numbers and runtime-chosen order).
fn volatile_output(f: &Function) -> bool {
    matches!(f.name, "random_get" | "fd_readdir")
}

fn fd(u: &mut Unstructured) -> Result<Operand> {
    Ok(match u.int_in_range(0..=11)? {
        0..=2 => Operand::PreopenFd,
        3 => Operand::LastFd,
        4 => Operand::I32(0),
        5 => Operand::I32(1),
        6 => Operand::I32(2),
        7 => Operand::I32(3),
        8 => Operand::I32(9),
        9 => Operand::I32(0x7FFF_FFFF),
        10 => Operand::I32(u32::MAX),
        _ => Operand::Stack,
    })
}

fn u32_param(f: &Function, u: &mut Unstructured) -> Result<Operand> {
    let choices: &[u32] = match f.name {
        "proc_exit" => &[0, 0, 1, 3, 42, 125, 126, 255, 256],
        "poll_oneoff" => &[0, 1, 1, 2, mem::SUBSCRIPTIONS_LEN, 1000],
        _ => &[0, 1, 2, u32::MAX],
    };
    stack_or(u, choices.iter().map(|v| Operand::I32(*v)).collect())
}

fn u64_param(u: &mut Unstructured) -> Result<Operand> {
    let choices = [0u64, 1, 5, 4096, 1_000_000_000, i64::MAX as u64, u64::MAX];
    let o = stack_or(u, choices.iter().map(|v| Operand::I64(*v)).collect())?;
    Ok(if o == Operand::Stack { Operand::StackU64 } else { o })
}

fn s64_param(u: &mut Unstructured) -> Result<Operand> {
    let choices = [0i64, 1, 3, -1, -100, 1 << 40, i64::MIN, i64::MAX];
    let o = stack_or(u, choices.iter().map(|v| Operand::I64(*v as u64)).collect())?;
    Ok(if o == Operand::Stack { Operand::StackS64 } else { o })
}

/// A defined value, or one time in sixteen an undefined one or the stack value. (Rare,
/// because Wasmtime and wasmi trap on undefined enum values and flag bits — a known
/// divergence — which would end most runs before anything else is compared.)
fn enum_value(e: &'static EnumType, u: &mut Unstructured) -> Result<Operand> {
    let wide = e.repr == wasi_conform_abi::Repr::U64;
    let n = e.values.len() as u64;
    if u.ratio(1, 16)? {
        return Ok(match u.int_in_range(0..=2)? {
            0 => constant(wide, n),
            1 => constant(wide, e.repr.max()),
            _ => operand_of(wide, Operand::Stack),
        });
    }
    Ok(constant(wide, u.int_in_range(0..=n - 1)?))
}

/// Defined bits (none, one, some, all), or one time in sixteen an undefined bit or the
/// stack value (see [`enum_value`]).
fn flags_value(t: &'static FlagsType, u: &mut Unstructured) -> Result<Operand> {
    let wide = t.repr == wasi_conform_abi::Repr::U64;
    let all = t.all();
    let n = t.flags.len() as u32;
    if u.ratio(1, 16)? {
        return Ok(match u.int_in_range(0..=1)? {
            // The first bit the type does not define (or its top bit, when all are defined).
            0 => constant(wide, (all | (1u64 << n.min(t.repr.max().count_ones() - 1))) & t.repr.max()),
            _ => operand_of(wide, Operand::Stack),
        });
    }
    let v = match u.int_in_range(0..=5)? {
        0 | 1 => 0,
        2 | 3 if n > 0 => 1u64 << u.int_in_range(0..=n - 1)?,
        2..=4 => u.arbitrary::<u64>()? & all,
        _ => all,
    };
    Ok(constant(wide, v))
}

fn constant(wide: bool, v: u64) -> Operand {
    if wide {
        Operand::I64(v)
    } else {
        Operand::I32(v as u32)
    }
}

fn operand_of(wide: bool, stack: Operand) -> Operand {
    match (wide, stack) {
        (true, Operand::Stack) => Operand::StackU64,
        (_, o) => o,
    }
}

/// One of `choices`, or (one time in eight) the stack value.
fn stack_or(u: &mut Unstructured, choices: Vec<Operand>) -> Result<Operand> {
    if u.ratio(1, 8)? {
        return Ok(Operand::Stack);
    }
    Ok(choices[u.choose_index(choices.len())?])
}

/// A pointer to `good`, or one time in forty a bad one: out of bounds, misaligned,
/// straddling the end of memory, or null. (Rare, because a bad pointer may trap, which
/// ends the run: the reference traps, as wasmtime does.)
fn pointer(good: u32, u: &mut Unstructured) -> Result<Operand> {
    if !u.ratio(1, 40)? {
        return Ok(Operand::I32(good));
    }
    Ok(match u.int_in_range(0..=4)? {
        0 => Operand::I32(0xFFFF_FFF0),
        1 => Operand::I32(good + 1),
        2 => Operand::EndOfMemory(2),
        3 => Operand::I32(0),
        _ => Operand::Stack,
    })
}

/// `(ptr, len)` of a path string, or a malformed one.
fn path(u: &mut Unstructured) -> Result<[Operand; 2]> {
    let offsets = mem::path_offsets();
    if u.ratio(1, 40)? {
        return Ok(match u.int_in_range(0..=3)? {
            0 => [Operand::I32(0xFFFF_FFF0), Operand::I32(4)],
            1 => [Operand::EndOfMemory(2), Operand::I32(8)],
            2 => [Operand::I32(mem::STRINGS), Operand::I32(u32::MAX)],
            _ => [Operand::I32(mem::STRINGS), Operand::Stack],
        });
    }
    let (ptr, len) = offsets[u.choose_index(offsets.len())?];
    Ok([Operand::I32(ptr), Operand::I32(len)])
}

/// `(ptr, count)` of an `iovec` array.
fn iovecs(array: u32, u: &mut Unstructured) -> Result<[Operand; 2]> {
    let choices = mem::iovec_choices(array);
    let (ptr, count) = choices[u.choose_index(choices.len())?];
    Ok([pointer(ptr, u)?, Operand::I32(count)])
}

/// `(ptr, len)` of a host-written buffer.
fn buffer(volatile: bool, u: &mut Unstructured) -> Result<[Operand; 2]> {
    let (base, cap) = if volatile { (mem::VOLATILE, mem::VOLATILE_LEN) } else { (mem::READ_BUF, mem::READ_BUF_LEN) };
    let lens = [0, 1, 8, 64, cap];
    let len = lens[u.choose_index(lens.len())?];
    if u.ratio(1, 40)? {
        return Ok([Operand::EndOfMemory(2), Operand::I32(8)]);
    }
    Ok([pointer(base, u)?, Operand::I32(len)])
}
