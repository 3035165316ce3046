//! The program interpreter: one core wasm module, built once per process and compiled once
//! per runtime, that runs any generated program written into its memory as data (see
//! [`super`] for why, and [`super::decompile`] for where the data comes from).
//!
//! # What it does
//! `_start` reads the [header](HEADER) at [`CMD_BASE`], walks the preopens exactly as a
//! compiled scenario does (`fd_prestat_get(3..)` until the first error, each name read with
//! `fd_prestat_dir_name` when it fits, recorded in the scan table, matched by name to the
//! fixture's preopens), stores the count in the trace header, then executes the
//! [commands](Command) one after another:
//! - `store32 addr operand`: `i32.store` of the operand (trace markers, fd fix-ups of
//!   `poll_oneoff` subscriptions);
//! - `call f errno_at operands…`: pushes each core parameter of preview1 function `f` from
//!   its operand, calls the import, and stores the errno at `errno_at`;
//! - `end`.
//!
//! An operand is a constant or a load of 1, 2, 4 or 8 bytes (zero-extended) from an address,
//! done when the command runs: a binding (`$f3`) read after the step that wrote it, as the
//! compiled code reads it.
//!
//! # The module
//! Imports the 46 preview1 functions in table order, but those a runtime lacks
//! ([`module_without`]; Bun has no `sock_accept`, and a module importing it cannot be
//! instantiated there: the oracle runs programs calling one of them compiled), exports
//! `memory` ([`PAGES`] pages, minimum = maximum, as compiled scenarios have) and `_start`;
//! no start section, no data segments, MVP features only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use wasi_conform_abi::{CoreType, Returns, FUNCTIONS, MODULE};
use wasi_conform_suite::compile::asm::{mem, val};
use wasi_conform_suite::compile::scan::match_body;
use wasi_conform_suite::trace::{MAX_NAME, MAX_SCAN, SCAN_ENTRY, TRACE_BASE};
use wasm_encoder::{
    BlockType, CodeSection, EntityType, ExportKind, ExportSection, Function as Body, FunctionSection, ImportSection,
    Instruction as I, MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// Linear memory, in 64 KiB pages: what a compiled generated program has (its data ends
/// well below 64 KiB, and the compiler adds one page).
pub const PAGES: u64 = 2;
/// Where the header and the commands start: above every generated program's data.
pub const CMD_BASE: u32 = 96 * 1024;
/// Bytes of memory.
pub const MEMORY_BYTES: u64 = PAGES * 65536;

/// Header fields at [`CMD_BASE`] (byte offsets): the preopens to find, the scan's addresses,
/// where the first command is; then `npre` (name address, name length) pairs.
pub const HEADER: [(&str, u32); 5] = [("npre", 0), ("scan_at", 4), ("scratch_at", 8), ("slots_at", 12), ("first", 16)];
/// Size of the fixed part of the header.
pub const HEADER_LEN: u32 = 20;

/// Command kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    End = 0,
    Store32 = 1,
    Call = 2,
}

/// Bytes before a command's operands: kind, size, and two words (`store32`: address;
/// `call`: function index, errno address).
pub const COMMAND_HEAD: u32 = 16;
/// Bytes per operand: kind (0 constant, 1 load), width, value or address (u64).
pub const OPERAND: u32 = 16;
/// No errno to store (the function does not return).
pub const NO_ERRNO: u32 = u32::MAX;

/// The interpreter's bytes, importing every function (built on first use).
pub fn module() -> Arc<Vec<u8>> {
    module_without(&[])
}

/// Interpreter variants built so far, by the functions they leave out.
type Built = HashMap<Vec<&'static str>, Arc<Vec<u8>>>;

/// The interpreter importing every function but `missing` (built once per list); a
/// command calling one of those reaches `unreachable`.
pub fn module_without(missing: &[&'static str]) -> Arc<Vec<u8>> {
    static BUILT: OnceLock<Mutex<Built>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    built.entry(missing.to_vec()).or_insert_with(|| Arc::new(build(missing))).clone()
}

fn build(missing: &[&'static str]) -> Vec<u8> {
    let mut types = TypeSection::new();
    let mut type_ids: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let mut type_of = |params: Vec<ValType>, results: Vec<ValType>, types: &mut TypeSection| -> u32 {
        if let Some(i) = type_ids.iter().position(|(p, r)| *p == params && *r == results) {
            return i as u32;
        }
        types.ty().function(params.clone(), results.clone());
        type_ids.push((params, results));
        (type_ids.len() - 1) as u32
    };
    let mut imports = ImportSection::new();
    // Import index per table index (`None`: not imported).
    let mut index: Vec<Option<u32>> = Vec::new();
    let mut n = 0;
    for f in FUNCTIONS {
        if missing.contains(&f.name) {
            index.push(None);
            continue;
        }
        let params: Vec<ValType> = f.core_params().into_iter().map(val).collect();
        let results: Vec<ValType> = f.core_results().iter().copied().map(val).collect();
        let t = type_of(params, results, &mut types);
        imports.import(MODULE, f.name, EntityType::Function(t));
        index.push(Some(n));
        n += 1;
    }
    let (operand_fn, call_fn, match_fn, start_fn) = (n, n + 1, n + 2, n + 3);
    let mut funcs = FunctionSection::new();
    funcs.function(type_of(vec![ValType::I32], vec![ValType::I64], &mut types));
    funcs.function(type_of(vec![ValType::I32], vec![], &mut types));
    funcs.function(type_of(vec![ValType::I32; 4], vec![ValType::I32], &mut types));
    funcs.function(type_of(vec![], vec![], &mut types));

    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: PAGES,
        maximum: Some(PAGES),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("_start", ExportKind::Func, start_fn);

    let mut code = CodeSection::new();
    code.function(&operand_body());
    code.function(&call_body(operand_fn, &index));
    code.function(&match_body());
    let prestat = |name: &str| {
        let f = wasi_conform_abi::function(name).expect("in the table");
        index[f.index].expect("the preopen scan's functions are never left out")
    };
    code.function(&start_body(
        (prestat("fd_prestat_get"), prestat("fd_prestat_dir_name")),
        operand_fn,
        call_fn,
        match_fn,
    ));

    let mut m = Module::new();
    m.section(&types).section(&imports).section(&funcs).section(&memories).section(&exports).section(&code);
    let mut names = wasm_encoder::NameMap::new();
    for f in FUNCTIONS {
        if let Some(i) = index[f.index] {
            names.append(i, f.name);
        }
    }
    names.append(operand_fn, "operand");
    names.append(call_fn, "call");
    names.append(match_fn, "match_preopen_name");
    names.append(start_fn, "_start");
    let mut section = wasm_encoder::NameSection::new();
    section.functions(&names);
    m.section(&section);
    m.finish()
}

fn body(locals: Vec<(u32, ValType)>, ins: &[I]) -> Body {
    let mut b = Body::new(locals);
    for i in ins {
        b.instruction(i);
    }
    b.instruction(&I::End);
    b
}

/// `$operand(ptr) -> i64`: a constant, or a zero-extended load of `width` bytes.
fn operand_body() -> Body {
    let (ptr, addr, width) = (0, 1, 2);
    let load = |op: I<'static>| [I::LocalGet(addr), op, I::Return, I::End];
    let mut ins = vec![
        I::LocalGet(ptr),
        I::I32Load(mem(0, 2)),
        I::I32Eqz,
        I::If(BlockType::Empty),
        I::LocalGet(ptr),
        I::I64Load(mem(8, 3)),
        I::Return,
        I::End,
        I::LocalGet(ptr),
        I::I32Load(mem(8, 2)),
        I::LocalSet(addr),
        I::LocalGet(ptr),
        I::I32Load(mem(4, 2)),
        I::LocalSet(width),
    ];
    for (w, op) in [(1, I::I64Load8U(mem(0, 0))), (2, I::I64Load16U(mem(0, 0))), (4, I::I64Load32U(mem(0, 0)))] {
        ins.extend([I::LocalGet(width), I::I32Const(w), I::I32Eq, I::If(BlockType::Empty)]);
        ins.extend(load(op));
    }
    ins.extend([I::LocalGet(addr), I::I64Load(mem(0, 0))]);
    body(vec![(2, ValType::I32)], &ins)
}

/// `$call(cmd)`: one `call` command, dispatched on the function index (`br_table`).
fn call_body(operand_fn: u32, index: &[Option<u32>]) -> Body {
    let cmd = 0;
    let n = FUNCTIONS.len() as u32;
    let mut ins: Vec<I> = Vec::new();
    // block $f45 … block $f0 block $dispatch  br_table  end  <f0> return end <f1> return end …
    for _ in 0..=n {
        ins.push(I::Block(BlockType::Empty));
    }
    ins.extend([I::LocalGet(cmd), I::I32Load(mem(8, 2))]);
    let targets: Vec<u32> = (0..n).collect();
    ins.push(I::BrTable(targets.into(), n));
    ins.push(I::End);
    for f in FUNCTIONS {
        let Some(import) = index[f.index] else {
            ins.extend([I::Unreachable, I::End]);
            continue;
        };
        if f.returns == Returns::Errno {
            ins.extend([I::LocalGet(cmd), I::I32Load(mem(12, 2))]);
        }
        for (j, t) in f.core_params().into_iter().enumerate() {
            ins.extend([
                I::LocalGet(cmd),
                I::I32Const((COMMAND_HEAD + OPERAND * j as u32) as i32),
                I::I32Add,
                I::Call(operand_fn),
            ]);
            if t == CoreType::I32 {
                ins.push(I::I32WrapI64);
            }
        }
        ins.push(I::Call(import));
        if f.returns == Returns::Errno {
            ins.push(I::I32Store(mem(0, 2)));
        }
        ins.extend([I::Return, I::End]);
    }
    // An index outside the table: nothing (the encoder never writes one).
    body(vec![], &ins)
}

/// `_start`: the preopen scan, then the command loop.
fn start_body((prestat_get, prestat_name): (u32, u32), operand_fn: u32, call_fn: u32, match_fn: u32) -> Body {
    // locals: fd, count, entry, len, k, slot, cmd, scan_at, scratch_at, slots_at, npre
    let (fd, count, entry, len, k, slot, cmd, scan_at, scratch_at, slots_at, npre) = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    let header =
        |at: u32, local: u32| [I::I32Const(CMD_BASE as i32), I::I32Load(mem(at as u64, 2)), I::LocalSet(local)];
    let mut ins: Vec<I> = Vec::new();
    ins.extend(header(0, npre));
    ins.extend(header(4, scan_at));
    ins.extend(header(8, scratch_at));
    ins.extend(header(12, slots_at));
    ins.extend([
        I::I32Const(3),
        I::LocalSet(fd),
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(count),
        I::I32Const(MAX_SCAN as i32),
        I::I32GeU,
        I::BrIf(1),
        // entry = scan_at + count * SCAN_ENTRY
        I::LocalGet(count),
        I::I32Const(SCAN_ENTRY as i32),
        I::I32Mul,
        I::LocalGet(scan_at),
        I::I32Add,
        I::LocalSet(entry),
        I::LocalGet(fd),
        I::LocalGet(scratch_at),
        I::Call(prestat_get),
        I::BrIf(1),
        I::LocalGet(entry),
        I::LocalGet(fd),
        I::I32Store(mem(0, 2)),
        I::LocalGet(scratch_at),
        I::I32Load(mem(4, 2)),
        I::LocalSet(len),
        I::LocalGet(entry),
        I::LocalGet(len),
        I::I32Store(mem(4, 2)),
        // name errno defaults to 0xffff ("not read": longer than MAX_NAME)
        I::LocalGet(entry),
        I::I32Const(0xffff),
        I::I32Store(mem(8, 2)),
        I::LocalGet(len),
        I::I32Const(MAX_NAME as i32),
        I::I32LeU,
        I::If(BlockType::Empty),
        I::LocalGet(entry),
        I::LocalGet(fd),
        I::LocalGet(entry),
        I::I32Const(16),
        I::I32Add,
        I::LocalGet(len),
        I::Call(prestat_name),
        I::I32Store(mem(8, 2)),
        // for k in 0..npre: bind slot k when the name was read, the slot is free and it matches
        I::I32Const(0),
        I::LocalSet(k),
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(k),
        I::LocalGet(npre),
        I::I32GeU,
        I::BrIf(1),
        I::LocalGet(slots_at),
        I::LocalGet(k),
        I::I32Const(4),
        I::I32Mul,
        I::I32Add,
        I::LocalSet(slot),
        I::LocalGet(entry),
        I::I32Load(mem(8, 2)),
        I::I32Eqz,
        I::LocalGet(slot),
        I::I32Load(mem(0, 2)),
        I::I32Const(-1),
        I::I32Eq,
        I::I32And,
        I::If(BlockType::Empty),
        I::LocalGet(entry),
        I::I32Const(16),
        I::I32Add,
        I::LocalGet(len),
        // want[k] = (name address, name length) after the fixed header
        I::LocalGet(k),
        I::I32Const(8),
        I::I32Mul,
        I::I32Const((CMD_BASE + HEADER_LEN) as i32),
        I::I32Add,
        I::I32Load(mem(0, 2)),
        I::LocalGet(k),
        I::I32Const(8),
        I::I32Mul,
        I::I32Const((CMD_BASE + HEADER_LEN) as i32),
        I::I32Add,
        I::I32Load(mem(4, 2)),
        I::Call(match_fn),
        I::If(BlockType::Empty),
        I::LocalGet(slot),
        I::LocalGet(fd),
        I::I32Store(mem(0, 2)),
        I::End,
        I::End,
        I::LocalGet(k),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(k),
        I::Br(0),
        I::End,
        I::End,
        I::End,
        I::LocalGet(count),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(count),
        I::LocalGet(fd),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(fd),
        I::Br(0),
        I::End,
        I::End,
        I::I32Const(TRACE_BASE as i32),
        I::LocalGet(count),
        I::I32Store(mem(12, 2)),
        // the commands
        I::I32Const(CMD_BASE as i32),
        I::I32Load(mem(16, 2)),
        I::LocalSet(cmd),
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(cmd),
        I::I32Load(mem(0, 2)),
        I::I32Eqz,
        I::BrIf(1),
        I::LocalGet(cmd),
        I::I32Load(mem(0, 2)),
        I::I32Const(Command::Store32 as i32),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(cmd),
        I::I32Load(mem(8, 2)),
        I::LocalGet(cmd),
        I::I32Const(COMMAND_HEAD as i32),
        I::I32Add,
        I::Call(operand_fn),
        I::I32WrapI64,
        I::I32Store(mem(0, 2)),
        I::Else,
        I::LocalGet(cmd),
        I::Call(call_fn),
        I::End,
        I::LocalGet(cmd),
        I::LocalGet(cmd),
        I::I32Load(mem(4, 2)),
        I::I32Add,
        I::LocalSet(cmd),
        I::Br(0),
        I::End,
        I::End,
    ]);
    body(vec![(11, ValType::I32)], &ins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpreter_validates_with_mvp_features() {
        let bytes = module();
        wasi_conform_suite::compile::validate(&bytes).unwrap();
        let wat = wasi_conform_suite::compile::to_wat(&bytes).unwrap();
        assert!(wat.contains("(export \"_start\""));
        assert!(!wat.contains("(start"), "no start section");
        assert!(!wat.contains("(data"), "no data segments: the program is preloaded");
    }

    #[test]
    fn a_missing_function_is_not_imported() {
        let bytes = module_without(&["sock_accept"]);
        wasi_conform_suite::compile::validate(&bytes).unwrap();
        let wat = wasi_conform_suite::compile::to_wat(&bytes).unwrap();
        assert!(!wat.contains("\"sock_accept\""));
        assert!(wat.contains("\"sock_recv\""));
        assert!(Arc::ptr_eq(&module_without(&["sock_accept"]), &bytes), "built once");
    }

    #[test]
    fn header_and_commands_fit_above_the_data() {
        assert!((CMD_BASE as u64) < MEMORY_BYTES);
        assert_eq!(HEADER.last().map(|(_, at)| at + 4), Some(HEADER_LEN));
    }
}
