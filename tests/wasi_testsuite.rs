//! The wasi-testsuite format end to end, through the real `wasi-conform` binary and every
//! runtime available here:
//! - the hand-written tests of `tests/wasi-testsuite/` (built from WAT into a temporary
//!   copy) pass, and the ones under `must-fail/` fail, on every runtime; the fixture
//!   directory is never modified;
//! - a malformed test description is reported with its file, line and column;
//! - the round trip: the built-in suite exported as wasi-testsuite tests and run with
//!   `run --wasi-testsuite` gets, per runtime and scenario, the verdict `run` gives the
//!   scenario itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasi-conform"));
    c.env_remove("WASI_CONFORM_RUNTIMES");
    c
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-testsuite")
}

/// Which WAT source each test's module is built from.
const MODULES: &[(&str, &str)] = &[
    ("args", "print-args"),
    ("env", "print-env"),
    ("operations", "print-args"),
    ("dirs", "open-fixture"),
    ("root", "open-fixture"),
    ("exit-code", "exit-33"),
    ("stderr", "to-stderr"),
    ("must-fail/wrong-exit-code", "exit-33"),
    ("must-fail/wrong-stdout", "print-args"),
    ("must-fail/wrong-stderr", "to-stderr"),
];

/// Copies `from` into `to` (files and directories).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// `tests/wasi-testsuite` in a temporary directory, with the modules built.
fn built_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&source_dir(), tmp.path());
    for (test, wat) in MODULES {
        let wasm = wat::parse_file(source_dir().join(format!("{wat}.wat"))).unwrap_or_else(|e| panic!("{wat}: {e}"));
        std::fs::write(tmp.path().join(format!("{test}.wasm")), wasm).unwrap();
    }
    tmp
}

/// Hand-written tests a runtime is known to fail, with the reason; such a test passing
/// fails this test, so the list cannot go stale.
const KNOWN_FAILURES: &[(&str, &str, &str)] = &[(
    "wasmer",
    "root",
    "wasmer-wasix puts its own virtual root `/` at fd 3, before the preopens it is given, so the guest's \
     first preopen named `/` is not the test's root (runners/src/wasmer.rs module docs)",
)];

/// Node's uvwasi follows a symlink by mapping host paths back through the preopen's guest
/// name; under a relative name (`<test>.sandbox.dir`, as wasi-testsuite's `dirs` gives)
/// following fails with `noent`, under `/sandbox` it works.
const NODE_RELATIVE_PREOPEN: &str = "node follows symlinks only under an absolute preopen name";
/// Wasmer resolves absolute paths from its virtual root, where each preopen is mounted at
/// `/<name>`: the scenario's `/sandbox/...` path names the renamed preopen no more.
const WASMER_ABSOLUTE: &str = "wasmer resolves absolute paths through its mount of the preopen's name";

/// Exported scenarios whose verdict differs from the scenario's because the export renames
/// the preopens (module docs of `src/wasi_testsuite/export.rs`); a listed pair that agrees
/// fails the test, so the list cannot go stale.
const RENAMED_PREOPEN_DIFFERS: &[(&str, &str, &str)] = &[
    ("node", "path_filestat_get.escaping-symlink-followed", NODE_RELATIVE_PREOPEN),
    ("node", "path_filestat_get.symlink-chain", NODE_RELATIVE_PREOPEN),
    ("node", "path_filestat_get.symlink-follow", NODE_RELATIVE_PREOPEN),
    ("node", "path_filestat_get.symlink-loop-followed", NODE_RELATIVE_PREOPEN),
    ("node", "path_filestat_set_times.escaping-symlink-followed", NODE_RELATIVE_PREOPEN),
    ("node", "path_filestat_set_times.follows-symlink-to-target", NODE_RELATIVE_PREOPEN),
    ("node", "path_open.escaping-symlink-followed", NODE_RELATIVE_PREOPEN),
    ("node", "path_open.follow-dir-symlink", NODE_RELATIVE_PREOPEN),
    ("node", "path_open.follow-symlink-to-file", NODE_RELATIVE_PREOPEN),
    ("node", "path_open.symlink-loop", NODE_RELATIVE_PREOPEN),
    ("wasmer", "path_open.absolute-path", WASMER_ABSOLUTE),
];

fn run_json(args: &[&str], json: &Path) -> (Output, Vec<Value>) {
    let out = bin().args(args).arg("--json").arg(json).output().unwrap();
    let text = std::fs::read_to_string(json).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let doc: Value = serde_json::from_str(&text).unwrap();
    (out, doc["results"].as_array().unwrap().clone())
}

fn field<'a>(r: &'a Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or_default()
}

#[test]
fn hand_written_tests_pass_and_must_fail_tests_fail_on_every_runtime() {
    let dir = built_copy();
    let json = dir.path().join("results.json");
    let (out, results) = run_json(&["run", "--wasi-testsuite", dir.path().to_str().unwrap()], &json);
    assert!(!out.status.success(), "the must-fail tests fail the run");
    let mut ran: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for r in &results {
        let (id, rt, status, verdict) =
            (field(r, "scenario"), field(r, "runtime"), field(r, "status"), field(r, "verdict"));
        if status == "not-available" {
            assert!(!field(r, "message").starts_with("skipped"), "{id} is not skipped: {r}");
            continue;
        }
        *ran.entry(rt).or_default() += 1;
        let known = KNOWN_FAILURES.iter().find(|(r, t, _)| *r == rt && *t == id);
        let ok = match known {
            Some(_) => verdict == "fail",
            None if id.starts_with("must-fail/") => verdict == "fail",
            None => status == "pass",
        };
        if !ok {
            let why = known.map(|k| format!(" (listed as a known failure: {})", k.2)).unwrap_or_default();
            wrong.push(format!("{rt} {id}: {status} {verdict}{why}: {}", field(r, "message")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for rt in ["reference", "wasmtime", "node"] {
        assert_eq!(ran.get(rt), Some(&MODULES.len()), "every test ran on {rt}: {ran:?}");
    }
    for fixture in [dir.path().join("fixture.dir"), source_dir().join("fixture.dir")] {
        let names: Vec<_> = std::fs::read_dir(&fixture).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["hello.txt"], "{} is unchanged", fixture.display());
    }
}

#[test]
fn a_malformed_description_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_file(source_dir().join("exit-33.wat")).unwrap();
    std::fs::write(dir.path().join("bad.wasm"), wasm).unwrap();
    std::fs::write(dir.path().join("bad.json"), "{\n  \"exit_code\": 33,\n  \"args\": [1]\n}\n").unwrap();
    let out = bin().args(["run", "--runtime", "reference", "--wasi-testsuite"]).arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad.json") && err.contains("line 3 column"), "{err}");
}

#[test]
fn exported_scenarios_get_the_same_verdicts_as_the_scenarios() {
    let tmp = tempfile::tempdir().unwrap();
    let exported = tmp.path().join("export");
    let out = bin().args(["export", "--wasi-testsuite"]).arg(&exported).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let skipped = stdout.lines().filter(|l| l.starts_with("skipped ")).count();
    assert!(skipped > 0 && std::fs::read_to_string(exported.join("README.md")).unwrap().contains("## Left out"));

    let (_, ours) = run_json(&["run"], &tmp.path().join("scenarios.json"));
    let (_, theirs) =
        run_json(&["run", "--wasi-testsuite", exported.to_str().unwrap()], &tmp.path().join("exported.json"));
    let mut verdicts: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in &ours {
        verdicts.insert(
            (field(r, "runtime").to_owned(), field(r, "scenario").replace('/', ".")),
            field(r, "verdict").to_owned(),
        );
    }
    let (mut compared, mut differ) = (0, Vec::new());
    for r in &theirs {
        if field(r, "status") == "not-available" {
            continue;
        }
        let key = (field(r, "runtime").to_owned(), field(r, "scenario").to_owned());
        let ours = verdicts.get(&key).unwrap_or_else(|| panic!("no scenario result for {key:?}"));
        compared += 1;
        let listed = RENAMED_PREOPEN_DIFFERS.iter().any(|(rt, id, _)| *rt == key.0 && *id == key.1);
        if listed == ((ours == "pass") == (field(r, "verdict") == "pass")) {
            differ.push(format!(
                "{} {}: scenario {ours}, exported {}: {}",
                key.0,
                key.1,
                field(r, "verdict"),
                field(r, "message")
            ));
        }
    }
    assert!(compared > 0);
    assert!(differ.is_empty(), "{} of {compared} differ:\n{}", differ.len(), differ.join("\n"));
}
