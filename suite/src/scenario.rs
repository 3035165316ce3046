//! The scenario model: what one YAML file under `suite/scenarios/` says, as Rust types.
//!
//! [`crate::load`] builds these from YAML (strictly, with located errors);
//! [`crate::compile`] turns a [`Scenario`] into a wasm module; [`crate::verdict`] checks a
//! runtime's outcome against its expectations. `suite/README.yaml` teaches the format.

use std::collections::BTreeMap;
use std::path::PathBuf;

use wasi_conform_abi::{Errno, Function};
pub use wasi_conform_case::fixture::{Fixture, Node, Preopen, Tree};

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
    /// For [`Strength::Choice`]: the reference's pick and why (required there, refused
    /// elsewhere).
    pub choice: Option<String>,
    /// Capabilities the runtime must have for the scenario to apply; probed at run time by
    /// the steps marked [`Step::probe`], which the loader puts first.
    pub require: Vec<Capability>,
    /// The scenario's own time budget (`budget: 3s`), when it states one; otherwise
    /// [`crate::case::DEFAULT_BUDGET`].
    pub budget: Option<std::time::Duration>,
    pub fixture: Fixture,
    pub steps: Vec<Step>,
    /// How the program must end.
    pub end: End,
    /// Exact stdout, when checked.
    pub stdout: Option<Vec<u8>>,
    /// Exact stderr, when checked.
    pub stderr: Option<Vec<u8>>,
    /// Exact final tree per preopen (by guest name), when checked.
    pub tree: Option<TreeExpect>,
    /// The file it was loaded from.
    pub source: PathBuf,
}

/// How firmly the spec states a behaviour (defined in `suite/README.yaml`, enforced by
/// `suite/tests/strength.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// Witx or witx-docs text decides the value, and `spec:` quotes that sentence.
    Must,
    /// POSIX/Linux where the witx defers to it, or the errno set the official
    /// wasi-testsuite asserts; where POSIX and Linux disagree, both are accepted.
    Should,
    /// Every implementation that has the feature agrees, or wasi-testsuite asserts it.
    DeFacto,
    /// The spec is silent and runtimes disagree: the reference's pick, stated with its
    /// reason. Reported as agreement with the reference, never as conformance.
    Choice,
}

impl Strength {
    pub const ALL: [Strength; 4] = [Strength::Must, Strength::Should, Strength::DeFacto, Strength::Choice];

    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Must => "must",
            Strength::Should => "should",
            Strength::DeFacto => "de-facto",
            Strength::Choice => "choice",
        }
    }

    /// Whether a failure is a conformance failure (`choice` is agreement, not conformance).
    pub fn counts_for_conformance(self) -> bool {
        match self {
            Strength::Must | Strength::Should | Strength::DeFacto => true,
            Strength::Choice => false,
        }
    }
}

/// A capability a scenario may `require:`, probed at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// A rights model: `fd_fdstat_set_rights` of a preopen's own rights does not answer
    /// `notsup` (the probe wasi-testsuite's `supports_rights` makes).
    Rights,
}

impl Capability {
    pub const ALL: [Capability; 1] = [Capability::Rights];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Rights => "rights",
        }
    }

    pub fn from_name(n: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == n)
    }

    /// What a runtime lacking it does, for the `not-applicable` verdict.
    pub fn missing(self) -> &'static str {
        match self {
            Capability::Rights => "no rights model: fd_fdstat_set_rights answers notsup",
        }
    }
}

/// The expected final trees: one set, or alternatives the spec leaves open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeExpect {
    One(BTreeMap<String, Tree>),
    OneOf { alternatives: Vec<BTreeMap<String, Tree>>, because: String },
}

impl TreeExpect {
    /// Every acceptable set of trees.
    pub fn alternatives(&self) -> &[BTreeMap<String, Tree>] {
        match self {
            TreeExpect::One(t) => std::slice::from_ref(t),
            TreeExpect::OneOf { alternatives, .. } => alternatives,
        }
    }
}

/// One preview1 call.
#[derive(Debug, Clone)]
pub struct Step {
    pub function: &'static Function,
    /// One argument per entry of `function.params`, in order.
    pub args: Vec<Arg>,
    /// The parameters whose argument the scenario leaves to the loader's default (flags 0,
    /// `cookie` 0, …; the value is in `args` all the same): [`crate::save`] leaves them out
    /// again when it writes the scenario for people to read.
    pub defaulted: Vec<&'static str>,
    /// Raw out-pointer overrides, by result index.
    pub out_ptrs: Vec<Option<u32>>,
    /// Values this step binds for later steps and checks (`$name`).
    pub bind: Vec<Bind>,
    pub expect: StepExpect,
    /// Set on the steps the loader adds to probe a `require:`d capability; they come
    /// first, have no errno expectation, and are not numbered among the scenario's steps.
    pub probe: Option<Capability>,
    /// 1-based line of the step in its file.
    pub line: usize,
}

impl Step {
    /// The bindings its arguments pass (`$name`, `{of: $name, …}`, a subscription's fd).
    pub fn bindings_in_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.args {
            match a {
                Arg::Scalar(Scalar::Binding(b) | Scalar::Masked { binding: b, .. }) => out.push(b.clone()),
                Arg::Subscriptions(subs) => {
                    for s in subs {
                        if let SubscriptionKind::FdRead(Scalar::Binding(b))
                        | SubscriptionKind::FdWrite(Scalar::Binding(b)) = &s.kind
                        {
                            out.push(b.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The bindings its result checks compare with.
    pub fn bindings_in_checks(&self) -> Vec<String> {
        fn used(c: &ValueCheck) -> Vec<String> {
            match c {
                ValueCheck::SameAs(b) => vec![b.clone()],
                ValueCheck::Range { min, max } => [min, max]
                    .into_iter()
                    .flatten()
                    .filter_map(|b| match b {
                        Bound::Binding(n) => Some(n.clone()),
                        Bound::Value(_) => None,
                    })
                    .collect(),
                ValueCheck::Fields(f) => f.iter().flat_map(|(_, c)| used(c)).collect(),
                _ => Vec::new(),
            }
        }
        self.expect.results.iter().flat_map(|(_, c)| used(c)).collect()
    }
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
    Entry { index: EntryIndex, field: &'static str },
}

/// Which complete `dirent` of an `fd_readdir` buffer a binding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryIndex {
    /// The N-th (0-based).
    Nth(u32),
    /// The last complete one (`entries.last.next`: where a listing that fit resumes,
    /// whatever entries a runtime lists before it).
    Last,
}

impl std::fmt::Display for EntryIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryIndex::Nth(n) => write!(f, "{n}"),
            EntryIndex::Last => f.write_str("last"),
        }
    }
}

/// An integer argument, literal or taken at run time from an earlier step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// The exact bit pattern passed (two's complement for `s64`).
    Value(u64),
    /// `$name`: a preopen's fd or an earlier step's bound result.
    Binding(String),
    /// `{of: $name, and: mask}`: a bound value with only the bits of `mask` kept — the
    /// rights wasi-libc asks for, computed from a directory's `fs_rights_inheriting`.
    Masked { binding: String, mask: u64 },
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

/// One errno, or a set the spec leaves open with the reason; the set may also accept a
/// trap of the call (`one-of: [inval, trap]`), or any error at all (`one-of: [badf,
/// any-error]`: the first names are the preferred answers, any errno but success passes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrnoExpect {
    One(Errno),
    OneOf { set: Vec<Errno>, trap: bool, any_error: bool, because: String },
}

impl ErrnoExpect {
    pub fn allows(&self, e: Errno) -> bool {
        match self {
            ErrnoExpect::One(x) => *x == e,
            ErrnoExpect::OneOf { set, any_error, .. } => set.contains(&e) || (*any_error && e != Errno::Success),
        }
    }

    /// Whether every errno but success is accepted.
    pub fn allows_any_error(&self) -> bool {
        match self {
            ErrnoExpect::One(_) => false,
            ErrnoExpect::OneOf { any_error, .. } => *any_error,
        }
    }

    /// Whether a trap inside the call is an accepted answer (it ends the run there).
    pub fn allows_trap(&self) -> bool {
        match self {
            ErrnoExpect::One(_) => false,
            ErrnoExpect::OneOf { trap, .. } => *trap,
        }
    }

    /// The accepted errnos, in the order written.
    pub fn errnos(&self) -> &[Errno] {
        match self {
            ErrnoExpect::One(x) => std::slice::from_ref(x),
            ErrnoExpect::OneOf { set, .. } => set,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ErrnoExpect::One(x) => x.name().to_owned(),
            ErrnoExpect::OneOf { set, trap, any_error, .. } => {
                let mut names: Vec<&str> = set.iter().map(|e| e.name()).collect();
                if *any_error {
                    names.push("any-error");
                }
                if *trap {
                    names.push("trap");
                }
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
    /// Any of several endings the spec leaves open: a trap (when `trap`) or one of `exits`.
    OneOf { trap: bool, exits: Vec<u32>, because: String },
}

impl End {
    /// Whether a trap is an accepted ending.
    pub fn allows_trap(&self) -> bool {
        match self {
            End::Trap => true,
            End::Exit(_) => false,
            End::OneOf { trap, .. } => *trap,
        }
    }

    /// The accepted exit codes (empty when only a trap is).
    pub fn exits(&self) -> &[u32] {
        match self {
            End::Exit(ExitExpect::One(c)) => std::slice::from_ref(c),
            End::Exit(ExitExpect::OneOf { set, .. }) => set,
            End::Trap => &[],
            End::OneOf { exits, .. } => exits,
        }
    }

    /// `exit 0`, `a trap`, `exit with one of [1, 2] (why)`, `a trap or exit with one of [3] (why)`.
    pub fn describe(&self) -> String {
        match self {
            End::Exit(ExitExpect::One(c)) => format!("exit {c}"),
            End::Exit(ExitExpect::OneOf { set, because }) => format!("exit with one of {set:?} ({because})"),
            End::Trap => "a trap".to_owned(),
            End::OneOf { trap: true, exits, because } if exits.is_empty() => format!("a trap ({because})"),
            End::OneOf { trap: true, exits, because } => format!("a trap or exit with one of {exits:?} ({because})"),
            End::OneOf { trap: false, exits, because } => format!("exit with one of {exits:?} ({because})"),
        }
    }
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
