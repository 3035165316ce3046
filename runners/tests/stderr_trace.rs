//! The stderr trace channel (for command-line runtimes whose memory cannot be read after
//! the run): a module compiled with `TraceSink::Stderr`, run for real on Wasmtime, must
//! give the same verdicts from its frames as from its memory, and leave the scenario's own
//! stderr untouched once the frames are taken out.

use std::path::Path;
use std::sync::Arc;

use wasi_conform_runners::execute;
use wasi_conform_runners::wasmtime::Wasmtime;
use wasi_conform_suite::compile::compile;
use wasi_conform_suite::load::{load_file, load_str};
use wasi_conform_suite::scenario::Scenario;
use wasi_conform_suite::trace::extract_frames;
use wasi_conform_suite::verdict::{judge, Verdict};

/// Runs the framed variant and judges it from the frames alone.
fn judge_from_frames(s: &Scenario) -> (Verdict, Vec<u8>) {
    let c = compile(s).unwrap();
    let mut case = c.case.clone();
    case.module = Arc::clone(&case.module_stderr_trace);
    let mut o = execute(&Wasmtime::new(), &case);
    let (out, err, memory) = extract_frames(&o.stdout, &o.stderr);
    assert!(memory.is_some(), "no whole frame arrived");
    o.stdout = out;
    o.stderr = err;
    o.memory = memory;
    let stderr = o.stderr.clone();
    (judge(s, &c.layout, &o), stderr)
}

#[test]
fn the_readme_example_passes_from_its_frames() {
    let s = load_file(&wasi_conform_suite::discover::suite_dir().join("README.yaml")).unwrap();
    assert_eq!(judge_from_frames(&s).0, Verdict::Pass);
}

#[test]
fn the_scenarios_own_stderr_survives_and_a_trap_is_located() {
    let text = "id: fd_write/t\nsummary: s\nspec: t\nstrength: must\nsteps:\n  - fd_write: {fd: 2, iovs: [\"own bytes\\n\"]}\n    expect: {errno: success, nwritten: 10}\n  - fd_write: {fd: 1, iovs: {ptr: 4294967288, len: 1}}\nend: trap\nstderr: \"own bytes\\n\"\n";
    let s = load_str(text, Path::new("t.yaml")).unwrap();
    let (v, stderr) = judge_from_frames(&s);
    assert_eq!(stderr, b"own bytes\n");
    assert_eq!(v, Verdict::Pass);
}

#[test]
fn a_wrong_expectation_still_fails_from_frames() {
    let text = "id: fd_close/t\nsummary: s\nspec: t\nstrength: must\nsteps:\n  - fd_close: {fd: 1234}\n    expect: {errno: success}\n";
    let s = load_str(text, Path::new("t.yaml")).unwrap();
    match judge_from_frames(&s).0 {
        Verdict::Fail(lines) => assert!(lines[0].contains("observed badf"), "{lines:?}"),
        v => panic!("{v:?}"),
    }
}
