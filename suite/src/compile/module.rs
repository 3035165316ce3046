//! Putting the module together: the steps are lowered first (they decide the data layout),
//! then the type, import, function, memory, export, code, data and name sections are
//! written, with the function indices [`Functions`](super::imports::Functions) fixed
//! before any code was emitted.

use wasi_conform_abi::MODULE;
use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function as Body, FunctionSection,
    ImportSection, Instruction as I, MemorySection, MemoryType, Module, TypeSection, ValType,
};

use super::asm::val;
use super::scan::match_body;
use super::{self_check, CompileError, Compiler, TraceSink};
use crate::scenario::Scenario;

/// The function types of a module, deduplicated in order of first use.
#[derive(Default)]
struct Types {
    section: TypeSection,
    seen: Vec<(Vec<ValType>, Vec<ValType>)>,
}

impl Types {
    fn of(&mut self, params: Vec<ValType>, results: Vec<ValType>) -> u32 {
        if let Some(i) = self.seen.iter().position(|(p, r)| *p == params && *r == results) {
            return i as u32;
        }
        self.section.ty().function(params.clone(), results.clone());
        self.seen.push((params, results));
        (self.seen.len() - 1) as u32
    }
}

impl Compiler {
    pub(super) fn module(&mut self, s: &Scenario) -> Result<Vec<u8>, CompileError> {
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
                (self.memory.put(name.into_bytes()), len)
            })
            .collect();
        if self.sink == TraceSink::SelfCheck {
            self.self_check_prepare(s);
        }

        // Steps first: they decide the data layout.
        self.frame_prefix = self.memory.end().ok_or_else(|| CompileError::TooLarge { id: s.id.clone() })?;
        let mut steps_code: Vec<I<'static>> = Vec::new();
        for (k, step) in s.steps.iter().enumerate() {
            self.step(k as u32, step, &mut steps_code);
        }
        self.layout.end = self.memory.end().ok_or_else(|| CompileError::TooLarge { id: s.id.clone() })?;
        self.frame.data(self.frame_prefix, &mut self.memory);

        let f = &self.functions;
        let mut types = Types::default();
        let mut imports = ImportSection::new();
        for g in f.imports() {
            let params: Vec<ValType> = g.core_params().into_iter().map(val).collect();
            let results: Vec<ValType> = g.core_results().iter().copied().map(val).collect();
            let t = types.of(params, results);
            imports.import(MODULE, g.name, EntityType::Function(t));
        }
        let match_ty = types.of(vec![ValType::I32; 4], vec![ValType::I32]);
        let start_ty = types.of(vec![], vec![]);

        let mut funcs = FunctionSection::new();
        funcs.function(match_ty);
        funcs.function(start_ty);
        if f.write_frame().is_some() {
            funcs.function(start_ty);
        }
        if self.check.is_some() {
            funcs.function(types.of(self_check::FAIL_PARAMS.to_vec(), vec![]));
            funcs.function(types.of(vec![ValType::I32; 3], vec![ValType::I32]));
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
        exports.export("_start", ExportKind::Func, f.start());

        let mut code = CodeSection::new();
        code.function(&match_body());
        code.function(&self.start_body(&want, steps_code));
        if f.write_frame().is_some() {
            code.function(&self.frame.write_frame_body(f.import_named("fd_write")));
        }
        if let Some(c) = &self.check {
            code.function(&c.fail_body());
            code.function(&self_check::memeq_body());
        }

        let mut data = DataSection::new();
        for (at, bytes) in &self.memory.data {
            data.active(0, &ConstExpr::i32_const(*at as i32), bytes.iter().copied());
        }

        let mut m = Module::new();
        m.section(&types.section)
            .section(&imports)
            .section(&funcs)
            .section(&memories)
            .section(&exports)
            .section(&code)
            .section(&data);
        m.section(&self.names());
        Ok(m.finish())
    }

    /// `_start`: the scan, the self-check's preopen check, the steps.
    fn start_body(&self, want: &[(u32, u32)], steps: Vec<I<'static>>) -> Body {
        // locals: 0 fd, 1 count, 2 entry, 3 len (the scan), 4 scratch i64, 5 the dirent
        // walk, 6 the self-check's value
        let mut locals = vec![(4, ValType::I32), (1, ValType::I64), (1, ValType::I32)];
        if self.check.is_some() {
            locals.push((1, ValType::I64));
        }
        let mut b = Body::new(locals);
        let mut ins = self.scan(want);
        if let (Some(c), Some(fail)) = (&self.check, self.functions.self_check_failed()) {
            ins.extend(c.preopens_found(self.layout.slots_at, fail));
        }
        for i in ins.iter().chain(steps.iter()) {
            b.instruction(i);
        }
        b.instruction(&I::End);
        b
    }

    /// Function names, so that `wasi-conform show --wat` reads `call $fd_close`.
    fn names(&self) -> wasm_encoder::NameSection {
        let f = &self.functions;
        let mut fn_names = wasm_encoder::NameMap::new();
        for (i, g) in f.imports().iter().enumerate() {
            fn_names.append(i as u32, g.name);
        }
        fn_names.append(f.match_preopen_name(), "match_preopen_name");
        fn_names.append(f.start(), "_start");
        if let Some(i) = f.write_frame() {
            fn_names.append(i, "write_frame");
        }
        if let (Some(fail), Some(memeq)) = (f.self_check_failed(), f.memeq()) {
            fn_names.append(fail, "self_check_failed");
            fn_names.append(memeq, "memeq");
        }
        let mut names = wasm_encoder::NameSection::new();
        names.functions(&fn_names);
        names
    }
}
