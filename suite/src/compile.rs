//! The compiler: [`Scenario`] → a core wasm module that makes exactly the scenario's raw
//! calls and leaves a trace of every result in its own memory.
//!
//! # The module
//! - imports only the preview1 functions it calls (signatures from the function table),
//!   exports `memory` (fixed size: min = max, so every out-of-bounds pointer is out of
//!   bounds on every runtime) and `_start`; no start section; MVP features only;
//! - `_start` first finds the preopens *by name*, as wasi-libc does: it walks
//!   `fd_prestat_get(3..)` until the first error, reads each name with
//!   `fd_prestat_dir_name`, records what it saw, and binds each fixture preopen whose name
//!   matches (ignoring a leading `/` or `./` and a trailing `/`) to `$name`;
//! - then it performs the steps in order. Before each call it marks the step *started*,
//!   after it stores the errno and marks it *returned*.
//!
//! # The trace channel
//! The trace lives in guest memory at [`TRACE_BASE`], below every buffer a step uses, and
//! the adapter returns `[0, capture_len)` after the run — whether `_start` returned, called
//! `proc_exit`, or trapped. Nothing of it goes through fd 1 or 2, so a scenario may write
//! anything to stdout, close it or renumber over it without touching the trace. A magic
//! word guards against steps that scribble over it through raw pointers.
//! Outputs stay where the host wrote them (each step has its own areas), and out-pointer
//! areas are pre-filled with `0xff` so a binding from a failed call is an invalid fd.
//!
//! Memory map: `[0, 1024)` is left free for raw pointers in scenarios; the trace follows;
//! then every step's data and output areas.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasi_conform_abi::{function, layout, CoreType, Function, ParamType, Returns, MODULE};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function as Body,
    FunctionSection, ImportSection, Instruction as I, MemArg, MemorySection, MemoryType, Module, TypeSection, ValType,
};

use crate::case::{Limits, TestCase};
use crate::scenario::*;

/// Where the trace header starts.
pub const TRACE_BASE: u32 = 1024;
/// The trace header's first word (`WCT1`, little-endian).
pub const TRACE_MAGIC: u32 = u32::from_le_bytes(*b"WCT1");
/// Preopens recorded by the scan, at most.
pub const MAX_SCAN: u32 = 16;
/// Longest preopen name recorded.
pub const MAX_NAME: u32 = 64;
/// Bytes per scanned preopen: fd, name_len, name errno, pad, name.
pub const SCAN_ENTRY: u32 = 16 + MAX_NAME;
/// Step state: not reached.
pub const NOT_STARTED: u32 = 0;
/// Step state: the call was entered but did not return (exit or trap inside it).
pub const STARTED: u32 = 1;
/// Step state: the call returned.
pub const RETURNED: u32 = 2;

/// Where everything is in guest memory; what [`crate::trace`] needs to decode a run.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Step records: `state u32, errno u32` each, from `steps_at`.
    pub steps_at: u32,
    pub nsteps: u32,
    /// Fixture preopen slots (fd found, `u32::MAX` if none), from `slots_at`.
    pub slots_at: u32,
    /// Scan table and its prestat scratch.
    pub scan_at: u32,
    pub scratch_at: u32,
    /// Per step: where its outputs are.
    pub steps: Vec<StepLayout>,
    /// Binding name → (address, width in bytes) of its value.
    pub bindings: BTreeMap<String, (u32, u32)>,
    /// End of used memory.
    pub end: u32,
}

/// Addresses of one step's outputs.
#[derive(Debug, Clone, Default)]
pub struct StepLayout {
    /// Out-pointer per result (the raw override, if any).
    pub results: Vec<u32>,
    /// Buffers behind an `iovec_array` argument: (addr, len).
    pub iovecs: Vec<(u32, u32)>,
    /// A `Buffer` argument: (addr, len passed).
    pub buffer: Option<(u32, u32)>,
    /// `Region` arguments: (addr, size) in parameter order.
    pub regions: Vec<(u32, u32)>,
    /// `poll_oneoff` events area: (addr, capacity).
    pub events: Option<(u32, u32)>,
}

/// A compiled scenario.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub case: TestCase,
    pub layout: Layout,
}

/// A scenario the compiler cannot lay out.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{id}: guest memory would exceed 4 GiB")]
    TooLarge { id: String },
    #[error("{id}: the compiled module is invalid: {message}")]
    Invalid { id: String, message: String },
}

/// How the trace leaves the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceSink {
    /// The adapter reads guest memory after the run (in-process and JS runtimes).
    Memory,
    /// The module also writes the whole captured region to fd 2 in a frame (see
    /// [`crate::trace::extract_frames`]) when each step starts and when it returns: for
    /// runtimes driven as a command line, whose memory cannot be read afterwards. A
    /// scenario that closes or renumbers fd 2 loses the frames written after that.
    Stderr,
    /// The module judges itself, for harnesses that only look at the exit code and stdout
    /// (the wasi-testsuite export): see [`self_check`]. Its layout differs from the other
    /// two variants; nothing reads its trace.
    SelfCheck,
}

pub mod self_check;
pub use self_check::{compile_self_checking, SelfCheckError, SELF_CHECK_EXIT};

pub use wasi_conform_case::frames::{FRAME_END, FRAME_MAGIC};

/// Compiles a scenario with the default limits and the scenario's own time budget.
pub fn compile(s: &Scenario) -> Result<Compiled, CompileError> {
    let defaults = Limits::default();
    compile_with(s, Limits { timeout: s.budget.unwrap_or(defaults.timeout), ..defaults })
}

/// Compiles a scenario.
pub fn compile_with(s: &Scenario, limits: Limits) -> Result<Compiled, CompileError> {
    let (bytes, layout) = compile_sink(s, TraceSink::Memory)?;
    let (framed, framed_layout) = compile_sink(s, TraceSink::Stderr)?;
    debug_assert_eq!(layout.end, framed_layout.end, "both variants share one memory layout");
    Ok(Compiled {
        case: TestCase {
            id: s.id.clone(),
            module: Arc::new(bytes),
            module_stderr_trace: Arc::new(framed),
            fixture: s.fixture.clone(),
            capture_len: layout.end,
            limits,
        },
        layout,
    })
}

fn compile_sink(s: &Scenario, sink: TraceSink) -> Result<(Vec<u8>, Layout), CompileError> {
    let mut c = Compiler::new(s, sink);
    let bytes = c.module(s)?;
    validate(&bytes).map_err(|message| CompileError::Invalid { id: s.id.clone(), message })?;
    Ok((bytes, c.layout))
}

/// Validates a module with MVP features only.
pub fn validate(bytes: &[u8]) -> Result<(), String> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::WASM1)
        .validate_all(bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The module as WAT text, for `wasi-conform show --wat`.
pub fn to_wat(bytes: &[u8]) -> Result<String, String> {
    wasmprinter::print_bytes(bytes).map_err(|e| e.to_string())
}

struct Compiler {
    layout: Layout,
    next: u64,
    data: Vec<(u32, Vec<u8>)>,
    imports: Vec<&'static Function>,
    sink: TraceSink,
    /// Frame header, trailer, iovec array (header, payload, trailer), scratch iovec and
    /// nwritten slot (allocated in every variant, so both share one layout).
    frame: (u32, u32, u32, u32, u32),
    /// Import index of `fd_write` in the [`TraceSink::Stderr`] variant.
    flush_with: Option<u32>,
    /// [`TraceSink::SelfCheck`] only: what the checks need (see [`self_check`]).
    check: Option<self_check::CheckState>,
}

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg { offset, align, target: wasm_encoder::MemArgTarget::Memory(0), ordering: None }
}

fn val(t: CoreType) -> ValType {
    match t {
        CoreType::I32 => ValType::I32,
        CoreType::I64 => ValType::I64,
    }
}

impl Compiler {
    fn new(s: &Scenario, sink: TraceSink) -> Self {
        let nsteps = s.steps.len() as u32;
        let npre = s.fixture.preopens.len() as u32;
        let steps_at = TRACE_BASE + 16;
        let slots_at = steps_at + 8 * nsteps;
        let scratch_at = (slots_at + 4 * npre + 7) & !7;
        let scan_at = scratch_at + 8;
        let end = scan_at + MAX_SCAN * SCAN_ENTRY;
        let mut bindings = BTreeMap::new();
        for (i, p) in s.fixture.preopens.iter().enumerate() {
            bindings.insert(p.binding.clone(), (slots_at + 4 * i as u32, 4));
        }
        let mut data =
            vec![(TRACE_BASE, [TRACE_MAGIC.to_le_bytes(), nsteps.to_le_bytes(), npre.to_le_bytes()].concat())];
        if npre > 0 {
            data.push((slots_at, vec![0xff; 4 * npre as usize]));
        }
        let mut c = Compiler {
            layout: Layout { steps_at, nsteps, slots_at, scan_at, scratch_at, steps: Vec::new(), bindings, end },
            next: end as u64,
            data,
            imports: Vec::new(),
            sink,
            frame: (0, 0, 0, 0, 0),
            flush_with: None,
            check: None,
        };
        c.frame = (c.alloc(16), c.alloc(8), c.alloc(24), c.alloc(8), c.alloc(4));
        c
    }

    /// Writes the captured region to fd 2 as one frame (its sequence number first bumped).
    fn flush(&self, code: &mut Vec<I<'static>>) {
        if self.flush_with.is_none() {
            return;
        }
        let hdr = self.frame.0;
        code.extend([
            I::I32Const(hdr as i32),
            I::I32Const(hdr as i32),
            I::I32Load(mem(8, 2)),
            I::I32Const(1),
            I::I32Add,
            I::I32Store(mem(8, 2)),
            // The index of `$write_frame` is known only once every import is: patched in
            // `start_body`.
            I::Call(WRITE_FRAME_PLACEHOLDER),
        ]);
    }

    /// `$write_frame()`: writes the frame's three iovecs to fd 2, looping over short
    /// writes (a host may write only part of an iovec array, e.g. its first iovec), and
    /// giving up silently on an error (fd 2 closed).
    fn write_frame_body(&self, fd_write: u32) -> Body {
        let (_, _, iov, scratch, nwritten) = self.frame;
        let (i, ptr, len, n) = (0, 1, 2, 3);
        let mut b = Body::new(vec![(4, ValType::I32)]);
        let head = [
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(i),
            I::I32Const(3),
            I::I32GeU,
            I::BrIf(1),
            I::LocalGet(i),
            I::I32Const(8),
            I::I32Mul,
            I::I32Const(iov as i32),
            I::I32Add,
            I::I32Load(mem(0, 2)),
            I::LocalSet(ptr),
            I::LocalGet(i),
            I::I32Const(8),
            I::I32Mul,
            I::I32Const(iov as i32),
            I::I32Add,
            I::I32Load(mem(4, 2)),
            I::LocalSet(len),
        ];
        let tail = [I::LocalGet(i), I::I32Const(1), I::I32Add, I::LocalSet(i), I::Br(0), I::End, I::End, I::End];
        let inner = write_all(fd_write, scratch, nwritten, (ptr, len, n), I::Return);
        for x in head.iter().chain(&inner).chain(&tail) {
            b.instruction(x);
        }
        b
    }

    /// Reserves `size` bytes aligned to 8 and returns the address.
    fn alloc(&mut self, size: u64) -> u32 {
        let at = (self.next + 7) & !7;
        self.next = at + size.max(1);
        at.min(u32::MAX as u64) as u32
    }

    fn put(&mut self, bytes: Vec<u8>) -> u32 {
        let at = self.alloc(bytes.len() as u64);
        if !bytes.is_empty() {
            self.data.push((at, bytes));
        }
        at
    }

    fn import_index(&mut self, f: &'static Function) -> u32 {
        match self.imports.iter().position(|g| g.index == f.index) {
            Some(i) => i as u32,
            None => {
                self.imports.push(f);
                (self.imports.len() - 1) as u32
            }
        }
    }

    fn module(&mut self, s: &Scenario) -> Result<Vec<u8>, CompileError> {
        let prestat_get = self.import_index(function("fd_prestat_get").expect("in table"));
        let prestat_name = self.import_index(function("fd_prestat_dir_name").expect("in table"));
        if self.sink == TraceSink::Stderr {
            self.flush_with = Some(self.import_index(function("fd_write").expect("in table")));
        }
        let want: Vec<(u32, u32)> = s
            .fixture
            .preopens
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let name = match &self.check {
                    Some(c) => c.guest_names[i].clone(),
                    // The guest name without a leading `/` or `./` (the binding, for a
                    // simple name).
                    None => p.name.trim_start_matches("./").trim_start_matches('/').to_owned(),
                };
                let len = name.len() as u32;
                (self.put(name.into_bytes()), len)
            })
            .collect();
        if self.sink == TraceSink::SelfCheck {
            self.self_check_prepare(s);
        }

        // Steps first: they decide the imports and the data layout.
        let mut steps_code: Vec<I<'static>> = Vec::new();
        for (k, step) in s.steps.iter().enumerate() {
            self.step(k as u32, step, &mut steps_code);
        }
        if self.next > u32::MAX as u64 - 65536 {
            return Err(CompileError::TooLarge { id: s.id.clone() });
        }
        self.layout.end = ((self.next + 7) & !7) as u32;
        let end = self.layout.end;
        let (hdr, trl, iov, _, _) = self.frame;
        self.data.push((hdr, [&FRAME_MAGIC[..], &0u32.to_le_bytes(), &end.to_le_bytes()].concat()));
        self.data.push((trl, FRAME_END.to_vec()));
        let iovecs: Vec<u8> = [(hdr, 16u32), (0, end), (trl, 8)]
            .iter()
            .flat_map(|(p, n)| [p.to_le_bytes(), n.to_le_bytes()].concat())
            .collect();
        self.data.push((iov, iovecs));

        let nimports = self.imports.len() as u32;
        let match_fn = nimports;
        let start_fn = nimports + 1;
        let write_frame_fn = nimports + 2;
        // Only in the SelfCheck variant, which has no `$write_frame`.
        let (fail_fn, memeq_fn) = (nimports + 2, nimports + 3);

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
        for f in &self.imports {
            let params: Vec<ValType> = f.core_params().into_iter().map(val).collect();
            let results: Vec<ValType> = f.core_results().iter().copied().map(val).collect();
            let t = type_of(params, results, &mut types);
            imports.import(MODULE, f.name, EntityType::Function(t));
        }
        let match_ty = type_of(vec![ValType::I32; 4], vec![ValType::I32], &mut types);
        let start_ty = type_of(vec![], vec![], &mut types);

        let mut funcs = FunctionSection::new();
        funcs.function(match_ty);
        funcs.function(start_ty);
        if self.flush_with.is_some() {
            funcs.function(start_ty);
        }
        if self.check.is_some() {
            funcs.function(type_of(self_check::FAIL_PARAMS.to_vec(), vec![], &mut types));
            funcs.function(type_of(vec![ValType::I32; 3], vec![ValType::I32], &mut types));
        }

        let pages = (self.layout.end as u64).div_ceil(65536) + 1;
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: pages,
            maximum: Some(pages),
            memory64: false,
            shared: false,
            page_size_log2: None,
        });

        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("_start", ExportKind::Func, start_fn);

        let mut code = CodeSection::new();
        code.function(&match_body());
        let steps_code = steps_code
            .into_iter()
            .map(|i| match i {
                I::Call(WRITE_FRAME_PLACEHOLDER) => I::Call(write_frame_fn),
                I::Call(self_check::FAIL_PLACEHOLDER) => I::Call(fail_fn),
                I::Call(self_check::MEMEQ_PLACEHOLDER) => I::Call(memeq_fn),
                other => other,
            })
            .collect();
        code.function(&self.start_body(prestat_get, prestat_name, match_fn, &want, steps_code));
        if let Some(fd_write) = self.flush_with {
            code.function(&self.write_frame_body(fd_write));
        }
        if let Some(c) = &self.check {
            code.function(&c.fail_body());
            code.function(&self_check::memeq_body());
        }

        let mut data = DataSection::new();
        for (at, bytes) in &self.data {
            data.active(0, &ConstExpr::i32_const(*at as i32), bytes.iter().copied());
        }

        let mut m = Module::new();
        m.section(&types)
            .section(&imports)
            .section(&funcs)
            .section(&memories)
            .section(&exports)
            .section(&code)
            .section(&data);
        // Names, so that `wasi-conform show --wat` reads `call $fd_close`.
        let mut fn_names = wasm_encoder::NameMap::new();
        for (i, f) in self.imports.iter().enumerate() {
            fn_names.append(i as u32, f.name);
        }
        fn_names.append(match_fn, "match_preopen_name");
        fn_names.append(start_fn, "_start");
        if self.flush_with.is_some() {
            fn_names.append(write_frame_fn, "write_frame");
        }
        if self.check.is_some() {
            fn_names.append(fail_fn, "self_check_failed");
            fn_names.append(memeq_fn, "memeq");
        }
        let mut names = wasm_encoder::NameSection::new();
        names.functions(&fn_names);
        m.section(&names);
        Ok(m.finish())
    }

    fn start_body(
        &self,
        prestat_get: u32,
        prestat_name: u32,
        match_fn: u32,
        want: &[(u32, u32)],
        steps: Vec<I<'static>>,
    ) -> Body {
        // locals: 0 fd, 1 count, 2 entry, 3 len, 4 scratch i64
        let mut locals = vec![(4, ValType::I32), (1, ValType::I64), (1, ValType::I32)];
        if self.check.is_some() {
            // self_check::VALUE
            locals.push((1, ValType::I64));
        }
        let mut b = Body::new(locals);
        let l = &self.layout;
        let (fd, count, entry, len) = (0, 1, 2, 3);
        let mut ins: Vec<I> = vec![
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
            I::I32Const(l.scan_at as i32),
            I::I32Add,
            I::LocalSet(entry),
            I::LocalGet(fd),
            I::I32Const(l.scratch_at as i32),
            I::Call(prestat_get),
            I::BrIf(1),
            I::LocalGet(entry),
            I::LocalGet(fd),
            I::I32Store(mem(0, 2)),
            I::I32Const(l.scratch_at as i32),
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
        ];
        for (k, (ptr, wlen)) in want.iter().enumerate() {
            let slot = l.slots_at + 4 * k as u32;
            ins.extend([
                I::LocalGet(entry),
                I::I32Load(mem(8, 2)),
                I::I32Eqz,
                I::I32Const(slot as i32),
                I::I32Load(mem(0, 2)),
                I::I32Const(-1),
                I::I32Eq,
                I::I32And,
                I::If(BlockType::Empty),
                I::LocalGet(entry),
                I::I32Const(16),
                I::I32Add,
                I::LocalGet(len),
                I::I32Const(*ptr as i32),
                I::I32Const(*wlen as i32),
                I::Call(match_fn),
                I::If(BlockType::Empty),
                I::I32Const(slot as i32),
                I::LocalGet(fd),
                I::I32Store(mem(0, 2)),
                I::End,
                I::End,
            ]);
        }
        ins.extend([
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
        ]);
        if let Some(c) = &self.check {
            ins.extend(c.preopens_found(l.slots_at, self.imports.len() as u32 + 2));
        }
        for i in ins.iter().chain(steps.iter()) {
            b.instruction(i);
        }
        b.instruction(&I::End);
        b
    }

    /// Emits one step: mark started, push arguments, call, record errno, mark returned.
    fn step(&mut self, k: u32, step: &Step, code: &mut Vec<I<'static>>) {
        let f = step.function;
        let idx = self.import_index(f);
        let rec = self.layout.steps_at + 8 * k;
        let mut sl = StepLayout::default();
        let mut pre: Vec<I<'static>> = Vec::new();
        let mut args: Vec<I<'static>> = Vec::new();
        for (p, a) in f.params.iter().zip(&step.args) {
            self.arg(p.ty, a, &mut sl, &mut pre, &mut args);
        }
        for (i, r) in f.results.iter().enumerate() {
            let shape = r.ty.shape();
            let at = match step.out_ptrs.get(i).copied().flatten() {
                Some(raw) => raw,
                None => self.put(vec![0xff; shape.size as usize]),
            };
            sl.results.push(at);
            args.push(I::I32Const(at as i32));
        }
        let mut after: Vec<I<'static>> = Vec::new();
        for b in &step.bind {
            let slot = match &b.source {
                BindSource::Result { result, field: None } => (sl.results[*result], f.results[*result].ty.shape().size),
                BindSource::Result { result, field: Some(name) } => {
                    let (_, offset, size) =
                        layout::field(f.results[*result].ty.fields(), name).expect("the loader checked the field");
                    (sl.results[*result] + offset, size)
                }
                BindSource::Entry { index, field } => {
                    let slot = self.put(vec![0xff; 8]);
                    let (_, offset, _) = layout::field(layout::DIRENT_FIELDS, field).expect("next or ino");
                    if let (Some((buf, _)), Some(used)) = (sl.buffer, sl.results.first()) {
                        after.extend(dirent_field(buf, *used, *index, offset, slot));
                    }
                    (slot, 8)
                }
            };
            self.layout.bindings.insert(b.name.clone(), slot);
        }
        code.extend(pre);
        code.extend([I::I32Const(rec as i32), I::I32Const(STARTED as i32), I::I32Store(mem(0, 2))]);
        self.flush(code);
        if f.returns == Returns::Errno {
            code.push(I::I32Const(rec as i32));
        }
        code.extend(args);
        code.push(I::Call(idx));
        if f.returns == Returns::Errno {
            code.extend([
                I::I32Store(mem(4, 2)),
                I::I32Const(rec as i32),
                I::I32Const(RETURNED as i32),
                I::I32Store(mem(0, 2)),
            ]);
        }
        code.extend(after);
        if f.returns == Returns::Errno {
            self.flush(code);
        }
        if self.sink == TraceSink::SelfCheck {
            self.self_check_step(k, step, &sl, code);
        }
        self.layout.steps.push(sl);
    }

    /// Pushes a scalar of core type `t`, loading bindings at run time.
    fn scalar(&self, s: &Scalar, t: CoreType, out: &mut Vec<I<'static>>) {
        match (s, t) {
            (Scalar::Value(v), CoreType::I32) => out.push(I::I32Const(*v as u32 as i32)),
            (Scalar::Value(v), CoreType::I64) => out.push(I::I64Const(*v as i64)),
            (Scalar::Binding(b), t) => {
                let (at, width) = self.layout.bindings.get(b).copied().unwrap_or((0, 4));
                out.push(I::I32Const(at as i32));
                match (t, width) {
                    (CoreType::I32, 1) => out.push(I::I32Load8U(mem(0, 0))),
                    (CoreType::I32, 2) => out.push(I::I32Load16U(mem(0, 0))),
                    (CoreType::I32, _) => out.push(I::I32Load(mem(0, 0))),
                    (CoreType::I64, 1) => out.push(I::I64Load8U(mem(0, 0))),
                    (CoreType::I64, 2) => out.push(I::I64Load16U(mem(0, 0))),
                    (CoreType::I64, 8) => out.push(I::I64Load(mem(0, 0))),
                    (CoreType::I64, _) => out.push(I::I64Load32U(mem(0, 0))),
                }
            }
        }
    }

    fn arg(
        &mut self,
        ty: ParamType,
        a: &Arg,
        sl: &mut StepLayout,
        pre: &mut Vec<I<'static>>,
        out: &mut Vec<I<'static>>,
    ) {
        let ptr_len = |out: &mut Vec<I<'static>>, p: u32, n: u32| {
            out.push(I::I32Const(p as i32));
            out.push(I::I32Const(n as i32));
        };
        match a {
            Arg::Scalar(s) => self.scalar(s, ty.core()[0], out),
            Arg::Str(Data::Bytes(b)) => {
                let n = b.len() as u32;
                let p = self.put(b.clone());
                ptr_len(out, p, n);
            }
            Arg::Str(Data::Raw { ptr, len }) => ptr_len(out, *ptr, *len),
            Arg::Ciovecs(parts) => {
                let addrs: Vec<(u32, u32)> = parts.iter().map(|b| (self.put(b.clone()), b.len() as u32)).collect();
                let arr: Vec<u8> =
                    addrs.iter().flat_map(|(p, n)| [p.to_le_bytes(), n.to_le_bytes()].concat()).collect();
                let at = self.put(arr);
                ptr_len(out, at, parts.len() as u32);
            }
            Arg::Iovecs(sizes) => {
                let bufs: Vec<(u32, u32)> = sizes.iter().map(|n| (self.alloc(*n as u64), *n)).collect();
                let arr: Vec<u8> = bufs.iter().flat_map(|(p, n)| [p.to_le_bytes(), n.to_le_bytes()].concat()).collect();
                let at = self.put(arr);
                sl.iovecs = bufs;
                ptr_len(out, at, sizes.len() as u32);
            }
            Arg::Buffer { size, len } => {
                let at = self.alloc(*size as u64);
                sl.buffer = Some((at, *len));
                ptr_len(out, at, *len);
            }
            Arg::Region(size) => {
                let at = self.alloc(*size as u64);
                sl.regions.push((at, *size));
                out.push(I::I32Const(at as i32));
            }
            Arg::Events(n) => {
                let at = self.alloc(*n as u64 * layout::EVENT.size as u64);
                sl.events = Some((at, *n));
                out.push(I::I32Const(at as i32));
            }
            Arg::Subscriptions(subs) => {
                let mut bytes = vec![0u8; subs.len() * layout::SUBSCRIPTION.size as usize];
                let mut fd_fixups = Vec::new();
                for (i, s) in subs.iter().enumerate() {
                    let r = &mut bytes[i * 48..(i + 1) * 48];
                    r[0..8].copy_from_slice(&s.userdata.to_le_bytes());
                    match &s.kind {
                        SubscriptionKind::Clock { id, timeout, precision, flags } => {
                            r[8] = 0;
                            r[16..20].copy_from_slice(&(*id as u32).to_le_bytes());
                            r[24..32].copy_from_slice(&timeout.to_le_bytes());
                            r[32..40].copy_from_slice(&precision.to_le_bytes());
                            r[40..42].copy_from_slice(&(*flags as u16).to_le_bytes());
                        }
                        SubscriptionKind::FdRead(fd) | SubscriptionKind::FdWrite(fd) => {
                            r[8] = if matches!(s.kind, SubscriptionKind::FdRead(_)) { 1 } else { 2 };
                            match fd {
                                Scalar::Value(v) => r[16..20].copy_from_slice(&(*v as u32).to_le_bytes()),
                                Scalar::Binding(_) => fd_fixups.push((i as u32, fd.clone())),
                            }
                        }
                        SubscriptionKind::Tag(t) => r[8] = *t,
                    }
                }
                let at = self.put(bytes);
                for (i, fd) in fd_fixups {
                    pre.push(I::I32Const((at + i * 48 + 16) as i32));
                    self.scalar(&fd, CoreType::I32, pre);
                    pre.push(I::I32Store(mem(0, 2)));
                }
                out.push(I::I32Const(at as i32));
            }
            Arg::Raw { ptr, len } => {
                out.push(I::I32Const(*ptr as i32));
                if ty.core().len() == 2 {
                    out.push(I::I32Const(*len as i32));
                }
            }
        }
    }
}

/// Stands for `$write_frame`'s index until the imports are final.
const WRITE_FRAME_PLACEHOLDER: u32 = u32::MAX;

/// Local of `_start` used to walk a dirent buffer.
const WALK: u32 = 5;

/// After an `fd_readdir`: stores field `offset` of its `index`-th complete entry into
/// `slot` (left as `0xff…` when the buffer holds fewer complete entries). Entries are packed
/// without padding, so loads are unaligned.
fn dirent_field(buf: u32, used_at: u32, index: EntryIndex, offset: u32, slot: u32) -> Vec<I<'static>> {
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
    [I::LocalGet(WALK), I::I32Const(24), I::I32Add, I::I32Const(used_at as i32), I::I32Load(mem(0, 2))]
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
        I::I32Const(24),
        I::I32Add,
        I::LocalGet(WALK),
        I::I32Const(buf as i32),
        I::I32Add,
        I::I32Load(mem(16, 0)),
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
        I::I32Load(mem(16, 0)),
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

/// `$match(p, l, q, m) -> i32`: is the runtime's preopen name `p[..l]` the fixture name
/// `q[..m]`, ignoring one leading `/` or `./` and one trailing `/` of `p`?
fn match_body() -> Body {
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

/// Writes `len` bytes at `ptr` (locals) to fd 2, looping over short writes; `n` is a
/// scratch local, `scratch` 8 bytes for the iovec, `nwritten` 4 bytes. On an error or a
/// write of nothing (fd 2 closed or full) it runs `stop` (e.g. `return`, or a branch out of
/// the enclosing loops) from inside an `if` block.
pub(super) fn write_all(
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
pub(super) fn compare_bytes(a: u32, b: u32, n: u32, i: u32) -> [I<'static>; 26] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(steps: &str) -> Scenario {
        let text = format!(
            "id: fd_write/t\nsummary: s\nspec: t\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\nsteps:\n{steps}"
        );
        crate::load::load_str(&text, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()))
    }

    #[test]
    fn modules_validate_with_mvp_features_and_import_only_what_they_call() {
        let s = scenario("  - fd_write: {fd: 1, iovs: [hi]}\n    expect: {errno: success}\n");
        let c = compile(&s).unwrap();
        let wat = to_wat(&c.case.module).unwrap();
        assert!(wat.contains("(export \"_start\""), "{wat}");
        assert!(wat.contains("(export \"memory\""), "{wat}");
        assert!(wat.contains("\"fd_write\""));
        assert!(wat.contains("\"fd_prestat_get\""), "the preopen scan needs it");
        assert!(!wat.contains("\"path_open\""));
        assert!(!wat.contains("(start"), "no start section");
    }

    #[test]
    fn every_function_of_the_table_compiles() {
        // One step per function with the smallest valid arguments.
        for f in wasi_conform_abi::FUNCTIONS {
            let args: Vec<String> = f
                .params
                .iter()
                .map(|p| {
                    let v = match p.ty {
                        ParamType::Fd | ParamType::U32 | ParamType::U64 | ParamType::S64 => "1",
                        ParamType::Enum(_) | ParamType::Flags(_) => "0",
                        ParamType::Str => "a",
                        ParamType::Ciovecs => "[x]",
                        ParamType::Iovecs => "[4]",
                        ParamType::Buffer | ParamType::Region | ParamType::Events => "16",
                        ParamType::Subscriptions => "[{userdata: 1, clock: {id: 0, timeout: 0}}]",
                    };
                    format!("{}: {v}", p.name)
                })
                .collect();
            let expect = if f.returns == Returns::Errno { "\n    expect: {errno: success}" } else { "" };
            let s = scenario(&format!("  - {}: {{{}}}{expect}\n", f.name, args.join(", ")));
            let c = compile(&s).unwrap_or_else(|e| panic!("{}: {e}", f.name));
            assert!(validate(&c.case.module).is_ok());
        }
    }

    #[test]
    fn the_trace_sits_below_all_step_data() {
        let s = scenario("  - fd_read: {fd: 0, iovs: [100, 200]}\n    expect: {errno: success}\n");
        let c = compile(&s).unwrap();
        let l = &c.layout;
        assert!(l.steps_at > TRACE_BASE && l.scan_at < l.steps[0].iovecs[0].0);
        assert_eq!(c.case.capture_len, l.end);
        assert!(l.steps[0].iovecs.iter().all(|(at, n)| at + n <= l.end));
    }
}
