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

mod expect;
pub mod limits;
pub(crate) mod probe;
mod step;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use wasi_conform_abi::Returns;

use crate::case::MAX_BUDGET;
use crate::scenario::*;
use values::{BytesValue, ExitValue, HexString};

pub use step::{complete_args, Args, ArgsError, DEFAULT_REGION};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawScenario {
    id: Spanned<String>,
    summary: String,
    spec: String,
    strength: Spanned<Strength>,
    choice: Option<Spanned<String>>,
    #[serde(default)]
    require: Vec<Spanned<String>>,
    budget: Option<Spanned<String>>,
    #[serde(default)]
    fixture: RawFixture,
    steps: Vec<Spanned<Step>>,
    #[serde(default)]
    end: Option<RawEnd>,
    stdout: Option<BytesValue>,
    stderr: Option<BytesValue>,
    tree: Option<Spanned<RawTrees>>,
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
    /// The binding (and host directory name) of a preopen whose name has several
    /// components (`/data/lib`); a simple name binds itself.
    #[serde(default)]
    binding: Option<Spanned<String>>,
    #[serde(default)]
    tree: BTreeMap<String, NodeValue>,
}

/// `end:` as written: `trap`, `{exit: …}`, or `{one-of: [trap, {exit: 3}], because: …}`.
enum RawEnd {
    Exit(ExitValue),
    Trap,
    OneOf { trap: bool, exits: Vec<u32>, because: String },
}

/// One alternative of `end: {one-of: […]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum EndAlternative {
    Exit(u32),
    Trap,
}

impl<'de> Deserialize<'de> for RawEnd {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEnd;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`trap`, {exit: code}, or {one-of: [trap, {exit: code}, …], because: reason}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEnd, E> {
                match v {
                    "trap" => Ok(RawEnd::Trap),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawEnd, A::Error> {
                let mut exit = None;
                let mut alternatives: Option<Vec<EndAlternative>> = None;
                let mut because = None;
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "exit" if exit.is_none() => exit = Some(m.next_value::<ExitValue>()?),
                        "one-of" if alternatives.is_none() => alternatives = Some(m.next_value()?),
                        "because" if because.is_none() => because = Some(m.next_value::<String>()?),
                        "exit" | "one-of" | "because" => return Err(de::Error::custom(format!("`{k}` given twice"))),
                        _ => return Err(de::Error::unknown_field(&k, &["exit", "one-of", "because"])),
                    }
                }
                match (exit, alternatives, because) {
                    (Some(e), None, None) => Ok(RawEnd::Exit(e)),
                    (None, Some(alts), Some(because)) => {
                        let trap = alts.iter().any(|a| matches!(a, EndAlternative::Trap));
                        let exits: Vec<u32> = alts
                            .iter()
                            .filter_map(|a| match a {
                                EndAlternative::Exit(c) => Some(*c),
                                EndAlternative::Trap => None,
                            })
                            .collect();
                        if alts.len() < 2 {
                            return Err(de::Error::custom("`one-of` needs at least two endings"));
                        }
                        if because.trim().is_empty() {
                            return Err(de::Error::custom("`because` must say why the spec allows each ending"));
                        }
                        Ok(RawEnd::OneOf { trap, exits, because })
                    }
                    (None, Some(_), None) => Err(de::Error::missing_field("because")),
                    (None, None, Some(_)) => Err(de::Error::missing_field("one-of")),
                    _ => Err(de::Error::custom(
                        "write either {exit: …} or {one-of: [trap, {exit: code}, …], because: reason}",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `tree:` as written: per preopen, or `{one-of: [{/sandbox: …}, …], because: …}`.
enum RawTrees {
    One(BTreeMap<String, BTreeMap<String, NodeValue>>),
    OneOf { alternatives: Vec<BTreeMap<String, BTreeMap<String, NodeValue>>>, because: String },
}

impl<'de> Deserialize<'de> for RawTrees {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTrees;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of preopen name to tree, or {one-of: [such maps], because: reason}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawTrees, A::Error> {
                let mut plain = BTreeMap::new();
                let mut alternatives = None;
                let mut because: Option<String> = None;
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "one-of" if alternatives.is_none() => alternatives = Some(m.next_value()?),
                        "because" if because.is_none() => because = Some(m.next_value()?),
                        "one-of" | "because" => return Err(de::Error::custom(format!("`{k}` given twice"))),
                        _ => {
                            if plain.insert(k.clone(), m.next_value()?).is_some() {
                                return Err(de::Error::custom(format!("`{k}` given twice")));
                            }
                        }
                    }
                }
                match (alternatives, because) {
                    (None, None) => Ok(RawTrees::One(plain)),
                    (Some(alternatives), Some(because)) if plain.is_empty() => {
                        let alternatives: Vec<_> = alternatives;
                        if alternatives.len() < 2 {
                            return Err(de::Error::custom("`one-of` needs at least two trees"));
                        }
                        if because.trim().is_empty() {
                            return Err(de::Error::custom("`because` must say why the spec allows each tree"));
                        }
                        Ok(RawTrees::OneOf { alternatives, because })
                    }
                    (Some(_), Some(_)) => Err(de::Error::custom(
                        "tree alternatives (`one-of`) cannot be mixed with preopen trees; put every tree in an alternative",
                    )),
                    (Some(_), None) => Err(de::Error::missing_field("because")),
                    (None, Some(_)) => Err(de::Error::missing_field("one-of")),
                }
            }
        }
        d.deserialize_map(V)
    }
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
        let simple = |b: &str| !b.is_empty() && b.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        let stripped = p.name.value.trim_start_matches("./").trim_start_matches('/');
        let binding = match &p.binding {
            Some(b) if !simple(&b.value) => {
                return Err(located(
                    path,
                    &b.referenced,
                    format!("binding `{}` must be a simple name (letters, digits, `_-.`)", b.value),
                ))
            }
            Some(b) => b.value.clone(),
            None => stripped.to_owned(),
        };
        let nested = !stripped.is_empty()
            && stripped.split('/').all(|c| simple(c) && c != "." && c != "..")
            && p.binding.is_some();
        if !simple(stripped) && !nested {
            return Err(located(
                path,
                &p.name.referenced,
                format!(
                    "preopen name `{}` must be a simple name (letters, digits, `_-.`, optional leading `/`), or \
                     components of such names (`/data/lib`) with a `binding:`",
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

    let strength = raw.strength.value;
    let choice =
        match (strength, raw.choice) {
            (Strength::Choice, Some(c)) if !c.value.trim().is_empty() => Some(c.value),
            (Strength::Choice, Some(c)) => {
                return Err(located(path, &c.referenced, "`choice` must state the reference's pick and why"))
            }
            (Strength::Choice, None) => return Err(located(
                path,
                &raw.strength.referenced,
                "a `choice` scenario needs `choice:`: the reference's pick and why (the spec is silent and runtimes \
                 disagree)",
            )),
            (_, Some(c)) => {
                return Err(located(path, &c.referenced, "`choice:` belongs to `strength: choice` scenarios only"))
            }
            (_, None) => None,
        };

    let mut require = Vec::new();
    for r in &raw.require {
        let cap = Capability::from_name(&r.value).ok_or_else(|| {
            let known: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
            located(path, &r.referenced, format!("unknown capability `{}` (known: {})", r.value, known.join(", ")))
        })?;
        if require.contains(&cap) {
            return Err(located(path, &r.referenced, format!("`{}` is required twice", r.value)));
        }
        require.push(cap);
    }

    let budget = match &raw.budget {
        None => None,
        Some(b) => Some(parse_budget(&b.value).map_err(|m| located(path, &b.referenced, m))?),
    };

    let mut steps = Vec::new();
    for cap in &require {
        let Some(first) = preopens.first() else {
            return Err(located(
                path,
                &raw.require[0].referenced,
                format!("probing `{}` needs a preopen (the probe asks about the first one)", cap.as_str()),
            ));
        };
        let line = raw.require[0].referenced.line() as usize;
        for mut step in probe::steps(*cap, &first.binding) {
            step.line = line;
            for b in &step.bind {
                bound.insert(b.name.clone());
            }
            steps.push(step);
        }
    }
    for s in raw.steps {
        let at = s.referenced;
        let step = s.value;
        for name in step.bindings_in_args() {
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
        for b in &step.bind {
            if !bound.insert(b.name.clone()) {
                return Err(located(path, &at, format!("`${}` is already bound", b.name)));
            }
        }
        for name in step.bindings_in_checks() {
            if !bound.contains(&name) {
                return Err(located(path, &at, format!("`${name}` is not bound")));
            }
        }
        let mut step = step;
        step.line = at.line() as usize;
        steps.push(step);
    }
    let fixture = Fixture {
        preopens,
        args: raw.fixture.args.unwrap_or_else(|| vec![DEFAULT_ARGV0.to_owned()]),
        env: raw.fixture.env,
        stdin: raw.fixture.stdin.map(|b| b.0).unwrap_or_default(),
    };
    let mut total = limits::fixture_bytes(&fixture);
    limits::total(total).map_err(|m| located(path, &id_at, m))?;
    for s in &steps {
        total += limits::step_bytes(s);
        limits::total(total).map_err(|m| LoadError::Invalid {
            file: path.to_owned(),
            line: s.line as u64,
            column: 5,
            message: m,
            snippet: String::new(),
        })?;
    }
    if steps.iter().all(|s| s.probe.is_some()) {
        return Err(located(path, &id_at, "a scenario needs at least one step"));
    }
    let traps = matches!(raw.end, Some(RawEnd::Trap) | Some(RawEnd::OneOf { trap: true, .. }));
    for (i, s) in steps.iter().enumerate() {
        let trapping = traps && i + 1 == steps.len();
        if s.function.returns == Returns::Errno && s.expect.errno.is_none() && !trapping && s.probe.is_none() {
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

    let tree = match raw.tree {
        None => None,
        Some(t) => {
            let at = t.referenced;
            let final_trees = |t: BTreeMap<String, BTreeMap<String, NodeValue>>| {
                let mut out = BTreeMap::new();
                for (name, nodes) in t {
                    if !fixture.preopens.iter().any(|p| p.name == name) {
                        return Err(located(path, &at, format!("`tree` names `{name}`, which is not a preopen")));
                    }
                    let built = build_tree(nodes).map_err(|m| located(path, &at, m))?;
                    if built.values().any(|n| matches!(n, Node::Hardlink(_))) {
                        return Err(located(path, &at, "`hardlink` is for fixtures; a final tree shows files"));
                    }
                    out.insert(name, built);
                }
                Ok(out)
            };
            Some(match t.value {
                RawTrees::One(t) => TreeExpect::One(final_trees(t)?),
                RawTrees::OneOf { alternatives, because } => TreeExpect::OneOf {
                    alternatives: alternatives.into_iter().map(final_trees).collect::<Result<_, _>>()?,
                    because,
                },
            })
        }
    };

    Ok(Scenario {
        id,
        function,
        summary: raw.summary,
        spec: raw.spec,
        strength,
        choice,
        require,
        budget,
        fixture,
        steps,
        end: match raw.end {
            None => End::default(),
            Some(RawEnd::Trap) => End::Trap,
            Some(RawEnd::Exit(e)) => End::Exit(e.0),
            Some(RawEnd::OneOf { trap, exits, because }) => End::OneOf { trap, exits, because },
        },
        stdout: raw.stdout.map(|b| b.0),
        stderr: raw.stderr.map(|b| b.0),
        tree,
        source: path.to_owned(),
    })
}

/// A scenario's time budget: `<n>ms` or `<n>s`, more than zero and at most
/// [`MAX_BUDGET`].
fn parse_budget(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = match t.strip_suffix("ms") {
        Some(d) => (d, Duration::from_millis(1)),
        None => match t.strip_suffix('s') {
            Some(d) => (d, Duration::from_secs(1)),
            None => {
                return Err(format!("budget `{t}`: expected a whole number of seconds or milliseconds (`3s`, `500ms`)"))
            }
        },
    };
    let n: u32 = digits
        .trim()
        .parse()
        .map_err(|_| format!("budget `{t}`: expected a whole number of seconds or milliseconds (`3s`, `500ms`)"))?;
    let budget = unit.saturating_mul(n);
    if budget.is_zero() || budget > MAX_BUDGET {
        return Err(format!("budget `{t}`: must be more than 0 and at most {} s", MAX_BUDGET.as_secs()));
    }
    Ok(budget)
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
            NodeValue::FileSize(n) => {
                limits::file(n as u64)?;
                Node::File(vec![0; n as usize])
            }
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
