//! A directory of wasi-testsuite tests → [`Test`]s ready to run on any [`Runtime`].
//!
//! The official runner is given suite directories and globs `*.wasm` in each, not
//! recursively (`test_suite_runner.py` `run_tests_from_test_suite`). Here the directory
//! given is walked: every directory holding `.wasm` files is one suite, named by its
//! `manifest.json` (`name`; `version` is the WASI version, as is a directory named
//! `wasm32-wasip1`…; default preview1), otherwise by its path relative to the directory
//! given. Fixture directories named by a test (`dirs`, `root`) are not searched for tests.
//!
//! Each test's fixture directories are loaded into the suite's [`Tree`] model, so that
//! every runtime gets a fresh copy in its sandbox (the reference gets it in memory) and the
//! originals are never modified. Like the runner's cleanup (`_cleanup_test_output`),
//! entries named `*.cleanup` that are not symlinks are left out: they are artefacts of
//! earlier runs. Hard links within a fixture are kept as hard links.
//!
//! [`Runtime`]: wasi_conform_runners::Runtime

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use wasi_conform_suite::case::{Limits, TestCase};
use wasi_conform_suite::scenario::{Fixture, Node, Preopen, Tree};

use super::format::{read_manifest, read_spec, Spec};

/// One test of a suite, with its module and fixture loaded.
pub struct Test {
    /// The module's path relative to the directory given, without `.wasm`: unique, and what
    /// `--filter` matches.
    pub id: String,
    /// The suite's name (manifest or relative path).
    pub suite: String,
    pub spec: Spec,
    /// Why it is not run, if so (unsupported operations, another WASI version).
    pub skip: Option<String>,
    pub case: TestCase,
}

/// Everything found under a directory.
pub struct Loaded {
    pub tests: Vec<Test>,
    /// Unknown keys and other things the official runner only warns about.
    pub warnings: Vec<String>,
}

/// Loads every test under `dir`.
pub fn load_dir(dir: &Path) -> Result<Loaded> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let mut out = Loaded { tests: Vec::new(), warnings: Vec::new() };
    let mut trees: HashMap<PathBuf, Tree> = HashMap::new();
    walk(dir, dir, &mut out, &mut trees)?;
    Ok(out)
}

fn walk(base: &Path, dir: &Path, out: &mut Loaded, trees: &mut HashMap<PathBuf, Tree>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort();
    let modules: Vec<&PathBuf> =
        entries.iter().filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file()).collect();
    let mut fixtures: Vec<PathBuf> = Vec::new();
    if !modules.is_empty() {
        let manifest = read_manifest(dir)?;
        let rel = dir.strip_prefix(base).unwrap_or(dir);
        let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let version = match manifest.as_ref().and_then(|m| m.version.clone()) {
            Some(v) => v,
            None if dir_name.starts_with("wasm32-wasip") => dir_name.to_owned(),
            None => "wasm32-wasip1".to_owned(),
        };
        let suite = match manifest.and_then(|m| m.name) {
            Some(n) => n,
            None if rel.as_os_str().is_empty() => base
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| ".".into()),
            None => rel.to_string_lossy().into_owned(),
        };
        for wasm in modules {
            let test = load_test(base, wasm, &suite, &version, out, trees)?;
            fixtures.extend(test.spec.dirs.iter().chain(&test.spec.root).map(|d| dir.join(d)));
            out.tests.push(test);
        }
    }
    for p in &entries {
        let is_dir = std::fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir && !fixtures.iter().any(|f| f == p) {
            walk(base, p, out, trees)?;
        }
    }
    Ok(())
}

fn load_test(
    base: &Path,
    wasm: &Path,
    suite: &str,
    version: &str,
    out: &mut Loaded,
    trees: &mut HashMap<PathBuf, Tree>,
) -> Result<Test> {
    let id = wasm.with_extension("").strip_prefix(base).unwrap_or(wasm).to_string_lossy().into_owned();
    let json = wasm.with_extension("json");
    let spec = read_spec(&json)?;
    for k in &spec.unknown {
        out.warnings.push(format!("{}: unknown field `{k}` (ignored, as the official runner does)", json.display()));
    }
    let skip = match (&spec.unsupported, version) {
        (Some(why), _) => Some(why.clone()),
        (None, "wasm32-wasip1") => None,
        (None, v) => Some(format!("WASI version {v}: the runtimes here run preview1 modules")),
    };
    let module = Arc::new(std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?);
    let dir = wasm.parent().unwrap_or(Path::new("."));
    let mut preopens = Vec::new();
    // `dirs` under their own names, then `root` as `/`; bindings name the sandbox
    // directories (one path component each, never `outside`).
    let named = spec.dirs.iter().enumerate().map(|(i, d)| (d.clone(), d.clone(), format!("dir{i}")));
    for (guest, rel, binding) in named.chain(spec.root.iter().map(|r| ("/".to_owned(), r.clone(), "root".to_owned()))) {
        let host = dir.join(&rel);
        let tree = match trees.get(&host) {
            Some(t) => t.clone(),
            None => {
                let t = read_tree(&host).with_context(|| format!("{}: fixture directory `{rel}`", json.display()))?;
                trees.insert(host.clone(), t.clone());
                t
            }
        };
        preopens.push(Preopen { name: guest, binding, tree });
    }
    let file_name = wasm.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut args = vec![file_name];
    args.extend(spec.args.iter().cloned());
    let case = TestCase {
        id: id.clone(),
        module: module.clone(),
        // No trace in either variant: the test is judged by its exit code and output.
        module_stderr_trace: module,
        fixture: Fixture {
            preopens,
            args,
            env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            stdin: spec.stdin.clone(),
        },
        capture_len: 0,
        limits: Limits::default(),
    };
    Ok(Test { id, suite: suite.to_owned(), spec, skip, case })
}

/// A host directory as a [`Tree`] (see the module docs for what is left out).
pub fn read_tree(dir: &Path) -> Result<Tree> {
    let meta = std::fs::metadata(dir).with_context(|| format!("{}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut tree = Tree::new();
    let mut links: BTreeMap<(u64, u64), String> = BTreeMap::new();
    read_into(dir, dir, &mut tree, &mut links)?;
    Ok(tree)
}

fn read_into(base: &Path, dir: &Path, tree: &mut Tree, links: &mut BTreeMap<(u64, u64), String>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(base).expect("under base");
        let rel = rel.to_str().with_context(|| format!("{}: the name is not UTF-8", path.display()))?.to_owned();
        let meta = std::fs::symlink_metadata(&path).with_context(|| format!("{}", path.display()))?;
        let ft = meta.file_type();
        let cleanup = rel.ends_with(".cleanup");
        if ft.is_symlink() {
            let target = std::fs::read_link(&path)?;
            let target =
                target.to_str().with_context(|| format!("{}: the link target is not UTF-8", path.display()))?;
            tree.insert(rel, Node::Symlink(target.to_owned()));
        } else if cleanup {
            continue;
        } else if ft.is_dir() {
            tree.insert(rel.clone(), Node::Dir);
            read_into(base, &path, tree, links)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    tree.insert(rel, Node::Hardlink(first.clone()));
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), rel.clone());
            }
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            tree.insert(rel, Node::File(bytes));
        } else {
            bail!("{}: only directories, regular files and symlinks can be fixtures", path.display());
        }
    }
    Ok(())
}
