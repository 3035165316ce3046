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
//! The trace lives in guest memory at [`crate::trace::TRACE_BASE`], below every buffer a
//! step uses, and the adapter returns `[0, capture_len)` after the run — whether `_start`
//! returned, called `proc_exit`, or trapped. Nothing of it goes through fd 1 or 2, so a
//! scenario may write anything to stdout, close it or renumber over it without touching the
//! trace. A magic word guards against steps that scribble over it through raw pointers.
//! Outputs stay where the host wrote them (each step has its own areas), and out-pointer
//! areas are pre-filled with `0xff` so a binding from a failed call is an invalid fd. The
//! format is [`crate::trace`]'s; where each part sits is the run's [`Layout`].
//!
//! # How it is built
//! [`imports`] fixes the function index space first (so every `call` is emitted final),
//! [`memory_map`] allocates the trace and every step's areas, [`scan`] emits the preopen
//! scan, [`lower`] each step, [`frame`] the stderr frames of [`TraceSink::Stderr`],
//! [`dirent`] the directory-entry walks behind `fd_readdir` bindings, [`self_check`] the
//! checks of [`TraceSink::SelfCheck`]; [`module`] puts the sections together; [`asm`] holds
//! the small instruction sequences they share.

pub mod asm;
mod dirent;
mod frame;
mod imports;
mod lower;
pub mod memory_map;
mod module;
pub mod scan;
pub mod self_check;

use std::sync::Arc;

pub use memory_map::{Layout, StepLayout};
pub use self_check::{compile_self_checking, SelfCheckError, SELF_CHECK_EXIT};
pub use wasi_conform_case::frames::{FRAME_END, FRAME_MAGIC, SEGMENT_MAGIC};

use crate::case::{Limits, TestCase};
use crate::scenario::Scenario;
use frame::Frame;
use imports::Functions;
use memory_map::MemoryMap;

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

/// The state of one compilation; each submodule adds the methods of its part.
struct Compiler {
    layout: Layout,
    memory: MemoryMap,
    functions: Functions,
    sink: TraceSink,
    /// The stderr frame's areas (allocated in every variant, so both share one layout).
    frame: Frame,
    /// Where the first step's data starts: a frame's first segment is `[0, frame_prefix)`.
    frame_prefix: u32,
    /// [`TraceSink::SelfCheck`] only: what the checks need (see [`self_check`]).
    check: Option<self_check::CheckState>,
}

impl Compiler {
    fn new(s: &Scenario, sink: TraceSink) -> Self {
        let (mut memory, mut layout) = MemoryMap::new(s.steps.len() as u32, s.fixture.preopens.len() as u32);
        for (i, p) in s.fixture.preopens.iter().enumerate() {
            layout.bindings.insert(p.binding.clone(), (layout.slot(i as u32), crate::trace::SLOT));
        }
        let frame = Frame::alloc(&mut memory);
        Compiler { layout, memory, functions: Functions::new(s, sink), sink, frame, frame_prefix: 0, check: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TRACE_BASE;
    use std::path::Path;
    use wasi_conform_abi::{ParamType, Returns};

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
