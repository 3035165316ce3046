//! From a compiled program to the interpreter's data: the compiled module (the suite
//! compiler's [`TraceSink::Memory`](wasi_conform_suite::compile::TraceSink) variant) is read
//! back — its data segments become the memory image, and the straight-line step code after
//! the preopen scan is executed symbolically into [commands](super::interpreter::Command).
//!
//! Reading the compiler's output, rather than laying the program out a second time, is what
//! makes the two forms equivalent by construction: the same bytes at the same addresses, the
//! same calls with the same raw arguments in the same order, the same stores of the same
//! trace words. Anything the step code does that is not a constant, a load from a constant
//! address, a store to one, or a call of a preview1 import (e.g. the walk over a
//! `fd_readdir` buffer that an `entry` binding compiles to) is [`Unsupported`], and the
//! program runs in its compiled form instead.

use wasi_conform_abi::{CoreType, Function, Returns};
use wasi_conform_suite::trace::TRACE_BASE;
use wasmparser::{DataKind, ExternalKind, Operator, Parser, Payload, TypeRef};

/// A value the step code computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    Const(u64),
    /// `width` bytes at `addr`, zero-extended, read when the command runs.
    Load {
        addr: u32,
        width: u32,
    },
}

/// One thing the step code does.
#[derive(Debug, Clone)]
pub enum Step {
    /// `i32.store` of an operand to a constant address.
    Store32 { addr: u32, value: Operand },
    /// A call of a preview1 function; its errno stored at `errno_at` (none for `proc_exit`).
    Call { function: &'static Function, args: Vec<Operand>, errno_at: Option<u32> },
}

/// A compiled program, as data.
#[derive(Debug, Clone, Default)]
pub struct Decompiled {
    /// The module's active data segments: (address, bytes).
    pub image: Vec<(u32, Vec<u8>)>,
    pub steps: Vec<Step>,
}

/// Why a compiled module cannot be run as data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("unreadable module: {0}")]
    Unreadable(String),
    #[error("no `_start` body")]
    NoStart,
    #[error("the preopen scan does not end as expected")]
    Scan,
    #[error("step code does {0}")]
    Operator(String),
    #[error("a data segment is not active at a constant address")]
    Data,
    #[error("an import outside the function table: {0}")]
    Import(String),
}

#[derive(Debug, Clone, Copy)]
enum Sym {
    I32(u32),
    I64(u64),
    Load { addr: u32, width: u32 },
    Errno,
}

/// Reads a compiled program (see the module docs).
pub fn decompile(bytes: &[u8]) -> Result<Decompiled, Unsupported> {
    let bad = |e: wasmparser::BinaryReaderError| Unsupported::Unreadable(e.to_string());
    let mut imports: Vec<&'static Function> = Vec::new();
    let mut start = None;
    let mut code_index = 0u32;
    let mut out = Decompiled::default();
    let mut body = None;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(bad)? {
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    let imp = imp.map_err(bad)?;
                    if let TypeRef::Func(_) = imp.ty {
                        let f = wasi_conform_abi::function(imp.name)
                            .ok_or_else(|| Unsupported::Import(imp.name.to_owned()))?;
                        imports.push(f);
                    }
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(bad)?;
                    if e.name == "_start" && e.kind == ExternalKind::Func {
                        start = Some(e.index);
                    }
                }
            }
            Payload::CodeSectionEntry(b) => {
                if start == Some(imports.len() as u32 + code_index) {
                    body = Some(b);
                }
                code_index += 1;
            }
            Payload::DataSection(r) => {
                for d in r {
                    let d = d.map_err(bad)?;
                    let DataKind::Active { memory_index: 0, offset_expr } = d.kind else {
                        return Err(Unsupported::Data);
                    };
                    let mut ops = offset_expr.get_operators_reader();
                    let Ok(Operator::I32Const { value }) = ops.read() else { return Err(Unsupported::Data) };
                    out.image.push((value as u32, d.data.to_vec()));
                }
            }
            _ => {}
        }
    }
    let body = body.ok_or(Unsupported::NoStart)?;
    let mut ops = body.get_operators_reader().map_err(bad)?;
    // The preopen scan: everything up to the end of the first top-level block.
    let mut depth = 0i32;
    let mut seen_block = false;
    while !(seen_block && depth == 0) {
        match ops.read().map_err(bad)? {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                depth += 1;
                seen_block = true;
            }
            Operator::End => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Err(Unsupported::Scan);
        }
    }
    // `i32.const TRACE_BASE; local.get $count; i32.store offset=12`: the interpreter's own scan does it.
    let trailer = (ops.read().map_err(bad)?, ops.read().map_err(bad)?, ops.read().map_err(bad)?);
    match trailer {
        (Operator::I32Const { value }, Operator::LocalGet { .. }, Operator::I32Store { memarg })
            if value as u32 == TRACE_BASE && memarg.offset == 12 => {}
        _ => return Err(Unsupported::Scan),
    }
    let mut stack: Vec<Sym> = Vec::new();
    let unsupported = |op: &Operator| Unsupported::Operator(format!("{op:?}"));
    loop {
        let op = ops.read().map_err(bad)?;
        let load = |stack: &mut Vec<Sym>, offset: u64, width: u32| -> Result<(), Unsupported> {
            match stack.pop() {
                Some(Sym::I32(a)) => {
                    stack.push(Sym::Load { addr: a.wrapping_add(offset as u32), width });
                    Ok(())
                }
                _ => Err(Unsupported::Operator("a load from a computed address".into())),
            }
        };
        match op {
            Operator::I32Const { value } => stack.push(Sym::I32(value as u32)),
            Operator::I64Const { value } => stack.push(Sym::I64(value as u64)),
            Operator::I32Load { memarg } => load(&mut stack, memarg.offset, 4)?,
            Operator::I32Load8U { memarg } => load(&mut stack, memarg.offset, 1)?,
            Operator::I32Load16U { memarg } => load(&mut stack, memarg.offset, 2)?,
            Operator::I64Load { memarg } => load(&mut stack, memarg.offset, 8)?,
            Operator::I64Load8U { memarg } => load(&mut stack, memarg.offset, 1)?,
            Operator::I64Load16U { memarg } => load(&mut stack, memarg.offset, 2)?,
            Operator::I64Load32U { memarg } => load(&mut stack, memarg.offset, 4)?,
            Operator::I32Store { memarg } => {
                let (value, addr) = (stack.pop(), stack.pop());
                let Some(Sym::I32(addr)) = addr else { return Err(unsupported(&op)) };
                let addr = addr.wrapping_add(memarg.offset as u32);
                match value {
                    Some(Sym::I32(v)) => out.steps.push(Step::Store32 { addr, value: Operand::Const(v as u64) }),
                    Some(Sym::Load { addr: from, width }) => {
                        out.steps.push(Step::Store32 { addr, value: Operand::Load { addr: from, width } })
                    }
                    Some(Sym::Errno) => match out.steps.last_mut() {
                        Some(Step::Call { errno_at: at @ None, function, .. })
                            if function.returns == Returns::Errno =>
                        {
                            *at = Some(addr)
                        }
                        _ => return Err(unsupported(&op)),
                    },
                    _ => return Err(unsupported(&op)),
                }
            }
            Operator::Call { function_index } => {
                let f = *imports.get(function_index as usize).ok_or_else(|| unsupported(&op))?;
                let params = f.core_params();
                if stack.len() < params.len() {
                    return Err(unsupported(&op));
                }
                let popped = stack.split_off(stack.len() - params.len());
                let mut args = Vec::with_capacity(params.len());
                for (s, t) in popped.into_iter().zip(params) {
                    args.push(match (s, t) {
                        (Sym::I32(v), CoreType::I32) => Operand::Const(v as u64),
                        (Sym::I64(v), CoreType::I64) => Operand::Const(v),
                        (Sym::Load { addr, width }, _) => Operand::Load { addr, width },
                        _ => return Err(unsupported(&op)),
                    });
                }
                out.steps.push(Step::Call { function: f, args, errno_at: None });
                if f.returns == Returns::Errno {
                    stack.push(Sym::Errno);
                }
            }
            Operator::End if stack.is_empty() => break,
            other => return Err(unsupported(&other)),
        }
    }
    // Every errno the compiled code stores is stored by the interpreter, and no other.
    if out
        .steps
        .iter()
        .any(|s| matches!(s, Step::Call { function, errno_at: None, .. } if function.returns == Returns::Errno))
    {
        return Err(Unsupported::Operator("a call whose errno is not stored".into()));
    }
    Ok(out)
}
