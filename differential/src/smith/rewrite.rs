//! Turns every shim call of a wasm-smith module into a real preview1 call.
//!
//! For each `call $shim` site (in code order) the rewriter draws a [`CallPlan`] from the
//! fuzz input and adds a *wrapper* function with the shim's signature (`i32 -> i32`, or
//! `i32 -> []` for `proc_exit`) whose body pushes the plan's operands and calls the real
//! import; the site then calls its own wrapper. The shim imports disappear, the real
//! imports the wrappers need are added after the module's own imports, and every function
//! index is remapped (calls, exports). wasm-smith's entry exports (`entry<i>`, see
//! [`super::imports::required_exports`]) are replaced by a `_start` that calls them in
//! order. A preopen finder (`() -> i32`, cached in a global)
//! is added when a plan asks for the preopen's fd.
//!
//! Termination stays bounded by wasm-smith's `ensure_termination` fuel, with two changes:
//! `_start` gives each entry a fresh [`super::FUEL`], and in functions that return nothing
//! running out of fuel *returns* instead of trapping — so an entry spinning in a loop ends
//! and the next entry runs (otherwise most runs end in the first entry's first loop).
//!
//! With [`CallAid::ShimsAndInjected`] the rewriter also *injects* a few calls per body
//! (`i32.const v; call $wrapper; drop`, stack-neutral, so valid at any instruction
//! boundary): wasm-smith picks `call` as one instruction among about a hundred, so even
//! shims are called only a few times per module.
//!
//! Everything else is copied through wasm-encoder's `reencode`: types, memories, globals,
//! exports, bodies and data segments. Active data segments that would not fit the initial
//! memory are moved inside it (or dropped when larger than it), so that instantiation
//! succeeds everywhere; the rewriter's own segment ([`super::layout::segment`]) comes last.
//! Custom sections (the name section would name old indices) are dropped.

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use wasi_conform_abi::{function, Function, Returns, FUNCTIONS, MODULE};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, FunctionSection,
    GlobalSection, GlobalType, ImportSection, Instruction, MemArg, MemArgTarget, MemorySection, Module, TypeSection,
    ValType,
};
use wasmparser::{DataKind, ExternalKind, Operator, Payload, TypeRef};

use super::alphabet::{self, CallPlan, Operand};
use super::imports::{add_signature, shim_signature, ENTRY_PREFIX, SHIM_MODULE};
use super::layout as mem;
use super::{CallAid, SmithError};

/// A rewritten module and the calls its wrappers make, in call-site order.
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub wasm: Vec<u8>,
    pub plans: Vec<CallPlan>,
}

/// What an import of the generated module is.
#[derive(Debug, Clone, Copy)]
enum ImportKind {
    Real(&'static Function),
    Shim(&'static Function),
}

/// The rewriting reencoder: remaps function indices and redirects shim calls.
struct Remap {
    /// Old function index → new one (`None` for shims).
    functions: Vec<Option<u32>>,
    /// Index of the next call site's wrapper.
    next_wrapper: u32,
}

impl Reencode for Remap {
    type Error = SmithError;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<SmithError>> {
        match self.functions.get(func as usize) {
            Some(Some(new)) => Ok(*new),
            _ => Err(reencode::Error::UserError(SmithError::Rewrite(format!(
                "function {func} is a shim used other than by a direct call"
            )))),
        }
    }

    fn instruction<'a>(&mut self, arg: Operator<'a>) -> Result<Instruction<'a>, reencode::Error<SmithError>> {
        if let Operator::Call { function_index } = arg {
            if self.functions.get(function_index as usize) == Some(&None) {
                let wrapper = self.next_wrapper;
                self.next_wrapper += 1;
                return Ok(Instruction::Call(wrapper));
            }
        }
        reencode::utils::instruction(self, arg)
    }
}

fn encode_err(e: reencode::Error<SmithError>) -> SmithError {
    match e {
        reencode::Error::UserError(e) => e,
        other => SmithError::Rewrite(other.to_string()),
    }
}

fn parse_err(e: wasmparser::BinaryReaderError) -> SmithError {
    SmithError::Rewrite(e.to_string())
}

/// Rewrites `wasm` (a wasm-smith module over [`super::imports::available_imports`]),
/// drawing call arguments from `u`.
pub fn rewrite(wasm: &[u8], aid: CallAid, u: &mut Unstructured) -> Result<Rewritten, SmithError> {
    // Pass 1: imports, and the function of every call site in code order: injected calls
    // (before the instruction they are placed at), then shim calls.
    let mut imports: Vec<ImportKind> = Vec::new();
    let mut sites: Vec<&'static Function> = Vec::new();
    let mut injections: Vec<Vec<(usize, u32)>> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(parse_err)? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(parse_err)?;
                    let f = function(import.name).ok_or_else(|| unexpected_import(import.module, import.name))?;
                    imports.push(match (import.module, import.ty) {
                        (MODULE, TypeRef::Func(_)) => ImportKind::Real(f),
                        (SHIM_MODULE, TypeRef::Func(_)) => ImportKind::Shim(f),
                        _ => return Err(unexpected_import(import.module, import.name)),
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = Vec::new();
                // Where calls may be injected: the start of the body and the start of every
                // block, loop and branch of an `if`.
                let mut heads = vec![0];
                let mut reader = body.get_operators_reader().map_err(parse_err)?;
                while !reader.eof() {
                    ops.push(match reader.read().map_err(parse_err)? {
                        Operator::Call { function_index } => match imports.get(function_index as usize) {
                            Some(ImportKind::Shim(f)) => Some(*f),
                            _ => None,
                        },
                        Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::Else => {
                            heads.push(ops.len() + 1);
                            None
                        }
                        _ => None,
                    });
                }
                let here = injected_calls(aid, &heads, u)?;
                let mut next = here.iter().peekable();
                for (at, shim) in ops.iter().enumerate() {
                    while let Some((_, f, _)) = next.next_if(|(i, _, _)| *i == at) {
                        sites.push(f);
                    }
                    sites.extend(shim);
                }
                injections.push(here.into_iter().map(|(at, _, value)| (at, value)).collect());
            }
            _ => {}
        }
    }

    // The plans, drawn in call-site order.
    let plans = sites.iter().map(|f| alphabet::plan(f, u)).collect::<arbitrary::Result<Vec<_>>>()?;
    let finder = plans.iter().any(CallPlan::uses_preopen_finder);

    // New imports: the module's real imports in order, then those the wrappers add.
    let mut real: Vec<&'static Function> =
        imports.iter().filter_map(|i| if let ImportKind::Real(f) = i { Some(*f) } else { None }).collect();
    let mut needed: Vec<&'static Function> = plans.iter().map(|p| p.function).collect();
    if finder {
        needed.extend(["fd_prestat_get", "fd_prestat_dir_name"].iter().map(|n| function(n).expect("in the table")));
    }
    needed.sort_by_key(|f| f.index);
    for f in needed {
        if !real.iter().any(|r| r.index == f.index) {
            real.push(f);
        }
    }
    let import_of: BTreeMap<usize, u32> = real.iter().enumerate().map(|(i, f)| (f.index, i as u32)).collect();
    let added = &real[imports.iter().filter(|i| matches!(i, ImportKind::Real(_))).count()..];

    // Old → new function indices.
    let old_imports = imports.len() as u32;
    let new_imports = real.len() as u32;
    let mut functions: Vec<Option<u32>> = imports
        .iter()
        .map(|i| match i {
            ImportKind::Real(f) => Some(import_of[&f.index]),
            ImportKind::Shim(_) => None,
        })
        .collect();

    // Pass 2: emit.
    let mut types = TypeSection::new();
    let mut funcs = FunctionSection::new();
    let mut memories = MemorySection::new();
    let mut globals = GlobalSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    let mut data = DataSection::new();
    let mut type_count = 0u32;
    let mut global_count = 0u32;
    let mut defined = 0u32;
    let mut memory_min: Option<u64> = None;
    let mut remap: Option<Remap> = None;
    let mut entries: Vec<u32> = Vec::new();
    let mut body_index = 0;
    // Per type: whether it returns nothing; per defined function: the same.
    let mut void: Vec<bool> = Vec::new();
    let mut defined_void: Vec<bool> = Vec::new();
    let mut import_type: BTreeMap<usize, u32> = BTreeMap::new();
    let mut rc = reencode::RoundtripReencoder;

    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(parse_err)? {
            Payload::TypeSection(reader) => {
                type_count = reader.count();
                for group in reader.clone() {
                    for ty in group.map_err(parse_err)?.into_types() {
                        void.push(ty.unwrap_func().results().is_empty());
                    }
                }
                rc.parse_type_section(&mut types, reader).map_err(|e| SmithError::Rewrite(e.to_string()))?;
            }
            Payload::ImportSection(reader) => {
                for (import, kind) in reader.into_imports().zip(&imports) {
                    if let (TypeRef::Func(ty), ImportKind::Real(f)) = (import.map_err(parse_err)?.ty, kind) {
                        import_type.insert(f.index, ty);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    let ty = ty.map_err(parse_err)?;
                    funcs.function(ty);
                    defined_void.push(void.get(ty as usize).copied().unwrap_or(false));
                    defined += 1;
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.map_err(parse_err)?;
                    memory_min.get_or_insert(m.initial);
                    memories.memory(rc.memory_type(m).map_err(|e| SmithError::Rewrite(e.to_string()))?);
                }
            }
            Payload::GlobalSection(reader) => {
                global_count = reader.count();
                rc.parse_global_section(&mut globals, reader).map_err(|e| SmithError::Rewrite(e.to_string()))?;
            }
            Payload::ExportSection(reader) => {
                let r = remap.get_or_insert_with(|| new_remap(&mut functions, old_imports, new_imports, defined));
                for export in reader {
                    let export = export.map_err(parse_err)?;
                    match (export.kind, export.name) {
                        (ExternalKind::Memory, "memory") => {
                            exports.export("memory", ExportKind::Memory, export.index);
                        }
                        (ExternalKind::Func, name) if name.starts_with(ENTRY_PREFIX) => {
                            entries.push(r.function_index(export.index).map_err(encode_err)?)
                        }
                        (kind, name) => {
                            return Err(SmithError::Rewrite(format!("unexpected export {name} ({kind:?})")))
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let r = remap.get_or_insert_with(|| new_remap(&mut functions, old_imports, new_imports, defined));
                let mut f = r.new_function_with_parsed_locals(&body).map_err(encode_err)?;
                let mut reader = body.get_operators_reader().map_err(parse_err)?;
                let mut next = injections[body_index].iter().peekable();
                let mut at = 0;
                // The last three operators, to recognise the fuel check.
                let mut recent: [Option<Operator>; 3] = [None, None, None];
                while !reader.eof() {
                    while let Some((_, value)) = next.next_if(|(i, _)| *i == at) {
                        let wrapper = r.next_wrapper;
                        r.next_wrapper += 1;
                        f.instruction(&Instruction::I32Const(*value as i32)).instruction(&Instruction::Call(wrapper));
                        if plans[(wrapper - (new_imports + defined)) as usize].function.returns == Returns::Errno {
                            f.instruction(&Instruction::Drop);
                        }
                    }
                    let op = reader.read().map_err(parse_err)?;
                    let out_of_fuel = matches!(
                        (&recent, &op),
                        (
                            [Some(Operator::GlobalGet { global_index }), Some(Operator::I32Eqz), Some(Operator::If { .. })],
                            Operator::Unreachable,
                        ) if *global_index + 1 == global_count
                    );
                    if out_of_fuel && defined_void[body_index] {
                        f.instruction(&Instruction::Return);
                    } else {
                        f.instruction(&r.instruction(op.clone()).map_err(encode_err)?);
                    }
                    recent = [recent[1].take(), recent[2].take(), Some(op)];
                    at += 1;
                }
                code.function(&f);
                body_index += 1;
            }
            Payload::DataSection(reader) => {
                let limit = memory_min.unwrap_or(0) * 65536;
                for d in reader {
                    if let Some((offset, bytes)) = fit_segment(d.map_err(parse_err)?, limit)? {
                        data.active(0, &ConstExpr::i32_const(offset as i32), bytes.iter().copied());
                    }
                }
            }
            Payload::StartSection { .. }
            | Payload::ElementSection(_)
            | Payload::TableSection(_)
            | Payload::DataCountSection { .. }
            | Payload::TagSection(_) => {
                return Err(SmithError::Rewrite("a section the configuration turns off was generated".into()))
            }
            _ => {}
        }
    }
    if memory_min.unwrap_or(0) < 1 {
        return Err(SmithError::Rewrite("the module has no memory of at least one page".into()));
    }

    // Types of the added imports, the wrappers and the finder.
    for f in added {
        import_type.insert(f.index, type_count);
        add_signature(&mut types, f);
        type_count += 1;
    }
    let shim_types: BTreeMap<usize, u32> = plans
        .iter()
        .map(|p| p.function.index)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|i| {
            let (params, results) = shim_signature(&FUNCTIONS[i]);
            types.ty().function(params, results);
            type_count += 1;
            (i, type_count - 1)
        })
        .collect();
    let finder_type = type_count;
    types.ty().function([], [ValType::I32]);
    let start_type = type_count + 1;
    types.ty().function([], []);

    let mut import_section = ImportSection::new();
    for f in &real {
        import_section.import(MODULE, f.name, EntityType::Function(import_type[&f.index]));
    }

    let wrapper_base = new_imports + defined;
    let finder_index = wrapper_base + plans.len() as u32;
    let cache_global = global_count;
    for p in &plans {
        funcs.function(shim_types[&p.function.index]);
        code.function(&wrapper(p, &import_of, finder_index));
    }
    if finder {
        funcs.function(finder_type);
        code.function(&preopen_finder(&import_of, cache_global));
        globals.global(GlobalType { val_type: ValType::I32, mutable: true, shared: false }, &ConstExpr::i32_const(-1));
    }
    // `_start`: every entry in export order.
    let start_index = finder_index + u32::from(finder);
    funcs.function(start_type);
    let mut start = wasm_encoder::Function::new([]);
    for e in &entries {
        start
            .instruction(&Instruction::I32Const(super::FUEL as i32))
            .instruction(&Instruction::GlobalSet(global_count - 1))
            .instruction(&Instruction::Call(*e));
    }
    start.instruction(&Instruction::End);
    code.function(&start);
    exports.export("_start", ExportKind::Func, start_index);
    data.active(0, &ConstExpr::i32_const(mem::BASE as i32), mem::segment());

    let mut module = Module::new();
    module
        .section(&types)
        .section(&import_section)
        .section(&funcs)
        .section(&memories)
        .section(&globals)
        .section(&exports)
        .section(&code)
        .section(&data);
    Ok(Rewritten { wasm: module.finish(), plans })
}

/// Most calls injected into one function body.
pub const MAX_INJECTED: usize = 12;

/// Calls to inject into a body (with [`CallAid::ShimsAndInjected`]): `(instruction index,
/// function, stack value)`, sorted, each at one of the `heads` (instruction indices that
/// start the body or a block, loop or `if` arm). wasm-smith bodies often branch out early
/// or spin in a loop until the fuel runs out, so heads are where code actually runs.
fn injected_calls(
    aid: CallAid,
    heads: &[usize],
    u: &mut Unstructured,
) -> arbitrary::Result<Vec<(usize, &'static Function, u32)>> {
    if aid != CallAid::ShimsAndInjected {
        return Ok(Vec::new());
    }
    let n = u.int_in_range(1..=MAX_INJECTED)?;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        // The first call opens the body: it runs whenever the function does.
        let at = if i == 0 { heads[0] } else { heads[u.choose_index(heads.len())?] };
        let mut f = &FUNCTIONS[u.choose_index(FUNCTIONS.len())?];
        // `proc_exit` ends the run: draw again three times in four.
        if f.returns == Returns::Never && !u.ratio(1, 4)? {
            f = &FUNCTIONS[u.choose_index(FUNCTIONS.len())?];
        }
        v.push((at, f, u.arbitrary::<u32>()?));
    }
    v.sort_by_key(|(at, _, _)| *at);
    Ok(v)
}

fn unexpected_import(module: &str, name: &str) -> SmithError {
    SmithError::Rewrite(format!("unexpected import {module}.{name}"))
}

/// The reencoder, once the number of defined functions is known: defined function `i`
/// moves from `old_imports + i` to `new_imports + i`; wrappers follow them.
fn new_remap(functions: &mut Vec<Option<u32>>, old_imports: u32, new_imports: u32, defined: u32) -> Remap {
    debug_assert_eq!(functions.len() as u32, old_imports);
    functions.extend((0..defined).map(|i| Some(new_imports + i)));
    Remap { functions: functions.clone(), next_wrapper: new_imports + defined }
}

/// An active segment moved inside `limit` bytes: `None` when it cannot fit.
fn fit_segment(d: wasmparser::Data<'_>, limit: u64) -> Result<Option<(u64, &[u8])>, SmithError> {
    let DataKind::Active { offset_expr, .. } = d.kind else {
        return Err(SmithError::Rewrite("passive data segment without bulk memory".into()));
    };
    let offset = match offset_expr.get_operators_reader().read().map_err(parse_err)? {
        Operator::I32Const { value } => u64::from(value as u32),
        other => return Err(SmithError::Rewrite(format!("data segment offset {other:?}"))),
    };
    let len = d.data.len() as u64;
    if len > limit {
        return Ok(None);
    }
    let offset = if offset + len <= limit { offset } else { offset % (limit - len + 1) };
    Ok(Some((offset, d.data)))
}

const fn mem_arg(align: u32) -> MemArg {
    MemArg { offset: 0, align, target: MemArgTarget::Memory(0), ordering: None }
}

/// Pushes one operand.
fn push(f: &mut wasm_encoder::Function, o: Operand, finder: u32) {
    match o {
        Operand::I32(v) => f.instruction(&Instruction::I32Const(v as i32)),
        Operand::I64(v) => f.instruction(&Instruction::I64Const(v as i64)),
        Operand::Stack => f.instruction(&Instruction::LocalGet(0)),
        Operand::StackU64 => f.instruction(&Instruction::LocalGet(0)).instruction(&Instruction::I64ExtendI32U),
        Operand::StackS64 => f.instruction(&Instruction::LocalGet(0)).instruction(&Instruction::I64ExtendI32S),
        Operand::PreopenFd => f.instruction(&Instruction::Call(finder)),
        Operand::LastFd => {
            f.instruction(&Instruction::I32Const(mem::OUT_FD as i32)).instruction(&Instruction::I32Load(mem_arg(2)))
        }
        Operand::EndOfMemory(n) => f
            .instruction(&Instruction::MemorySize(0))
            .instruction(&Instruction::I32Const(16))
            .instruction(&Instruction::I32Shl)
            .instruction(&Instruction::I32Const(n as i32))
            .instruction(&Instruction::I32Sub),
    };
}

/// A wrapper: pushes the plan's operands, calls the real import, returns its errno.
fn wrapper(p: &CallPlan, import_of: &BTreeMap<usize, u32>, finder: u32) -> wasm_encoder::Function {
    let mut f = wasm_encoder::Function::new([]);
    for o in &p.operands {
        push(&mut f, *o, finder);
    }
    // The import's result (the errno, or nothing for `proc_exit`) is the wrapper's.
    f.instruction(&Instruction::Call(import_of[&p.function.index])).instruction(&Instruction::End);
    f
}

/// `() -> i32`: the fd of the preopen whose name is `sandbox` or `/sandbox`-like (seven
/// or eight bytes ending in `sandbox`), scanning fds 3..32; 3 when there is none. The
/// answer is cached in global `cache`.
fn preopen_finder(import_of: &BTreeMap<usize, u32>, cache: u32) -> wasm_encoder::Function {
    use Instruction::*;
    let prestat_get = import_of[&function("fd_prestat_get").expect("in the table").index];
    let dir_name = import_of[&function("fd_prestat_dir_name").expect("in the table").index];
    let (fd, len) = (0, 1);
    let sand = i32::from_le_bytes(*b"sand");
    let dbox = i32::from_le_bytes(*b"dbox");
    let mut f = wasm_encoder::Function::new([(2, ValType::I32)]);
    for i in [
        GlobalGet(cache),
        I32Const(0),
        I32GeS,
        If(BlockType::Empty),
        GlobalGet(cache),
        Return,
        End,
        I32Const(3),
        LocalSet(fd),
        Block(BlockType::Empty),
        Loop(BlockType::Empty),
        LocalGet(fd),
        I32Const(32),
        I32GeU,
        BrIf(1),
        LocalGet(fd),
        I32Const(mem::PRESTAT_OUT as i32),
        Call(prestat_get),
        I32Eqz,
        If(BlockType::Empty),
        I32Const(mem::PRESTAT_OUT as i32 + 4),
        I32Load(mem_arg(2)),
        LocalTee(len),
        I32Const(7),
        I32Sub,
        I32Const(1),
        I32LeU,
        If(BlockType::Empty),
        LocalGet(fd),
        I32Const(mem::NAME_BUF as i32),
        LocalGet(len),
        Call(dir_name),
        I32Eqz,
        LocalGet(len),
        I32Const(mem::NAME_BUF as i32 - 7),
        I32Add,
        I32Load(mem_arg(0)),
        I32Const(sand),
        I32Eq,
        I32And,
        LocalGet(len),
        I32Const(mem::NAME_BUF as i32 - 4),
        I32Add,
        I32Load(mem_arg(0)),
        I32Const(dbox),
        I32Eq,
        I32And,
        If(BlockType::Empty),
        LocalGet(fd),
        GlobalSet(cache),
        LocalGet(fd),
        Return,
        End,
        End,
        End,
        LocalGet(fd),
        I32Const(1),
        I32Add,
        LocalSet(fd),
        Br(0),
        End,
        End,
        I32Const(3),
        GlobalSet(cache),
        I32Const(3),
        End,
    ] {
        f.instruction(&i);
    }
    f
}
