//! Programs as data: a generated program runs on the in-process runtimes without a compile
//! per program.
//!
//! Each generated program compiled to its own module costs one Cranelift (or Singlepass)
//! compile per runtime, which is most of a fuzzing iteration. Instead, every runtime that
//! can write guest memory before `_start` ([`Runtime::takes_preload`]) runs one
//! [`interpreter`] module, compiled once per process, and the program is
//! [preloaded](wasi_conform_case::preload) into its memory as data: the compiled module's
//! own data segments at their own addresses, and the calls it would make as commands
//! ([`decompile`]). Command-line runtimes, which cannot be given memory, keep the compiled
//! module; so do minimised scenarios, which are scenarios like any other.
//!
//! The two forms are the same program: the data is read back from the compiled module,
//! and `differential/tests/as_data.rs` runs seeded programs both ways on every in-process
//! runtime and requires the same observation, step by step.
//!
//! [`Runtime::takes_preload`]: wasi_conform_runners::Runtime::takes_preload

pub mod decompile;
pub mod interpreter;

use wasi_conform_case::preload::Preload;
use wasi_conform_suite::case::TestCase;
use wasi_conform_suite::compile::Compiled;

use decompile::{Operand, Step, Unsupported};
use interpreter::{Command, CMD_BASE, COMMAND_HEAD, HEADER_LEN, MEMORY_BYTES, NO_ERRNO, OPERAND};

/// The id every interpreted run has: the compile caches key modules by id and bytes, so
/// the interpreter is compiled once per runtime.
pub const INTERPRETER_ID: &str = "fuzz/program-interpreter";

/// A compiled program in its data form: the interpreter's case and what to preload.
#[derive(Debug, Clone)]
pub struct DataCase {
    /// The case with the interpreter that imports every function.
    pub case: TestCase,
    pub preload: Preload,
    /// The functions the program calls (besides the preopen scan's).
    pub calls: Vec<&'static str>,
}

impl DataCase {
    /// The case for a runtime that lacks the `missing` functions
    /// ([`Runtime::missing_imports`]): the interpreter without them, or `None` when the
    /// program calls one (it then runs compiled, and fails to instantiate as it should).
    ///
    /// [`Runtime::missing_imports`]: wasi_conform_runners::Runtime::missing_imports
    pub fn case_for(&self, missing: &[&'static str]) -> Option<TestCase> {
        if missing.is_empty() {
            return Some(self.case.clone());
        }
        if self.calls.iter().any(|c| missing.contains(c)) {
            return None;
        }
        let module = interpreter::module_without(missing);
        Some(TestCase { module: module.clone(), module_stderr_trace: module, ..self.case.clone() })
    }
}

/// Why a program keeps its compiled form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAsData {
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    #[error("the program's data ends at {0}, above the interpreter's commands")]
    TooLarge(u64),
}

/// The data form of a compiled program.
pub fn prepare(compiled: &Compiled) -> Result<DataCase, NotAsData> {
    let d = decompile::decompile(&compiled.case.module)?;
    let data_end = d.image.iter().map(|(at, b)| *at as u64 + b.len() as u64).max().unwrap_or(0);
    let l = &compiled.layout;
    if data_end.max(l.end as u64) > CMD_BASE as u64 {
        return Err(NotAsData::TooLarge(data_end.max(l.end as u64)));
    }
    let case = &compiled.case;
    // The names the scan looks for: what the compiler matches (the guest name without a
    // leading `/` or `./`), stored after the header.
    let names: Vec<Vec<u8>> = case
        .fixture
        .preopens
        .iter()
        .map(|p| p.name.trim_start_matches("./").trim_start_matches('/').as_bytes().to_vec())
        .collect();
    let npre = names.len() as u32;
    let names_at = CMD_BASE + HEADER_LEN + 8 * npre;
    let first = (names_at + names.iter().map(|n| n.len() as u32).sum::<u32>() + 7) & !7;
    let mut cmds = Vec::new();
    let w32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    let operand = |v: &mut Vec<u8>, o: &Operand| match o {
        Operand::Const(x) => {
            v.extend_from_slice(&[0u8; 8]);
            v.extend_from_slice(&x.to_le_bytes());
        }
        Operand::Load { addr, width } => {
            w32(v, 1);
            w32(v, *width);
            v.extend_from_slice(&(*addr as u64).to_le_bytes());
        }
    };
    for s in &d.steps {
        match s {
            Step::Store32 { addr, value } => {
                w32(&mut cmds, Command::Store32 as u32);
                w32(&mut cmds, COMMAND_HEAD + OPERAND);
                w32(&mut cmds, *addr);
                w32(&mut cmds, 0);
                operand(&mut cmds, value);
            }
            Step::Call { function, args, errno_at } => {
                w32(&mut cmds, Command::Call as u32);
                w32(&mut cmds, COMMAND_HEAD + OPERAND * args.len() as u32);
                w32(&mut cmds, function.index as u32);
                w32(&mut cmds, errno_at.unwrap_or(NO_ERRNO));
                for a in args {
                    operand(&mut cmds, a);
                }
            }
        }
    }
    w32(&mut cmds, Command::End as u32);
    let mut header = Vec::new();
    for x in [npre, l.scan_at, l.scratch_at, l.slots_at, first] {
        w32(&mut header, x);
    }
    let mut at = names_at;
    for n in &names {
        w32(&mut header, at);
        w32(&mut header, n.len() as u32);
        at += n.len() as u32;
    }
    for n in &names {
        header.extend_from_slice(n);
    }
    header.resize((first - CMD_BASE) as usize, 0);
    header.extend(cmds);
    let end = CMD_BASE as u64 + header.len() as u64;
    if end > MEMORY_BYTES {
        return Err(NotAsData::TooLarge(end));
    }
    let mut calls: Vec<&'static str> = Vec::new();
    for s in &d.steps {
        if let Step::Call { function, .. } = s {
            if !calls.contains(&function.name) {
                calls.push(function.name);
            }
        }
    }
    let mut segments = d.image;
    segments.push((CMD_BASE, header));
    let module = interpreter::module();
    Ok(DataCase {
        case: TestCase {
            id: INTERPRETER_ID.to_owned(),
            module: module.clone(),
            module_stderr_trace: module,
            fixture: case.fixture.clone(),
            capture_len: case.capture_len,
            limits: case.limits,
        },
        preload: Preload { segments },
        calls,
    })
}
