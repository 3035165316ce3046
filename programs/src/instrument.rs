//! Instrumenting a module: every `wasi_snapshot_preview1` import is wrapped by a generated
//! shim ([`crate::shim`]) with the same signature, and every use of the import — calls,
//! exports, element segments, `ref.func`, the start function — now names the shim. The
//! program's own code, data and memory are copied unchanged through wasm-encoder's
//! `reencode`; nothing of the module's behaviour changes except the frames on fd 2.
//!
//! Index space after instrumenting: the original imports, then `fd_write` if the module
//! did not import it, then the original functions, then one shim per preview1 import, then
//! the helpers; globals gain the saved scratch and a sequence counter at the end. The name
//! section is dropped when an import was added (its indices would be off by one).

use wasi_conform_abi::{function, Function, MODULE};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    CodeSection, ConstExpr, EntityType, FunctionSection, GlobalSection, GlobalType, ImportSection, TypeSection, ValType,
};
use wasmparser::{Payload, TypeRef};

use wasi_conform_suite::compile::asm::val as val_of;

use crate::shim::{Indices, HELPERS, SAVED_GLOBALS};

/// Why a module could not be instrumented.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentError {
    #[error("not a wasm module: {0}")]
    Parse(String),
    #[error("the module has no memory 0 to borrow the trace's scratch area from")]
    NoMemory,
    #[error("memory 0 is a 64-bit or shared memory, which the tracer does not handle")]
    UnsupportedMemory,
    #[error("the module imports `{MODULE}::{0}` with a signature the function table does not give it")]
    Signature(String),
    #[error("the module imports `{MODULE}::{0}`, which is not a preview1 function")]
    UnknownFunction(String),
    #[error("rewriting the module failed: {0}")]
    Rewrite(String),
    #[error("the instrumented module does not validate: {0}")]
    Invalid(String),
}

fn parse_err(e: wasmparser::BinaryReaderError) -> InstrumentError {
    InstrumentError::Parse(e.to_string())
}

/// An instrumented module and what was wrapped.
#[derive(Debug, Clone)]
pub struct Instrumented {
    pub wasm: Vec<u8>,
    /// The preview1 functions the module imports, in import order.
    pub wrapped: Vec<&'static Function>,
}

/// What the first pass learns.
#[derive(Default)]
struct Shape {
    types: u32,
    /// Per function import: the preview1 function, if it is one, and its type index.
    func_imports: Vec<(Option<&'static Function>, u32)>,
    globals: u32,
    defined_functions: u32,
    has_memory: bool,
    /// Every defined type is a plain function type (so new types can be numbered).
    func_types: Vec<Option<(Vec<ValType>, Vec<ValType>)>>,
}

fn val(t: wasmparser::ValType) -> Option<ValType> {
    match t {
        wasmparser::ValType::I32 => Some(ValType::I32),
        wasmparser::ValType::I64 => Some(ValType::I64),
        _ => None,
    }
}

fn shape(wasm: &[u8]) -> Result<Shape, InstrumentError> {
    let mut s = Shape::default();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(parse_err)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group.map_err(parse_err)?.into_types() {
                        s.types += 1;
                        s.func_types.push(match &ty.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                let p: Option<Vec<_>> = f.params().iter().map(|t| val(*t)).collect();
                                let r: Option<Vec<_>> = f.results().iter().map(|t| val(*t)).collect();
                                p.zip(r)
                            }
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(parse_err)?;
                    match import.ty {
                        TypeRef::Func(ty) => {
                            let f = if import.module == MODULE {
                                Some(
                                    function(import.name)
                                        .ok_or_else(|| InstrumentError::UnknownFunction(import.name.to_owned()))?,
                                )
                            } else {
                                None
                            };
                            s.func_imports.push((f, ty));
                        }
                        TypeRef::Global(_) => s.globals += 1,
                        TypeRef::Memory(m) => {
                            if s.has_memory {
                                continue;
                            }
                            if m.memory64 || m.shared {
                                return Err(InstrumentError::UnsupportedMemory);
                            }
                            s.has_memory = true;
                        }
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => s.defined_functions = reader.count(),
            Payload::GlobalSection(reader) => {
                s.globals += reader.count();
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.map_err(parse_err)?;
                    if !s.has_memory {
                        if m.memory64 || m.shared {
                            return Err(InstrumentError::UnsupportedMemory);
                        }
                        s.has_memory = true;
                    }
                }
            }
            _ => {}
        }
    }
    if !s.has_memory {
        return Err(InstrumentError::NoMemory);
    }
    for (f, ty) in &s.func_imports {
        let Some(f) = f else { continue };
        let want: (Vec<ValType>, Vec<ValType>) =
            (f.core_params().into_iter().map(val_of).collect(), f.core_results().iter().copied().map(val_of).collect());
        if s.func_types.get(*ty as usize).cloned().flatten() != Some(want) {
            return Err(InstrumentError::Signature(f.name.to_owned()));
        }
    }
    Ok(s)
}

/// The rewriting reencoder.
struct Rewrite {
    /// Old function index → new.
    map: Vec<u32>,
    old_functions: u32,
    /// Types to append, with the index the first gets.
    new_types: Vec<(Vec<ValType>, Vec<ValType>)>,
    /// `fd_write`'s type index, when the import is added.
    add_fd_write: Option<u32>,
    /// Function section entries to append (type indices) and their bodies.
    new_funcs: Vec<u32>,
    new_bodies: Vec<wasm_encoder::Function>,
    /// Globals to append.
    new_globals: u32,
    globals_written: bool,
    drop_names: bool,
}

impl Reencode for Rewrite {
    type Error = InstrumentError;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<InstrumentError>> {
        match self.map.get(func as usize) {
            Some(new) => Ok(*new),
            None => Err(reencode::Error::UserError(InstrumentError::Rewrite(format!(
                "function index {func} out of range ({} functions)",
                self.old_functions
            )))),
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error<InstrumentError>> {
        reencode::utils::parse_type_section(self, types, section)?;
        for (p, r) in &self.new_types {
            types.ty().function(p.clone(), r.clone());
        }
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), reencode::Error<InstrumentError>> {
        reencode::utils::parse_import_section(self, imports, section)?;
        if let Some(ty) = self.add_fd_write {
            imports.import(MODULE, "fd_write", EntityType::Function(ty));
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<InstrumentError>> {
        reencode::utils::parse_function_section(self, functions, section)?;
        for ty in &self.new_funcs {
            functions.function(*ty);
        }
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), reencode::Error<InstrumentError>> {
        reencode::utils::parse_global_section(self, globals, section)?;
        self.append_globals(globals);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<InstrumentError>> {
        reencode::utils::parse_code_section(self, code, section)?;
        for b in &self.new_bodies {
            code.function(b);
        }
        Ok(())
    }

    fn parse_custom_section(
        &mut self,
        module: &mut wasm_encoder::Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error<InstrumentError>> {
        if self.drop_names && section.name() == "name" {
            return Ok(());
        }
        reencode::utils::parse_custom_section(self, module, section)
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<wasm_encoder::SectionId>,
        before: Option<wasm_encoder::SectionId>,
    ) -> Result<(), reencode::Error<InstrumentError>> {
        use wasm_encoder::SectionId as S;
        // A module without globals gets a global section where it belongs.
        let past_globals =
            matches!(before, None | Some(S::Export | S::Start | S::Element | S::DataCount | S::Code | S::Data));
        if !self.globals_written && past_globals {
            let mut globals = GlobalSection::new();
            self.append_globals(&mut globals);
            module.section(&globals);
        }
        Ok(())
    }
}

impl Rewrite {
    fn append_globals(&mut self, globals: &mut GlobalSection) {
        if self.globals_written {
            return;
        }
        for k in 0..self.new_globals {
            let (ty, init) = if k < SAVED_GLOBALS {
                (ValType::I64, ConstExpr::i64_const(0))
            } else {
                (ValType::I32, ConstExpr::i32_const(0))
            };
            globals.global(GlobalType { val_type: ty, mutable: true, shared: false }, &init);
        }
        self.globals_written = true;
    }
}

/// Instruments a module (see the module docs).
pub fn instrument(wasm: &[u8]) -> Result<Instrumented, InstrumentError> {
    let s = shape(wasm)?;
    let nimports = s.func_imports.len() as u32;
    let fd_write_import = s.func_imports.iter().position(|(f, _)| f.is_some_and(|f| f.name == "fd_write"));
    let added = u32::from(fd_write_import.is_none());
    let wrapped: Vec<(u32, &'static Function)> =
        s.func_imports.iter().enumerate().filter_map(|(i, (f, _))| f.map(|f| (i as u32, f))).collect();
    if wrapped.is_empty() {
        // Nothing to trace.
        return Ok(Instrumented { wasm: wasm.to_vec(), wrapped: Vec::new() });
    }
    let first_shim = nimports + added + s.defined_functions;
    let helpers = first_shim + wrapped.len() as u32;

    let mut map: Vec<u32> = (0..nimports).collect();
    for (k, (i, _)) in wrapped.iter().enumerate() {
        map[*i as usize] = first_shim + k as u32;
    }
    map.extend((0..s.defined_functions).map(|j| nimports + added + j));

    // New types: fd_write's (when added), then one per helper.
    let mut new_types: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let fd_write_type = |types: &mut Vec<(Vec<ValType>, Vec<ValType>)>| {
        types.push((vec![ValType::I32; 4], vec![ValType::I32]));
        s.types + types.len() as u32 - 1
    };
    let add_fd_write = (added == 1).then(|| fd_write_type(&mut new_types));
    let helper_types: Vec<u32> = HELPERS
        .iter()
        .map(|(_, p, r)| {
            new_types.push((p.to_vec(), r.to_vec()));
            s.types + new_types.len() as u32 - 1
        })
        .collect();

    let ix = Indices { fd_write: fd_write_import.map(|i| i as u32).unwrap_or(nimports), helpers, globals: s.globals };
    let mut new_funcs: Vec<u32> = wrapped.iter().map(|(i, _)| s.func_imports[*i as usize].1).collect();
    new_funcs.extend(&helper_types);
    let mut new_bodies: Vec<wasm_encoder::Function> = wrapped.iter().map(|(i, f)| ix.shim(f, *i)).collect();
    new_bodies.extend(ix.helper_bodies());

    let mut rw = Rewrite {
        map,
        old_functions: nimports + s.defined_functions,
        new_types,
        add_fd_write,
        new_funcs,
        new_bodies,
        new_globals: SAVED_GLOBALS + 1,
        globals_written: false,
        drop_names: added == 1,
    };
    let mut module = wasm_encoder::Module::new();
    let parser = wasmparser::Parser::new(0);
    rw.parse_core_module(&mut module, parser, wasm).map_err(|e| match e {
        reencode::Error::UserError(e) => e,
        other => InstrumentError::Rewrite(other.to_string()),
    })?;
    let out = module.finish();
    wasmparser::Validator::new().validate_all(&out).map_err(|e| InstrumentError::Invalid(e.to_string()))?;
    Ok(Instrumented { wasm: out, wrapped: wrapped.into_iter().map(|(_, f)| f).collect() })
}
