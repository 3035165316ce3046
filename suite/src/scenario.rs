//! The scenario model: what one YAML file under `suite/scenarios/` says, as Rust types.
//!
//! [`crate::load`] builds these from YAML (strictly, with located errors);
//! [`crate::compile`] turns a [`Scenario`] into a wasm module; [`crate::verdict`] checks a
//! runtime's outcome against its expectations. `suite/README.yaml` teaches the format.

use std::collections::BTreeMap;
use std::path::PathBuf;

use wasi_conform_abi::{Errno, Function};

/// One behaviour of preview1, with its fixture, its calls and what must come of them.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `<function>/<file stem>`, unique in a suite.
    pub id: String,
    /// The function the scenario is filed under (its directory).
    pub function: &'static Function,
    /// One line a reader understands in ten seconds.
    pub summary: String,
    /// The spec text, witx line or issue the expectation rests on.
    pub spec: String,
    /// How firmly the spec states it.
    pub strength: Strength,
    pub fixture: Fixture,
    pub steps: Vec<Step>,
    /// How the program must end.
    pub end: End,
    /// Exact stdout, when checked.
    pub stdout: Option<Vec<u8>>,
    /// Exact stderr, when checked.
    pub stderr: Option<Vec<u8>>,
    /// Exact final tree per preopen (by guest name), when checked.
    pub tree: Option<BTreeMap<String, Tree>>,
    /// The file it was loaded from.
    pub source: PathBuf,
}

/// How firmly the spec states a behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// The witx/spec text states it normatively.
    Must,
    /// The spec recommends it, or it follows from POSIX where the spec defers to it.
    Should,
    /// The spec is silent; runtimes (and wasi-testsuite) agree on it in practice.
    DeFacto,
}

impl Strength {
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Must => "must",
            Strength::Should => "should",
            Strength::DeFacto => "de-facto",
        }
    }
}

/// Everything the guest starts with.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    /// Preopened directories, in the order the runtime is asked to open them.
    pub preopens: Vec<Preopen>,
    /// The whole argv, argv\[0\] included.
    pub args: Vec<String>,
    /// The whole guest environment, `KEY=VALUE` strings in order.
    pub env: Vec<String>,
    /// Bytes on stdin.
    pub stdin: Vec<u8>,
}

/// A preopened directory.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The name the guest sees (`fd_prestat_dir_name`), e.g. `/sandbox`.
    pub name: String,
    /// The binding steps use for its fd: the name without leading `/` or `./`.
    pub binding: String,
    /// Initial contents.
    pub tree: Tree,
}

/// A file tree: relative paths (`a`, `dir/b`) to nodes. Parents are implied.
pub type Tree = BTreeMap<String, Node>;

/// One entry of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory (needed only for empty ones; parents are implied).
    Dir,
    /// A regular file with these bytes.
    File(Vec<u8>),
    /// A symbolic link with this target (any string: relative, absolute, dangling, escaping).
    Symlink(String),
    /// A hard link to another file of the same tree (fixtures only).
    Hardlink(String),
}

/// One preview1 call.
#[derive(Debug, Clone)]
pub struct Step {
    pub function: &'static Function,
    /// One argument per entry of `function.params`, in order.
    pub args: Vec<Arg>,
    /// Raw out-pointer overrides, by result index.
    pub out_ptrs: Vec<Option<u32>>,
    /// Values this step binds for later steps and checks (`$name`).
    pub bind: Vec<Bind>,
    pub expect: StepExpect,
    /// 1-based line of the step in its file.
    pub line: usize,
}

/// A value a step binds: `bind: f` (the first result) or `bind: {ino_a: filestat.ino,
/// c: entries.2.next}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub name: String,
    pub source: BindSource,
}

/// Where a bound value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindSource {
    /// A result (by index in the function's results), or one field of a record result.
    Result { result: usize, field: Option<&'static str> },
    /// A field (`next` or `ino`) of the `index`-th complete `dirent` in `fd_readdir`'s buffer.
    Entry { index: u32, field: &'static str },
}

/// An integer argument, literal or taken at run time from an earlier step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// The exact bit pattern passed (two's complement for `s64`).
    Value(u64),
    /// `$name`: a preopen's fd or an earlier step's bound result.
    Binding(String),
}

/// Bytes placed in guest memory, or a raw (ptr, len) pair passed as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Bytes(Vec<u8>),
    Raw { ptr: u32, len: u32 },
}

/// An argument, shaped by its parameter's [`wasi_conform_abi::ParamType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `Fd`, `U32`, `U64`, `S64`, `Enum`, `Flags`.
    Scalar(Scalar),
    /// `Str`.
    Str(Data),
    /// `Ciovecs`: one ciovec per element.
    Ciovecs(Vec<Vec<u8>>),
    /// `Iovecs`: one buffer of each size.
    Iovecs(Vec<u32>),
    /// `Buffer`: a zeroed buffer of `size` bytes passed with length `len`.
    Buffer { size: u32, len: u32 },
    /// `Region`: a zeroed area of this many bytes.
    Region(u32),
    /// `Subscriptions`.
    Subscriptions(Vec<Subscription>),
    /// `Events`: room for this many events.
    Events(u32),
    /// Any pointer-carrying parameter passed raw: `ptr` (and `len`/count where the
    /// parameter has one).
    Raw { ptr: u32, len: u32 },
}

/// One `poll_oneoff` subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub userdata: u64,
    pub kind: SubscriptionKind,
}

/// The `subscription_u` union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionKind {
    Clock {
        id: u64,
        timeout: u64,
        precision: u64,
        flags: u64,
    },
    FdRead(Scalar),
    FdWrite(Scalar),
    /// A raw tag with an all-zero payload (for invalid tags).
    Tag(u8),
}

/// What one step must produce.
#[derive(Debug, Clone, Default)]
pub struct StepExpect {
    /// Required for every function that returns an errno.
    pub errno: Option<ErrnoExpect>,
    /// Checks of success values, by result name.
    pub results: Vec<(String, ValueCheck)>,
    /// Checks of derived views (bytes read, directory entries, …), by view name.
    pub views: Vec<(String, ViewCheck)>,
}

/// One errno, or a set the spec leaves open with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrnoExpect {
    One(Errno),
    OneOf { set: Vec<Errno>, because: String },
}

impl ErrnoExpect {
    pub fn allows(&self, e: Errno) -> bool {
        match self {
            ErrnoExpect::One(x) => *x == e,
            ErrnoExpect::OneOf { set, .. } => set.contains(&e),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ErrnoExpect::One(x) => x.name().to_owned(),
            ErrnoExpect::OneOf { set, .. } => {
                let names: Vec<&str> = set.iter().map(|e| e.name()).collect();
                format!("one of {}", names.join(", "))
            }
        }
    }
}

/// A check of one integer value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueCheck {
    Exact(u64),
    Range {
        min: Option<Bound>,
        max: Option<Bound>,
    },
    /// Equal to a binding's value at the end of the run.
    SameAs(String),
    /// Checks of named fields of a record result (`fdstat`, `filestat`, `prestat`).
    Fields(Vec<(String, ValueCheck)>),
    /// One of several values (filetype sets, e.g. stdio).
    OneOf {
        set: Vec<u64>,
        because: String,
    },
    /// Flags: these bits must be set / clear.
    Bits {
        set: u64,
        clear: u64,
    },
}

/// A bound of a range: a literal or a binding's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Value(u64),
    Binding(String),
}

/// A check of a derived view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewCheck {
    /// Exact bytes.
    Bytes(Vec<u8>),
    /// Exact list of strings (`args_get`, `environ_get`).
    Strings(Vec<Vec<u8>>),
    /// Directory entries as a set: name → filetype value (`fd_readdir`).
    Entries(BTreeMap<Vec<u8>, u64>),
    /// poll_oneoff events, by userdata: (error, type).
    Events(BTreeMap<u64, (Errno, u64)>),
    /// Not every byte is zero (`random_get`).
    NotAllZero,
}

/// How the program ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// `_start` returns (exit 0) or `proc_exit` is called with one of these codes.
    Exit(ExitExpect),
    /// The instance traps.
    Trap,
}

/// Allowed exit codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitExpect {
    One(u32),
    OneOf { set: Vec<u32>, because: String },
}

impl Default for End {
    fn default() -> Self {
        End::Exit(ExitExpect::One(0))
    }
}
