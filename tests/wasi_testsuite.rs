//! The wasi-testsuite format end to end, through the real `wasi-conform` binary and every
//! runtime available here:
//! - the hand-written tests of `tests/wasi-testsuite/` (built from WAT into a temporary
//!   copy) pass, and the ones under `must-fail/` fail, on every runtime; the fixture
//!   directory is never modified;
//! - a malformed test description is reported with its file, line and column;
//! - the round trip: the built-in suite exported as wasi-testsuite tests and run with
//!   `run --wasi-testsuite` gets, per runtime and scenario, the verdict the scenario itself
//!   gets under the same preopen names.
//!
//! Own `main` (`harness = false`): the round trip runs every runtime in this process, and
//! the crash-isolated ones (Wasmer) re-run this binary as their worker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use wasi_conform_runners::matrix::{run_case, Prepared};
use wasi_conform_runners::test_main::{test_main, tests};
use wasi_conform_runners::{registry, Availability};
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::Expectations;

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

/// The verdict (`pass`, `fail`, …) of every exported scenario on every available runtime,
/// by (runtime, test name), with each preopen renamed as the export names it (the test's
/// `dirs`). The round trip compares the self-checking module with the scenario, not the
/// names: renaming a preopen changes some runtimes' answers by itself (Node's uvwasi
/// follows symlinks only under an absolute preopen name; Wasmer resolves absolute paths
/// through a mount at the preopen's name), and both sides see the same names this way.
fn verdicts_under_exported_names(exported: &Path) -> BTreeMap<(String, String), String> {
    let mut prepared = Vec::new();
    for mut s in discover::load_builtin().expect("the built-in suite loads") {
        let name = s.id.replace('/', ".");
        let Ok(text) = std::fs::read_to_string(exported.join(format!("{name}.json"))) else {
            continue; // not exported
        };
        let doc: Value = serde_json::from_str(&text).unwrap();
        let dirs = doc["dirs"].as_array().unwrap_or_else(|| panic!("{name}.json has no dirs"));
        assert_eq!(dirs.len(), s.fixture.preopens.len(), "{name}: one dir per preopen");
        for (p, d) in s.fixture.preopens.iter_mut().zip(dirs) {
            p.name = d.as_str().unwrap().to_owned();
        }
        prepared.push((name, Prepared::new(s)));
    }
    assert!(!prepared.is_empty());
    let none = Expectations::default();
    let mut verdicts = BTreeMap::new();
    for rt in registry::all().expect("runtimes") {
        if rt.availability() != Availability::Available {
            continue;
        }
        for (name, p) in &prepared {
            let r = run_case(rt.as_ref(), p, &none);
            verdicts.insert((rt.name().to_owned(), name.clone()), r.verdict.to_owned());
        }
    }
    verdicts
}

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

fn exported_scenarios_get_the_same_verdicts_as_the_scenarios() {
    let tmp = tempfile::tempdir().unwrap();
    let exported = tmp.path().join("export");
    let out = bin().args(["export", "--wasi-testsuite"]).arg(&exported).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let skipped = stdout.lines().filter(|l| l.starts_with("skipped ")).count();
    assert!(skipped > 0 && std::fs::read_to_string(exported.join("README.md")).unwrap().contains("## Left out"));

    let verdicts = verdicts_under_exported_names(&exported);
    let (_, theirs) =
        run_json(&["run", "--wasi-testsuite", exported.to_str().unwrap()], &tmp.path().join("exported.json"));
    let (mut compared, mut differ) = (0, Vec::new());
    for r in &theirs {
        if field(r, "status") == "not-available" {
            continue;
        }
        let key = (field(r, "runtime").to_owned(), field(r, "scenario").to_owned());
        let ours = verdicts.get(&key).unwrap_or_else(|| panic!("no scenario result for {key:?}"));
        compared += 1;
        if (ours == "pass") != (field(r, "verdict") == "pass") {
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

fn main() -> std::process::ExitCode {
    // The round trip runs Wasmer in this process's crash-isolation workers: a Wasmer
    // segfault on one exported scenario must not take the test binary down.
    test_main(|| {
        tests(&[
            (
                "hand_written_tests_pass_and_must_fail_tests_fail_on_every_runtime",
                hand_written_tests_pass_and_must_fail_tests_fail_on_every_runtime,
            ),
            ("a_malformed_description_names_file_line_and_column", a_malformed_description_names_file_line_and_column),
            (
                "exported_scenarios_get_the_same_verdicts_as_the_scenarios",
                exported_scenarios_get_the_same_verdicts_as_the_scenarios,
            ),
        ])
    })
}
