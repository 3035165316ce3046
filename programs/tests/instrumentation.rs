//! Instrumenting a module changes nothing but the frames: on every runtime, the plain and
//! the instrumented module end the same way, print the same stdout and stderr (once the
//! frames are taken out) and leave the same files; and the trace decodes to exactly the
//! calls the module makes. The module keeps data in the scratch area the shims borrow and
//! prints it after traced calls, so a shim that did not restore it would show.

use std::path::Path;
use std::sync::Arc;

use wasi_conform_programs::calls::from_streams;
use wasi_conform_programs::diff::{diff, Verdict};
use wasi_conform_programs::instrument;
use wasi_conform_programs::program::{Dir, Program};
use wasi_conform_runners::test_main::{needs_runtime, run_trials, trial};
use wasi_conform_runners::{execute, registry};

const GUEST: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir" (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; data the shims' scratch area covers: printed after traced calls
  (data (i32.const 0) "low memory survives\n")
  (data (i32.const 200) "and so does this\n")
  (data (i32.const 1024) "in.txt")
  (data (i32.const 1040) "out.txt")
  (func $print (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 2112) (local.get $ptr))
    (i32.store (i32.const 2116) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 2112) (i32.const 1) (i32.const 2104))))
  (func (export "_start")
    (drop (call $prestat_get (i32.const 3) (i32.const 2048)))
    ;; in.txt, read-only (rights: fd_read)
    (drop (call $path_open (i32.const 3) (i32.const 1) (i32.const 1024) (i32.const 6)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 2064)))
    (i32.store (i32.const 2080) (i32.const 4096))
    (i32.store (i32.const 2084) (i32.const 64))
    (drop (call $fd_read (i32.load (i32.const 2064)) (i32.const 2080) (i32.const 1) (i32.const 2088)))
    (call $print (i32.const 1) (i32.const 4096) (i32.load (i32.const 2088)))
    (call $print (i32.const 1) (i32.const 0) (i32.const 20))
    ;; out.txt, created (rights: fd_write)
    (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 1040) (i32.const 7)
      (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 2068)))
    (call $print (i32.load (i32.const 2068)) (i32.const 4096) (i32.load (i32.const 2088)))
    (drop (call $fd_close (i32.load (i32.const 2068))))
    (drop (call $fd_readdir (i32.const 3) (i32.const 8192) (i32.const 256) (i64.const 0) (i32.const 2120)))
    ;; a call that fails: "in." does not exist
    (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 1024) (i32.const 3)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 2072)))
    (call $print (i32.const 2) (i32.const 200) (i32.const 17))
    (call $proc_exit (i32.const 7))))
"#;

/// The calls the guest makes, in order.
const CALLS: [&str; 14] = [
    "fd_prestat_get",
    "path_open",
    "fd_read",
    "fd_write",
    "fd_write",
    "path_open",
    "fd_write",
    "fd_close",
    "fd_readdir",
    "path_open",
    "fd_write",
    "proc_exit",
    "",
    "",
];

fn program(dir: &Path) -> Program {
    let wasm = wat::parse_str(GUEST).expect("the guest is valid WAT");
    std::fs::write(dir.join("in.txt"), "hello, traced world\n").unwrap();
    let mut p = Program::from_file(&{
        let f = dir.join("guest.wasm");
        std::fs::write(&f, &wasm).unwrap();
        f
    })
    .unwrap();
    p.dirs = vec![Dir { host: dir.to_owned(), guest: "/sandbox".into() }];
    p.budget = std::time::Duration::from_secs(20);
    p
}

fn same_with_and_without_shims(name: &str) {
    let rt = registry::builtin(name).expect("a built-in runtime");
    let host = tempfile::tempdir().unwrap();
    let p = program(host.path());
    let plain = execute(rt.as_ref(), &p.case(p.wasm.clone()).unwrap());
    let traced_module = Arc::new(instrument(&p.wasm).unwrap().wasm);
    let traced = execute(rt.as_ref(), &p.case(traced_module).unwrap());
    let t = from_streams(&traced.stdout, &traced.stderr);
    assert_eq!(plain.ending, traced.ending, "{name}: ending");
    assert_eq!(String::from_utf8_lossy(&plain.stdout), String::from_utf8_lossy(&t.stdout), "{name}: stdout");
    assert_eq!(String::from_utf8_lossy(&plain.stderr), String::from_utf8_lossy(&t.stderr), "{name}: stderr");
    assert_eq!(plain.trees, traced.trees, "{name}: final trees");
    assert!(String::from_utf8_lossy(&plain.stdout).contains("low memory survives"), "{name}: {plain:?}");
    assert!(t.malformed.is_empty(), "{name}: {:?}", t.malformed);
    let names: Vec<&str> = t.calls.iter().map(|c| c.function.name).collect();
    assert_eq!(names, CALLS[..12], "{name}: the calls traced");
    assert_eq!(t.calls.last().unwrap().errno, None, "{name}: proc_exit does not return");
    let open = &t.calls[1];
    assert_eq!(open.regions[0].1, b"in.txt", "{name}: the path recorded");
    let read = &t.calls[2];
    if open.errno == Some(0) && read.errno == Some(0) {
        // The iovec array itself (buffer 4096, length 64), then the bytes read.
        assert_eq!(read.regions[0], (2080, [4096u32.to_le_bytes(), 64u32.to_le_bytes()].concat()), "{name}");
        assert_eq!(read.regions[1].1, b"hello, traced world\n", "{name}: the bytes read: {read:?}");
    }
    // The host directory was copied, never written.
    assert!(!host.path().join("out.txt").exists(), "{name}: wrote into the user's directory");
}

fn main() -> std::process::ExitCode {
    run_trials(|| {
        let mut trials = vec![trial("instrument/reference-agrees-with-itself", || {
            let host = tempfile::tempdir().unwrap();
            let p = program(host.path());
            let reference = registry::builtin("reference").unwrap();
            let again = vec![registry::builtin("reference").unwrap()];
            let report = diff(&p, reference.as_ref(), &again, 1).unwrap();
            assert_eq!(report.runtimes[0].verdict, Verdict::Agrees, "{}", report.text());
            assert_eq!(report.reference.calls, 12);
        })];
        trials.push(trial("instrument/a-module-without-preview1-imports-is-left-alone", || {
            let wasm = wat::parse_str("(module (memory (export \"memory\") 1) (func (export \"_start\")))").unwrap();
            assert_eq!(instrument(&wasm).unwrap().wasm, wasm);
        }));
        trials.push(trial("instrument/a-wrong-signature-is-refused", || {
            let wasm = wat::parse_str(
                "(module (import \"wasi_snapshot_preview1\" \"fd_close\" (func (param i64) (result i32))) (memory 1))",
            )
            .unwrap();
            let e = instrument(&wasm).unwrap_err().to_string();
            assert!(e.contains("fd_close"), "{e}");
        }));
        for rt in registry::all().expect("the registry") {
            let name = rt.name();
            trials.push(needs_runtime(
                format!("instrument/{name}/same-with-and-without-shims"),
                name,
                &rt.availability(),
                move || same_with_and_without_shims(name),
            ));
        }
        trials
    })
}
