//! The strict loader: YAML text → [`Scenario`], or an error naming file, line, column and
//! what was expected.
//!
//! YAML is parsed by `serde-saphyr`, chosen over the deprecated `serde_yaml` (and its forks,
//! which still sit on the C-derived `unsafe-libyaml`) because it is maintained, pure Rust,
//! promises panic-free parsing, refuses duplicate keys by default, and attaches a line and
//! column to every error — including the custom errors raised below, which is what makes
//! "unknown argument `pth` of path_open" point at the right place.
//!
//! Parsing is done by serde visitors that know the [function table](wasi_conform_abi):
//! a step is a map whose *first* key names the function, so its arguments and expectations
//! are checked against that function's witx parameters and results as they are read.
//! Cross-step rules (bindings defined before use, the id matching the path) are checked
//! afterwards with the step's location.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use wasi_conform_abi::types::{self, EnumType, FlagsType};
use wasi_conform_abi::{Errno, Function, ParamType, ResultType, Returns, FUNCTIONS};

use crate::scenario::*;
use crate::views::{self, ViewKind};

/// A scenario file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is not a valid scenario; `message` says what was expected.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid { file: PathBuf, line: u64, column: u64, message: String, snippet: String },
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io { file: PathBuf, source: std::io::Error },
}

impl LoadError {
    /// The error with the offending lines quoted under it.
    pub fn with_snippet(&self) -> String {
        match self {
            LoadError::Invalid { snippet, .. } if !snippet.is_empty() => format!("{self}\n{snippet}"),
            _ => self.to_string(),
        }
    }
}

/// Loads one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { file: path.to_owned(), source })?;
    load_str(&text, path)
}

/// Loads a scenario from text; `path` is used for messages and for the id check.
pub fn load_str(text: &str, path: &Path) -> Result<Scenario, LoadError> {
    let raw: RawScenario = serde_saphyr::from_str(text).map_err(|e| yaml_error(path, text, &e))?;
    build(raw, path)
}

fn yaml_error(path: &Path, _text: &str, e: &serde_saphyr::Error) -> LoadError {
    let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    let plain = e.without_snippet().to_string();
    let message = strip_location_prefix(&plain).to_owned();
    let snippet = e
        .to_string()
        .lines()
        .skip(1)
        .map(|l| l.replace("<input>", &path.display().to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    LoadError::Invalid { file: path.to_owned(), line, column, message, snippet }
}

/// `error: line 4 column 5: unknown field` → `unknown field`.
fn strip_location_prefix(s: &str) -> &str {
    let s = s.strip_prefix("error: ").unwrap_or(s);
    if let Some(rest) = s.strip_prefix("line ") {
        if let Some(idx) = rest.find(": ") {
            return &rest[idx + 2..];
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// Top level

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawScenario {
    id: Spanned<String>,
    summary: String,
    spec: String,
    strength: Strength,
    #[serde(default)]
    fixture: RawFixture,
    steps: Vec<Spanned<Step>>,
    #[serde(default)]
    end: Option<RawEnd>,
    stdout: Option<BytesValue>,
    stderr: Option<BytesValue>,
    tree: Option<BTreeMap<String, BTreeMap<String, NodeValue>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFixture {
    #[serde(default)]
    preopens: Vec<RawPreopen>,
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Vec<String>,
    stdin: Option<BytesValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPreopen {
    name: Spanned<String>,
    #[serde(default)]
    tree: BTreeMap<String, NodeValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum RawEnd {
    Exit(ExitValue),
    Trap,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum NodeValue {
    Dir,
    File(String),
    FileHex(HexString),
    FileSize(u32),
    Symlink(String),
    Hardlink(String),
}

/// The default argv when a fixture gives none.
pub const DEFAULT_ARGV0: &str = "scenario.wasm";

fn located(path: &Path, at: &serde_saphyr::Location, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        file: path.to_owned(),
        line: at.line(),
        column: at.column(),
        message: message.into(),
        snippet: String::new(),
    }
}

fn build(raw: RawScenario, path: &Path) -> Result<Scenario, LoadError> {
    let id_at = raw.id.referenced;
    let id = raw.id.value;
    let (fn_name, _) =
        id.split_once('/').ok_or_else(|| located(path, &id_at, format!("id `{id}` must be `<function>/<name>`")))?;
    let function = wasi_conform_abi::function(fn_name).ok_or_else(|| {
        located(path, &id_at, format!("id `{id}` must start with a preview1 function name, not `{fn_name}`"))
    })?;
    if let (Some(dir), Some(stem)) =
        (path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()), path.file_stem().and_then(|s| s.to_str()))
    {
        if wasi_conform_abi::function(dir).is_some() && id != format!("{dir}/{stem}") {
            return Err(located(path, &id_at, format!("id `{id}` must match the file's place: `{dir}/{stem}`")));
        }
    }

    let mut preopens = Vec::new();
    let mut bound: BTreeSet<String> = BTreeSet::new();
    for p in raw.fixture.preopens {
        let binding = p.name.value.trim_start_matches("./").trim_start_matches('/').to_owned();
        if binding.is_empty() || !binding.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
            return Err(located(
                path,
                &p.name.referenced,
                format!(
                    "preopen name `{}` must be a simple name (letters, digits, `_-.`, optional leading `/`)",
                    p.name.value
                ),
            ));
        }
        if binding == "outside" {
            return Err(located(
                path,
                &p.name.referenced,
                "`outside` is reserved: it is the sandbox's canary directory",
            ));
        }
        if !bound.insert(binding.clone()) {
            return Err(located(path, &p.name.referenced, format!("two preopens bind `${binding}`")));
        }
        let tree = build_tree(p.tree).map_err(|m| located(path, &p.name.referenced, m))?;
        preopens.push(Preopen { name: p.name.value, binding, tree });
    }

    let mut steps = Vec::new();
    for s in raw.steps {
        let at = s.referenced;
        let step = s.value;
        for name in step_bindings_used(&step) {
            if !bound.contains(&name) {
                return Err(located(
                    path,
                    &at,
                    format!(
                        "`${name}` is not a preopen binding nor bound by an earlier step (bound here: {})",
                        list(&bound)
                    ),
                ));
            }
        }
        if let Some(b) = &step.bind {
            if step.function.results.is_empty() {
                return Err(located(path, &at, format!("`bind`: {} has no result to bind", step.function.name)));
            }
            if !bound.insert(b.clone()) {
                return Err(located(path, &at, format!("`${b}` is already bound")));
            }
        }
        for (_, check) in &step.expect.results {
            for name in check_bindings_used(check) {
                if !bound.contains(&name) {
                    return Err(located(path, &at, format!("`${name}` is not bound")));
                }
            }
        }
        let mut step = step;
        step.line = at.line() as usize;
        steps.push(step);
    }
    if steps.is_empty() {
        return Err(located(path, &id_at, "a scenario needs at least one step"));
    }
    let traps = matches!(raw.end, Some(RawEnd::Trap));
    for (i, s) in steps.iter().enumerate() {
        let trapping = traps && i + 1 == steps.len();
        if s.function.returns == Returns::Errno && s.expect.errno.is_none() && !trapping {
            return Err(LoadError::Invalid {
                file: path.to_owned(),
                line: s.line as u64,
                column: 5,
                message: format!(
                    "the {} step needs `expect: {{errno: …}}` (only the last step of a scenario with `end: trap` may omit it)",
                    s.function.name
                ),
                snippet: String::new(),
            });
        }
    }
    for (i, s) in steps.iter().enumerate() {
        if s.function.returns == Returns::Never && i + 1 != steps.len() {
            return Err(LoadError::Invalid {
                file: path.to_owned(),
                line: s.line as u64,
                column: 5,
                message: format!("{} does not return: it must be the last step", s.function.name),
                snippet: String::new(),
            });
        }
    }

    let mut tree = None;
    if let Some(t) = raw.tree {
        let mut out = BTreeMap::new();
        for (name, nodes) in t {
            if !preopens.iter().any(|p| p.name == name) {
                return Err(located(path, &id_at, format!("`tree` names `{name}`, which is not a preopen")));
            }
            let built = build_tree(nodes).map_err(|m| located(path, &id_at, m))?;
            if built.values().any(|n| matches!(n, Node::Hardlink(_))) {
                return Err(located(path, &id_at, "`hardlink` is for fixtures; a final tree shows files"));
            }
            out.insert(name, built);
        }
        tree = Some(out);
    }

    Ok(Scenario {
        id,
        function,
        summary: raw.summary,
        spec: raw.spec,
        strength: raw.strength,
        fixture: Fixture {
            preopens,
            args: raw.fixture.args.unwrap_or_else(|| vec![DEFAULT_ARGV0.to_owned()]),
            env: raw.fixture.env,
            stdin: raw.fixture.stdin.map(|b| b.0).unwrap_or_default(),
        },
        steps,
        end: match raw.end {
            None => End::default(),
            Some(RawEnd::Trap) => End::Trap,
            Some(RawEnd::Exit(e)) => End::Exit(e.0),
        },
        stdout: raw.stdout.map(|b| b.0),
        stderr: raw.stderr.map(|b| b.0),
        tree,
        source: path.to_owned(),
    })
}

fn list(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none".to_owned()
    } else {
        set.iter().map(|s| format!("${s}")).collect::<Vec<_>>().join(", ")
    }
}

fn build_tree(raw: BTreeMap<String, NodeValue>) -> Result<Tree, String> {
    let mut tree = Tree::new();
    for (p, n) in raw {
        if p.is_empty()
            || p.starts_with('/')
            || p.ends_with('/')
            || p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(format!(
                "tree path `{p}` must be relative, without `.`/`..`, empty components or a trailing `/`"
            ));
        }
        let node = match n {
            NodeValue::Dir => Node::Dir,
            NodeValue::File(s) => Node::File(s.into_bytes()),
            NodeValue::FileHex(h) => Node::File(h.0),
            NodeValue::FileSize(n) => Node::File(vec![0; n as usize]),
            NodeValue::Symlink(t) => Node::Symlink(t),
            NodeValue::Hardlink(t) => Node::Hardlink(t),
        };
        tree.insert(p, node);
    }
    for (p, n) in &tree {
        // Every implied parent must not be a non-directory.
        let mut parent = p.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            if let Some(node) = tree.get(up) {
                if *node != Node::Dir {
                    return Err(format!("`{p}` lies under `{up}`, which is not a directory"));
                }
            }
            parent = up;
        }
        if let Node::Hardlink(t) = n {
            match tree.get(t) {
                Some(Node::File(_)) => {}
                _ => return Err(format!("hardlink `{p}` must name a regular file of the same tree, not `{t}`")),
            }
        }
    }
    Ok(tree)
}

fn step_bindings_used(step: &Step) -> Vec<String> {
    let mut out = Vec::new();
    for a in &step.args {
        match a {
            Arg::Scalar(Scalar::Binding(b)) => out.push(b.clone()),
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

fn check_bindings_used(c: &ValueCheck) -> Vec<String> {
    match c {
        ValueCheck::SameAs(b) => vec![b.clone()],
        ValueCheck::Fields(f) => f.iter().flat_map(|(_, c)| check_bindings_used(c)).collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Small value forms

/// Bytes written as a YAML string (UTF-8), `{hex: "00 ff"}`, or `{repeat: "a", times: 300}`.
struct BytesValue(Vec<u8>);

impl<'de> Deserialize<'de> for BytesValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor { allow_raw: false }).and_then(|data| match data {
            Data::Bytes(b) => Ok(BytesValue(b)),
            Data::Raw { .. } => Err(de::Error::custom("a raw pointer is not allowed here")),
        })
    }
}

/// Hex digits, whitespace allowed between bytes.
struct HexString(Vec<u8>);

impl<'de> Deserialize<'de> for HexString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s).map(HexString).map_err(de::Error::custom)
    }
}

fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex string `{s}` has an odd number of digits"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("`{}` is not a hex byte", &digits[i..i + 2]))
        })
        .collect()
}

struct DataVisitor {
    allow_raw: bool,
}

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Data;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.allow_raw {
            f.write_str("a string, {hex: …}, {repeat: …, times: …} or {ptr: …, len: …}")
        } else {
            f.write_str("a string, {hex: …} or {repeat: …, times: …}")
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Data, E> {
        Ok(Data::Bytes(v.as_bytes().to_vec()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Data, A::Error> {
        let mut fields: BTreeMap<String, ()> = BTreeMap::new();
        let (mut hex, mut repeat, mut times, mut ptr, mut len) = (None, None, None, None, None);
        while let Some(k) = m.next_key::<String>()? {
            if fields.insert(k.clone(), ()).is_some() {
                return Err(de::Error::custom(format!("duplicate key `{k}`")));
            }
            match k.as_str() {
                "hex" => hex = Some(m.next_value::<HexString>()?.0),
                "repeat" => repeat = Some(m.next_value::<String>()?),
                "times" => times = Some(m.next_value::<u32>()?),
                "ptr" if self.allow_raw => ptr = Some(m.next_value::<u32>()?),
                "len" if self.allow_raw => len = Some(m.next_value::<u32>()?),
                other => {
                    return Err(de::Error::custom(format!("unknown key `{other}`, expected {}", Expecting(&self))))
                }
            }
        }
        match (hex, repeat, times, ptr, len) {
            (Some(h), None, None, None, None) => Ok(Data::Bytes(h)),
            (None, Some(r), Some(t), None, None) => Ok(Data::Bytes(r.repeat(t as usize).into_bytes())),
            (None, None, None, Some(ptr), Some(len)) => Ok(Data::Raw { ptr, len }),
            _ => Err(de::Error::custom(format!("expected {}", Expecting(&self)))),
        }
    }
}

struct Expecting<'a, V>(&'a V);
impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// An exit code or `{one-of: [..], because: ".."}`.
struct ExitValue(ExitExpect);

impl<'de> Deserialize<'de> for ExitValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct Set {
            one_of: Vec<u32>,
            because: String,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExitValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an exit code or {one-of: [codes], because: reason}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExitValue, E> {
                u32::try_from(v)
                    .map(|c| ExitValue(ExitExpect::One(c)))
                    .map_err(|_| E::custom("exit code must fit in u32"))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ExitValue, A::Error> {
                let s = Set::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(ExitValue(ExitExpect::OneOf { set: s.one_of, because: s.because }))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Steps

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a step: a map whose first key is a preview1 function, e.g. `- fd_close: {fd: $f}`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Step, A::Error> {
        let first = m
            .next_key::<String>()?
            .ok_or_else(|| de::Error::custom("empty step: expected a preview1 function name as the first key"))?;
        let function = wasi_conform_abi::function(&first).ok_or_else(|| {
            de::Error::custom(format!(
                "`{first}` is not a preview1 function; a step starts with the function it calls (one of {})",
                FUNCTIONS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let args = m.next_value_seed(ArgsSeed(function))?;
        let mut step = Step {
            function,
            args,
            out_ptrs: vec![None; function.results.len()],
            bind: None,
            expect: StepExpect::default(),
            line: 0,
        };
        let mut seen_expect = false;
        while let Some(k) = m.next_key::<String>()? {
            match k.as_str() {
                "bind" => {
                    let b = m.next_value::<String>()?;
                    if b.starts_with('$')
                        || b.is_empty()
                        || !b.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                    {
                        return Err(de::Error::custom(format!(
                            "`bind: {b}`: write the name without `$` (letters, digits, `_-.`)"
                        )));
                    }
                    step.bind = Some(b);
                }
                "expect" => {
                    step.expect = m.next_value_seed(ExpectSeed(function))?;
                    seen_expect = true;
                }
                "out-ptr" => {
                    let raw = m.next_value::<BTreeMap<String, u32>>()?;
                    for (name, ptr) in raw {
                        let idx = function.results.iter().position(|r| r.name == name).ok_or_else(|| {
                            de::Error::custom(format!(
                                "`out-ptr`: {} has no result `{name}` ({})",
                                function.name,
                                result_names(function)
                            ))
                        })?;
                        step.out_ptrs[idx] = Some(ptr);
                    }
                }
                "note" => {
                    m.next_value::<String>()?;
                }
                other if wasi_conform_abi::function(other).is_some() => {
                    return Err(de::Error::custom(format!("one call per step: `{other}` must start a new `- ` item")));
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown step key `{other}`, expected one of bind, expect, out-ptr, note"
                    )))
                }
            }
        }
        if seen_expect && function.returns == Returns::Errno && step.expect.errno.is_none() {
            return Err(de::Error::custom(format!("the {} step's `expect` needs an `errno`", function.name)));
        }
        // A missing `expect` is allowed only on a step the scenario expects to trap in;
        // `build` checks that once `end` is known.
        Ok(step)
    }
}

fn result_names(f: &Function) -> String {
    if f.results.is_empty() {
        "it has none".to_owned()
    } else {
        f.results.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
    }
}

struct ArgsSeed(&'static Function);

impl<'de> DeserializeSeed<'de> for ArgsSeed {
    type Value = Vec<Arg>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Arg>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArgsSeed {
    type Value = Vec<Arg>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the arguments of {} as a map ({})", self.0.name, param_names(self.0))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<Arg>, E> {
        finish_args(self.0, vec![None; self.0.params.len()]).map_err(E::custom)
    }
    fn visit_none<E: de::Error>(self) -> Result<Vec<Arg>, E> {
        self.visit_unit()
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Vec<Arg>, A::Error> {
        let f = self.0;
        let mut args: Vec<Option<Arg>> = vec![None; f.params.len()];
        while let Some(k) = m.next_key::<String>()? {
            let idx = f.params.iter().position(|p| p.name == k).ok_or_else(|| {
                de::Error::custom(format!("{} has no argument `{k}`; its arguments are {}", f.name, param_names(f)))
            })?;
            if args[idx].is_some() {
                return Err(de::Error::custom(format!("argument `{k}` given twice")));
            }
            args[idx] = Some(m.next_value_seed(ArgSeed(f.params[idx].ty, f.params[idx].name))?);
        }
        finish_args(f, args).map_err(de::Error::custom)
    }
}

fn param_names(f: &Function) -> String {
    if f.params.is_empty() {
        "none: write `{}`".to_owned()
    } else {
        f.params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
    }
}

/// Fills defaults: flags → 0, `cookie` → 0, `nsubscriptions` → number of subscriptions,
/// `out` (events) → one per subscription, regions → 4096 bytes. Everything else is required.
fn finish_args(f: &Function, mut args: Vec<Option<Arg>>) -> Result<Vec<Arg>, String> {
    let nsubs = args.iter().find_map(|a| match a {
        Some(Arg::Subscriptions(s)) => Some(s.len() as u32),
        _ => None,
    });
    let mut out = Vec::with_capacity(args.len());
    for (p, a) in f.params.iter().zip(args.iter_mut()) {
        let v = match a.take() {
            Some(v) => v,
            None => match p.ty {
                ParamType::Flags(_) => Arg::Scalar(Scalar::Value(0)),
                ParamType::Region => Arg::Region(DEFAULT_REGION),
                ParamType::U64 if p.name == "cookie" => Arg::Scalar(Scalar::Value(0)),
                ParamType::U32 if p.name == "nsubscriptions" => match nsubs {
                    Some(n) => Arg::Scalar(Scalar::Value(n as u64)),
                    None => return Err(format!("{}: give `nsubscriptions` when `in` is raw", f.name)),
                },
                ParamType::Events => Arg::Events(nsubs.unwrap_or(1).max(1)),
                _ => return Err(format!("{} needs argument `{}` (arguments: {})", f.name, p.name, param_names(f))),
            },
        };
        out.push(v);
    }
    Ok(out)
}

/// Default size of a [`Arg::Region`].
pub const DEFAULT_REGION: u32 = 4096;

struct ArgSeed(ParamType, &'static str);

impl<'de> DeserializeSeed<'de> for ArgSeed {
    type Value = Arg;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arg, D::Error> {
        match self.0 {
            ParamType::Str => d.deserialize_any(DataVisitor { allow_raw: true }).map(Arg::Str),
            _ => d.deserialize_any(self),
        }
    }
}

/// The largest raw value a parameter's core type can carry.
fn core_max(ty: ParamType) -> u64 {
    match ty.core()[0] {
        wasi_conform_abi::CoreType::I32 => u32::MAX as u64,
        wasi_conform_abi::CoreType::I64 => u64::MAX,
    }
}

impl<'de> Visitor<'de> for ArgSeed {
    type Value = Arg;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let name = self.1;
        match self.0 {
            ParamType::Fd => write!(f, "`{name}`: a descriptor: `$binding` or an integer"),
            ParamType::U32 | ParamType::U64 => write!(f, "`{name}`: an unsigned integer or `$binding`"),
            ParamType::S64 => write!(f, "`{name}`: a signed integer"),
            ParamType::Enum(e) => write!(f, "`{name}`: a {} name ({}) or an integer", e.name, e.values.join(", ")),
            ParamType::Flags(t) => write!(f, "`{name}`: a list of {} names, `all`, or an integer", t.name),
            ParamType::Str => {
                write!(f, "`{name}`: a string, {{hex: …}}, {{repeat: …, times: …}} or {{ptr: …, len: …}}")
            }
            ParamType::Ciovecs => write!(f, "`{name}`: a list of strings (one ciovec each) or {{ptr: …, len: …}}"),
            ParamType::Iovecs => write!(f, "`{name}`: a list of buffer sizes (one iovec each) or {{ptr: …, len: …}}"),
            ParamType::Buffer => write!(f, "`{name}`: a buffer size, {{size: …, len: …}} or {{ptr: …, len: …}}"),
            ParamType::Region => write!(f, "`{name}`: an area size or {{ptr: …}}"),
            ParamType::Subscriptions => write!(f, "`{name}`: a list of subscriptions or {{ptr: …}}"),
            ParamType::Events => write!(f, "`{name}`: a number of events or {{ptr: …}}"),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Arg, E> {
        let ty = self.0;
        let fits = |v: u64| {
            if v > core_max(ty) {
                Err(E::custom(format!("`{}`: {v} does not fit the parameter's core type", self.1)))
            } else {
                Ok(v)
            }
        };
        match ty {
            ParamType::Fd
            | ParamType::U32
            | ParamType::U64
            | ParamType::S64
            | ParamType::Enum(_)
            | ParamType::Flags(_) => Ok(Arg::Scalar(Scalar::Value(fits(v)?))),
            ParamType::Buffer => {
                let n = u32::try_from(v).map_err(|_| E::custom("buffer size must fit in u32"))?;
                Ok(Arg::Buffer { size: n, len: n })
            }
            ParamType::Region => Ok(Arg::Region(u32::try_from(v).map_err(|_| E::custom("size must fit in u32"))?)),
            ParamType::Events => Ok(Arg::Events(u32::try_from(v).map_err(|_| E::custom("count must fit in u32"))?)),
            ParamType::Str | ParamType::Ciovecs | ParamType::Iovecs | ParamType::Subscriptions => {
                Err(E::invalid_type(de::Unexpected::Unsigned(v), &self))
            }
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Arg, E> {
        if v >= 0 {
            return self.visit_u64(v as u64);
        }
        match self.0 {
            ParamType::S64 => Ok(Arg::Scalar(Scalar::Value(v as u64))),
            _ => Err(E::custom(format!(
                "`{}`: negative values are only allowed for signed (filedelta) parameters",
                self.1
            ))),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
        if let Some(b) = v.strip_prefix('$') {
            return match self.0 {
                ParamType::Fd | ParamType::U32 | ParamType::U64 => Ok(Arg::Scalar(Scalar::Binding(b.to_owned()))),
                _ => Err(E::custom(format!(
                    "`{}`: a `$binding` is only allowed for descriptors and unsigned integers",
                    self.1
                ))),
            };
        }
        match self.0 {
            ParamType::Enum(e) => enum_value(e, v).map(|x| Arg::Scalar(Scalar::Value(x))).map_err(E::custom),
            ParamType::Flags(t) => flags_value(t, &[v]).map(|x| Arg::Scalar(Scalar::Value(x))).map_err(E::custom),
            _ => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Arg, A::Error> {
        match self.0 {
            ParamType::Flags(t) => {
                let mut names = Vec::new();
                while let Some(n) = s.next_element::<String>()? {
                    names.push(n);
                }
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                flags_value(t, &refs).map(|x| Arg::Scalar(Scalar::Value(x))).map_err(de::Error::custom)
            }
            ParamType::Ciovecs => {
                let mut v = Vec::new();
                while let Some(b) = s.next_element::<BytesValue>()? {
                    v.push(b.0);
                }
                Ok(Arg::Ciovecs(v))
            }
            ParamType::Iovecs => {
                let mut v = Vec::new();
                while let Some(n) = s.next_element::<u32>()? {
                    v.push(n);
                }
                Ok(Arg::Iovecs(v))
            }
            ParamType::Subscriptions => {
                let mut v = Vec::new();
                while let Some(sub) = s.next_element::<SubscriptionValue>()? {
                    v.push(sub.0);
                }
                Ok(Arg::Subscriptions(v))
            }
            _ => Err(de::Error::invalid_type(de::Unexpected::Seq, &self)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Arg, A::Error> {
        let (mut ptr, mut len, mut size) = (None, None, None);
        while let Some(k) = m.next_key::<String>()? {
            match k.as_str() {
                "ptr" => ptr = Some(m.next_value::<u32>()?),
                "len" => len = Some(m.next_value::<u32>()?),
                "size" if matches!(self.0, ParamType::Buffer) => size = Some(m.next_value::<u32>()?),
                other => {
                    return Err(de::Error::custom(format!("unknown key `{other}`: expected {}", Expecting(&self))))
                }
            }
        }
        let has_len = matches!(self.0, ParamType::Ciovecs | ParamType::Iovecs | ParamType::Buffer);
        match (self.0, ptr, len, size) {
            (ParamType::Buffer, None, len, Some(size)) => Ok(Arg::Buffer { size, len: len.unwrap_or(size) }),
            (_, Some(ptr), Some(len), None) if has_len => Ok(Arg::Raw { ptr, len }),
            (ParamType::Region | ParamType::Subscriptions | ParamType::Events, Some(ptr), None, None) => {
                Ok(Arg::Raw { ptr, len: 0 })
            }
            _ => Err(de::Error::custom(format!("expected {}", Expecting(&self)))),
        }
    }
}

fn enum_value(e: &EnumType, name: &str) -> Result<u64, String> {
    e.value(name).ok_or_else(|| format!("`{name}` is not a {} value (one of {})", e.name, e.values.join(", ")))
}

fn flags_value(t: &FlagsType, names: &[&str]) -> Result<u64, String> {
    let mut bits = 0;
    for n in names {
        if *n == "all" {
            bits |= t.all();
            continue;
        }
        bits |= t.bit(n).ok_or_else(|| {
            format!(
                "`{n}` is not a {} flag (one of {}, or `all`)",
                t.name,
                if t.flags.is_empty() { "none defined".to_owned() } else { t.flags.join(", ") }
            )
        })?;
    }
    Ok(bits)
}

struct SubscriptionValue(Subscription);

impl<'de> Deserialize<'de> for SubscriptionValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct Clock {
            id: EnumOrInt<ClockidTag>,
            timeout: u64,
            #[serde(default)]
            precision: u64,
            #[serde(default)]
            flags: Vec<String>,
        }
        // Keys are witx names (`fd_read`, `fd_write`), not kebab-case.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            userdata: u64,
            clock: Option<Clock>,
            fd_read: Option<FdValue>,
            fd_write: Option<FdValue>,
            tag: Option<u8>,
        }
        let r = Raw::deserialize(d)?;
        let kind = match (r.clock, r.fd_read, r.fd_write, r.tag) {
            (Some(c), None, None, None) => {
                let names: Vec<&str> = c.flags.iter().map(String::as_str).collect();
                SubscriptionKind::Clock {
                    id: c.id.0,
                    timeout: c.timeout,
                    precision: c.precision,
                    flags: flags_value(&types::SUBCLOCKFLAGS, &names).map_err(de::Error::custom)?,
                }
            }
            (None, Some(fd), None, None) => SubscriptionKind::FdRead(fd.0),
            (None, None, Some(fd), None) => SubscriptionKind::FdWrite(fd.0),
            (None, None, None, Some(t)) => SubscriptionKind::Tag(t),
            _ => return Err(de::Error::custom("a subscription has exactly one of clock, fd_read, fd_write, tag")),
        };
        Ok(SubscriptionValue(Subscription { userdata: r.userdata, kind }))
    }
}

/// A descriptor in a subscription: `$binding` or an integer.
struct FdValue(Scalar);

impl<'de> Deserialize<'de> for FdValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ArgSeed(ParamType::Fd, "fd").deserialize(d)? {
            Arg::Scalar(s) => Ok(FdValue(s)),
            _ => Err(de::Error::custom("expected a descriptor")),
        }
    }
}

/// Which enum an [`EnumOrInt`] names.
trait EnumTag {
    fn ty() -> &'static EnumType;
}
struct ClockidTag;
impl EnumTag for ClockidTag {
    fn ty() -> &'static EnumType {
        &types::CLOCKID
    }
}
struct FiletypeTag;
impl EnumTag for FiletypeTag {
    fn ty() -> &'static EnumType {
        &types::FILETYPE
    }
}
struct EventtypeTag;
impl EnumTag for EventtypeTag {
    fn ty() -> &'static EnumType {
        &types::EVENTTYPE
    }
}

/// An enum value by name or raw integer.
struct EnumOrInt<T>(u64, std::marker::PhantomData<T>);

impl<'de, T: EnumTag> Deserialize<'de> for EnumOrInt<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: EnumTag> Visitor<'de> for V<T> {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a {} name ({}) or an integer", T::ty().name, T::ty().values.join(", "))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
                Ok(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
                enum_value(T::ty(), v).map_err(E::custom)
            }
        }
        d.deserialize_any(V::<T>(std::marker::PhantomData)).map(|v| EnumOrInt(v, std::marker::PhantomData))
    }
}

// ---------------------------------------------------------------------------------------
// Expectations

struct ExpectSeed(&'static Function);

impl<'de> DeserializeSeed<'de> for ExpectSeed {
    type Value = StepExpect;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StepExpect, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ExpectSeed {
    type Value = StepExpect;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a map of expectations for {}", self.0.name)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<StepExpect, A::Error> {
        let f = self.0;
        let mut e = StepExpect::default();
        let mut seen = BTreeSet::new();
        while let Some(k) = m.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format!("`{k}` given twice")));
            }
            if k == "errno" {
                if f.returns == Returns::Never {
                    return Err(de::Error::custom(format!("{} does not return, so it has no errno", f.name)));
                }
                e.errno = Some(m.next_value::<ErrnoValue>()?.0);
            } else if let Some(r) = f.results.iter().find(|r| r.name == k) {
                e.results.push((k, m.next_value_seed(ResultSeed(r.ty))?));
            } else if let Some((_, kind)) = views::views(f).iter().find(|(n, _)| *n == k) {
                e.views.push((k, m.next_value_seed(ViewSeed(*kind))?));
            } else {
                let mut known: Vec<&str> = vec!["errno"];
                known.extend(f.results.iter().map(|r| r.name));
                known.extend(views::views(f).iter().map(|(n, _)| *n));
                return Err(de::Error::custom(format!(
                    "{} has no output `{k}` to check (it has {})",
                    f.name,
                    known.join(", ")
                )));
            }
        }
        Ok(e)
    }
}

/// `success`, or `{one-of: [perm, notcapable], because: …}`.
struct ErrnoValue(ErrnoExpect);

fn errno_by_name<E: de::Error>(n: &str) -> Result<Errno, E> {
    Errno::from_name(n).ok_or_else(|| {
        E::custom(format!(
            "`{n}` is not an errno name (witx spelling: success, badf, inval, noent, perm, notcapable, …)"
        ))
    })
}

impl<'de> Deserialize<'de> for ErrnoValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrnoValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an errno name or {one-of: [names], because: reason}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrnoValue, E> {
                errno_by_name(v).map(|e| ErrnoValue(ErrnoExpect::One(e)))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ErrnoValue, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields, rename_all = "kebab-case")]
                struct Set {
                    one_of: Vec<String>,
                    because: String,
                }
                let s = Set::deserialize(de::value::MapAccessDeserializer::new(m))?;
                if s.one_of.len() < 2 {
                    return Err(de::Error::custom("`one-of` needs at least two errnos; write a single errno plainly"));
                }
                let set = s.one_of.iter().map(|n| errno_by_name(n)).collect::<Result<Vec<_>, A::Error>>()?;
                Ok(ErrnoValue(ErrnoExpect::OneOf { set, because: s.because }))
            }
        }
        d.deserialize_any(V)
    }
}

struct ResultSeed(ResultType);

impl<'de> DeserializeSeed<'de> for ResultSeed {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        match self.0 {
            ResultType::Size | ResultType::Fd | ResultType::Filesize | ResultType::Timestamp | ResultType::Roflags => {
                d.deserialize_any(ScalarCheck)
            }
            ResultType::Fdstat | ResultType::Filestat | ResultType::Prestat => d.deserialize_map(RecordCheck(self.0)),
        }
    }
}

/// `5`, `{min: 1, max: 9}`, or `$binding`.
struct ScalarCheck;

impl<'de> Visitor<'de> for ScalarCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, {min: …, max: …}, or `$binding`")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueCheck, E> {
        Ok(ValueCheck::Exact(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueCheck, E> {
        match v.strip_prefix('$') {
            Some(b) => Ok(ValueCheck::SameAs(b.to_owned())),
            None => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ValueCheck, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct R {
            min: Option<u64>,
            max: Option<u64>,
        }
        let r = R::deserialize(de::value::MapAccessDeserializer::new(m))?;
        if r.min.is_none() && r.max.is_none() {
            return Err(de::Error::custom("a range needs `min` or `max`"));
        }
        Ok(ValueCheck::Range { min: r.min, max: r.max })
    }
}

/// Field checks of a record result.
struct RecordCheck(ResultType);

/// Fields of the records, and how each is written.
fn record_fields(ty: ResultType) -> &'static [(&'static str, FieldKind)] {
    static FDSTAT: [(&str, FieldKind); 4] = [
        ("filetype", FieldKind::Enum(&types::FILETYPE)),
        ("flags", FieldKind::Flags(&types::FDFLAGS)),
        ("rights_base", FieldKind::Flags(&types::RIGHTS)),
        ("rights_inheriting", FieldKind::Flags(&types::RIGHTS)),
    ];
    static FILESTAT: [(&str, FieldKind); 8] = [
        ("dev", FieldKind::Int),
        ("ino", FieldKind::Int),
        ("filetype", FieldKind::Enum(&types::FILETYPE)),
        ("nlink", FieldKind::Int),
        ("size", FieldKind::Int),
        ("atim", FieldKind::Int),
        ("mtim", FieldKind::Int),
        ("ctim", FieldKind::Int),
    ];
    static PRESTAT: [(&str, FieldKind); 2] =
        [("tag", FieldKind::Enum(&types::PREOPENTYPE)), ("name_len", FieldKind::Int)];
    match ty {
        ResultType::Fdstat => &FDSTAT,
        ResultType::Filestat => &FILESTAT,
        ResultType::Prestat => &PRESTAT,
        ResultType::Size | ResultType::Fd | ResultType::Filesize | ResultType::Timestamp | ResultType::Roflags => &[],
    }
}

/// How a record field is written in an expectation.
#[derive(Clone, Copy)]
pub(crate) enum FieldKind {
    Int,
    Enum(&'static EnumType),
    Flags(&'static FlagsType),
}

impl<'de> Visitor<'de> for RecordCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = record_fields(self.0).iter().map(|(n, _)| *n).collect();
        write!(f, "a map of field checks ({})", names.join(", "))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ValueCheck, A::Error> {
        let fields = record_fields(self.0);
        let mut out = Vec::new();
        while let Some(k) = m.next_key::<String>()? {
            let (_, kind) = fields
                .iter()
                .find(|(n, _)| *n == k)
                .ok_or_else(|| de::Error::custom(format!("unknown field `{k}`, expected {}", Expecting(&self))))?;
            let check = match kind {
                FieldKind::Int => m.next_value_seed(ScalarCheckSeed)?,
                FieldKind::Enum(e) => m.next_value_seed(EnumCheck(e))?,
                FieldKind::Flags(t) => m.next_value_seed(FlagsCheck(t))?,
            };
            out.push((k, check));
        }
        Ok(ValueCheck::Fields(out))
    }
}

struct ScalarCheckSeed;
impl<'de> DeserializeSeed<'de> for ScalarCheckSeed {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        d.deserialize_any(ScalarCheck)
    }
}

/// `directory`, or `{one-of: [unknown, character_device], because: …}`.
struct EnumCheck(&'static EnumType);

impl<'de> DeserializeSeed<'de> for EnumCheck {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EnumCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} name ({}) or {{one-of: [names], because: reason}}", self.0.name, self.0.values.join(", "))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueCheck, E> {
        Ok(ValueCheck::Exact(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueCheck, E> {
        enum_value(self.0, v).map(ValueCheck::Exact).map_err(E::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ValueCheck, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct Set {
            one_of: Vec<String>,
            because: String,
        }
        let s = Set::deserialize(de::value::MapAccessDeserializer::new(m))?;
        let set =
            s.one_of.iter().map(|n| enum_value(self.0, n)).collect::<Result<Vec<_>, _>>().map_err(de::Error::custom)?;
        Ok(ValueCheck::OneOf { set, because: s.because })
    }
}

/// `[append]` (exact), or `{includes: [..], excludes: [..]}`.
struct FlagsCheck(&'static FlagsType);

impl<'de> DeserializeSeed<'de> for FlagsCheck {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FlagsCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of {} names (exact), an integer, or {{includes: [..], excludes: [..]}}", self.0.name)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueCheck, E> {
        Ok(ValueCheck::Exact(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<ValueCheck, A::Error> {
        let mut names = Vec::new();
        while let Some(n) = s.next_element::<String>()? {
            names.push(n);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        flags_value(self.0, &refs).map(ValueCheck::Exact).map_err(de::Error::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ValueCheck, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct B {
            #[serde(default)]
            includes: Vec<String>,
            #[serde(default)]
            excludes: Vec<String>,
        }
        let b = B::deserialize(de::value::MapAccessDeserializer::new(m))?;
        let inc: Vec<&str> = b.includes.iter().map(String::as_str).collect();
        let exc: Vec<&str> = b.excludes.iter().map(String::as_str).collect();
        let set = flags_value(self.0, &inc).map_err(de::Error::custom)?;
        let clear = flags_value(self.0, &exc).map_err(de::Error::custom)?;
        Ok(ValueCheck::Bits { set, clear })
    }
}

struct ViewSeed(ViewKind);

impl<'de> DeserializeSeed<'de> for ViewSeed {
    type Value = ViewCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ViewCheck, D::Error> {
        match self.0 {
            ViewKind::Bytes => BytesValue::deserialize(d).map(|b| ViewCheck::Bytes(b.0)),
            ViewKind::Strings => {
                Vec::<BytesValue>::deserialize(d).map(|v| ViewCheck::Strings(v.into_iter().map(|b| b.0).collect()))
            }
            ViewKind::Entries => {
                let m = BTreeMap::<String, EnumOrInt<FiletypeTag>>::deserialize(d)?;
                Ok(ViewCheck::Entries(m.into_iter().map(|(k, v)| (k.into_bytes(), v.0)).collect()))
            }
            ViewKind::Events => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Ev {
                    userdata: u64,
                    error: String,
                    #[serde(rename = "type")]
                    ty: EnumOrInt<EventtypeTag>,
                }
                let v = Vec::<Ev>::deserialize(d)?;
                let mut out = BTreeMap::new();
                for e in v {
                    let err = errno_by_name(&e.error)?;
                    if out.insert(e.userdata, (err, e.ty.0)).is_some() {
                        return Err(de::Error::custom(format!("two events with userdata {}", e.userdata)));
                    }
                }
                Ok(ViewCheck::Events(out))
            }
            ViewKind::Random => {
                let s = String::deserialize(d)?;
                if s == "not-all-zero" {
                    Ok(ViewCheck::NotAllZero)
                } else {
                    Err(de::Error::custom("random bytes can only be checked as `not-all-zero`"))
                }
            }
        }
    }
}
