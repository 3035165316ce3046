//! The modules wasm-smith is given as `available_imports` and `exports`, built with
//! wasm-encoder from the one function table (`wasi_conform_abi::FUNCTIONS`).
//!
//! Imports: every preview1 function under its real name and signature, and for each one a
//! *shim* `wasi_conform_shim.<name>` taking one `i32` (and returning the `i32` errno, or
//! nothing for `proc_exit`). wasm-smith only emits `call $f` when the operand stack already
//! holds `$f`'s parameters, so a seven-parameter `path_open` is practically never called;
//! a one-`i32` shim is called about as often as `fd_close`. [`super::rewrite`] turns every
//! shim call into a real call with arguments from [`super::alphabet`].
//!
//! Exports: `memory` (1 to [`MAX_PAGES`] pages: a maximum, so that `memory.grow` answers
//! the same on every runtime) and [`ENTRIES`] entry functions, which the rewriter calls
//! from the `_start` it adds.

use wasi_conform_abi::{CoreType, Function, Returns, FUNCTIONS, MODULE};
use wasm_encoder::{
    CodeSection, EntityType, ExportKind, ExportSection, FunctionSection, ImportSection, Instruction, MemorySection,
    MemoryType, Module, TypeSection, ValType,
};

use super::layout::MAX_PAGES;
use super::CallAid;

/// Import module name of the shims.
pub const SHIM_MODULE: &str = "wasi_conform_shim";

/// The wasm value type of a core type.
pub fn val_type(t: CoreType) -> ValType {
    match t {
        CoreType::I32 => ValType::I32,
        CoreType::I64 => ValType::I64,
    }
}

/// Adds `f`'s core signature to a type section.
pub fn add_signature(types: &mut TypeSection, f: &Function) {
    types.ty().function(f.core_params().into_iter().map(val_type), f.core_results().iter().copied().map(val_type));
}

/// Parameters and results of `f`'s shim.
pub fn shim_signature(f: &Function) -> (Vec<ValType>, Vec<ValType>) {
    let results = match f.returns {
        Returns::Errno => vec![ValType::I32],
        Returns::Never => vec![],
    };
    (vec![ValType::I32], results)
}

/// The `available_imports` module: (unless [`CallAid::Plain`]) the 46 shims, then the 46
/// real imports.
pub fn available_imports(aid: CallAid) -> Vec<u8> {
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    // Shims first: wasm-smith keeps imports in this order and stops at `max_funcs`.
    let mut ty = 0;
    for f in FUNCTIONS.iter().filter(|_| aid != CallAid::Plain) {
        let (params, results) = shim_signature(f);
        types.ty().function(params, results);
        imports.import(SHIM_MODULE, f.name, EntityType::Function(ty));
        ty += 1;
    }
    for f in FUNCTIONS {
        add_signature(&mut types, f);
        imports.import(MODULE, f.name, EntityType::Function(ty));
        ty += 1;
    }
    let mut module = Module::new();
    module.section(&types).section(&imports);
    module.finish()
}

/// Number of entry functions wasm-smith generates; `_start` calls them in turn.
pub const ENTRIES: u32 = 4;

/// Export names of the entry functions: this prefix and a number.
pub const ENTRY_PREFIX: &str = "entry";

/// Export name of entry function `i`.
pub fn entry_name(i: u32) -> String {
    format!("{ENTRY_PREFIX}{i}")
}

/// The `exports` module: `memory` and [`ENTRIES`] functions `entry<i>: [] -> []`.
///
/// wasm-smith's bodies often leave early (a `br` out of the function is as likely as any
/// instruction), so one entry point reaches few calls; [`super::rewrite`] replaces these
/// exports by a `_start` that calls every entry in order (a trap or `proc_exit` still ends
/// the run).
pub fn required_exports() -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut body = wasm_encoder::Function::new([]);
    body.instruction(&Instruction::End);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(MAX_PAGES),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    for i in 0..ENTRIES {
        funcs.function(0);
        code.function(&body);
        exports.export(&entry_name(i), ExportKind::Func, i);
    }
    let mut module = Module::new();
    module.section(&types).section(&funcs).section(&memories).section(&exports).section(&code);
    module.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modules_validate() {
        wasmparser::Validator::new().validate_all(&available_imports(CallAid::Shims)).unwrap();
        wasmparser::Validator::new().validate_all(&required_exports()).unwrap();
    }
}
