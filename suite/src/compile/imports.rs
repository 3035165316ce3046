//! The module's function index space, fixed before any code is lowered: the preview1
//! imports in the order the module declares them, then the module's own functions. Every
//! `call` is emitted with its final index; nothing is patched afterwards.

use wasi_conform_abi::{function, Function};

use super::TraceSink;
use crate::scenario::Scenario;

/// The imports of one compiled module and the indices of its own functions.
#[derive(Debug)]
pub(super) struct Functions {
    imports: Vec<&'static Function>,
    sink: TraceSink,
}

/// A preview1 function the module calls for its own machinery.
fn preview1(name: &str) -> &'static Function {
    function(name).unwrap_or_else(|| panic!("{name} is in the function table"))
}

impl Functions {
    /// The scan's two functions, what the sink needs to write (`fd_write`, and `proc_exit`
    /// for a self-checking module), then every step's function in order of first use.
    pub(super) fn new(s: &Scenario, sink: TraceSink) -> Self {
        let mut machinery = vec![preview1("fd_prestat_get"), preview1("fd_prestat_dir_name")];
        match sink {
            TraceSink::Memory => {}
            TraceSink::Stderr => machinery.push(preview1("fd_write")),
            TraceSink::SelfCheck => machinery.extend([preview1("fd_write"), preview1("proc_exit")]),
        }
        let mut imports: Vec<&'static Function> = Vec::new();
        for f in machinery.into_iter().chain(s.steps.iter().map(|step| step.function)) {
            if !imports.iter().any(|g| g.index == f.index) {
                imports.push(f);
            }
        }
        Functions { imports, sink }
    }

    /// The imported functions, in index order.
    pub(super) fn imports(&self) -> &[&'static Function] {
        &self.imports
    }

    /// The index of an imported function.
    pub(super) fn import(&self, f: &Function) -> u32 {
        let at = self.imports.iter().position(|g| g.index == f.index);
        at.unwrap_or_else(|| panic!("{} was declared by Functions::new", f.name)) as u32
    }

    /// The index of an imported function, by name.
    pub(super) fn import_named(&self, name: &str) -> u32 {
        self.import(preview1(name))
    }

    /// `$match_preopen_name`.
    pub(super) fn match_preopen_name(&self) -> u32 {
        self.imports.len() as u32
    }

    /// `_start`.
    pub(super) fn start(&self) -> u32 {
        self.imports.len() as u32 + 1
    }

    /// `$write_frame`, in the [`TraceSink::Stderr`] variant.
    pub(super) fn write_frame(&self) -> Option<u32> {
        (self.sink == TraceSink::Stderr).then(|| self.imports.len() as u32 + 2)
    }

    /// `$self_check_failed`, in the [`TraceSink::SelfCheck`] variant.
    pub(super) fn self_check_failed(&self) -> Option<u32> {
        (self.sink == TraceSink::SelfCheck).then(|| self.imports.len() as u32 + 2)
    }

    /// `$memeq`, in the [`TraceSink::SelfCheck`] variant.
    pub(super) fn memeq(&self) -> Option<u32> {
        (self.sink == TraceSink::SelfCheck).then(|| self.imports.len() as u32 + 3)
    }
}
