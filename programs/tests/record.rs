//! `record`: a traced run written as a scenario reads back with the strict loader, the
//! reference passes it, it makes the same calls, and a runtime that agrees with the
//! reference on the program passes it too; `--minimise` keeps a runtime's divergence in a
//! scenario of a step or two that the runtime still fails.

use std::path::Path;

use wasi_conform_programs::program::{Dir, Program};
use wasi_conform_programs::record::{record_program, Minimise};
use wasi_conform_runners::{execute, registry};
use wasi_conform_suite::scenario::{Arg, Scalar};
use wasi_conform_suite::{compile, verdict};

/// The wasi-libc start-up and `open` idioms: the prestat scan with the name, the
/// directory's rights asked before opening (and the new file's rights computed from its
/// inheriting rights), a write, a whole-directory listing with libc's 4096-byte buffer.
const GUEST: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir" (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "new.txt")
  (data (i32.const 1100) "recorded\n")
  (func (export "_start")
    (local $fd i32)
    (drop (call $prestat_get (i32.const 3) (i32.const 2048)))
    (drop (call $dir_name (i32.const 3) (i32.const 2100) (i32.load (i32.const 2052))))
    (drop (call $prestat_get (i32.const 4) (i32.const 2048)))
    (drop (call $fdstat_get (i32.const 3) (i32.const 2200)))
    ;; open "w": creat|trunc, base = inheriting minus fd_read and fd_readdir
    (drop (call $path_open (i32.const 3) (i32.const 1) (i32.const 1024) (i32.const 7) (i32.const 9)
      (i64.and (i64.load (i32.const 2216)) (i64.const 0xFFFFFFFFFFFFBFFD)) (i64.load (i32.const 2216))
      (i32.const 0) (i32.const 2064)))
    (local.set $fd (i32.load (i32.const 2064)))
    (i32.store (i32.const 2080) (i32.const 1100))
    (i32.store (i32.const 2084) (i32.const 9))
    (drop (call $fd_write (local.get $fd) (i32.const 2080) (i32.const 1) (i32.const 2088)))
    (drop (call $fd_write (i32.const 1) (i32.const 2080) (i32.const 1) (i32.const 2088)))
    (drop (call $fd_close (local.get $fd)))
    (drop (call $fd_readdir (i32.const 3) (i32.const 8192) (i32.const 4096) (i64.const 0) (i32.const 2120)))))
"#;

fn program(dir: &Path) -> Program {
    let wasm = wat::parse_str(GUEST).expect("the guest is valid WAT");
    let file = dir.join("idioms.wasm");
    std::fs::write(&file, wasm).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("old.txt"), "kept").unwrap();
    let mut p = Program::from_file(&file).unwrap();
    p.dirs = vec![Dir { host: data, guest: "/data".into() }];
    p
}

fn passes(runtime: &str, s: &wasi_conform_suite::scenario::Scenario) -> verdict::Verdict {
    let rt = registry::builtin(runtime).expect("a built-in runtime");
    let c = compile::compile(s).unwrap();
    verdict::judge(s, &c.layout, &execute(rt.as_ref(), &c.case))
}

#[test]
fn a_recorded_run_is_a_scenario_the_reference_and_an_agreeing_runtime_pass() {
    let dir = tempfile::tempdir().unwrap();
    let p = program(dir.path());
    let r = record_program(&p, None, None).expect("recorded");
    let s = &r.scenario;
    let calls: Vec<&str> = s.steps.iter().map(|st| st.function.name).collect();
    assert_eq!(
        calls,
        [
            "fd_prestat_get",
            "fd_prestat_dir_name",
            "fd_prestat_get",
            "fd_fdstat_get",
            "path_open",
            "fd_write",
            "fd_write",
            "fd_close",
            "fd_readdir"
        ]
    );
    assert_eq!(s.id, "fd_prestat_get/recorded-idioms");
    // The preopen by its binding; the number past it as the number the program passed.
    assert_eq!(s.steps[0].args[0], Arg::Scalar(Scalar::Binding("data".into())));
    assert_eq!(s.steps[2].args[0], Arg::Scalar(Scalar::Value(4)));
    // The new file's rights: the runtime's own inheriting rights, masked as the program did.
    assert!(
        matches!(&s.steps[4].args[4], Arg::Scalar(Scalar::Masked { binding, mask }) if binding == "inh4" && *mask & 2 == 0),
        "{:?}",
        s.steps[4].args[4]
    );
    assert!(r.yaml.contains("{of: \"$inh4\", and: "), "{}", r.yaml);
    assert_eq!(s.steps[5].args[0], Arg::Scalar(Scalar::Binding("f5".into())));
    assert_eq!(s.stdout.as_deref(), Some(b"recorded\n".as_slice()));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    // record_program already checked that the reference passes; wasmtime agrees with the
    // reference on this program, so it passes too.
    assert!(passes("reference", s).is_pass());
    let v = passes("wasmtime", s);
    assert!(v.is_pass(), "{}", v.message());
}

#[test]
fn minimise_keeps_wasmers_preopen_name_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let p = program(dir.path());
    let m = Minimise { runtime: "wasmer".into(), runs: 200 };
    let r = record_program(&p, None, Some(&m)).expect("recorded and minimised");
    let info = r.minimised.as_ref().expect("minimised");
    assert_eq!(info.steps.0, 9);
    assert!(info.steps.1 <= 2, "{}", r.yaml);
    assert!(info.runs <= 200);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert!(passes("reference", &r.scenario).is_pass());
    let v = passes("wasmer", &r.scenario);
    assert!(!v.is_pass(), "the minimised scenario must still fail on wasmer:\n{}", r.yaml);
    assert_eq!(r.scenario.strength, wasi_conform_suite::scenario::Strength::Choice);
}

#[test]
fn minimising_against_a_runtime_that_agrees_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = program(dir.path());
    let m = Minimise { runtime: "wasmtime".into(), runs: 50 };
    let e = record_program(&p, None, Some(&m)).expect_err("wasmtime agrees");
    assert!(e.to_string().contains("agrees with the reference"), "{e}");
}
