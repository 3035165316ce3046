//! A runtime that escapes its sandbox, hangs, or traps costs one scenario and gets a
//! verdict of its own. These run the real Wasmtime adapter on real files.

use std::path::Path;
use std::time::{Duration, Instant};

use wasi_conform_runners::wasmtime::Wasmtime;
use wasi_conform_runners::{execute, Sandbox};
use wasi_conform_suite::case::Limits;
use wasi_conform_suite::compile::compile_with;
use wasi_conform_suite::load::load_str;
use wasi_conform_suite::outcome::{Canaries, Ending, Outcome, TrapClass};
use wasi_conform_suite::verdict::{judge, Verdict};

fn scenario(body: &str) -> wasi_conform_suite::scenario::Scenario {
    let text = format!("summary: s\nspec: test\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\n{body}");
    load_str(&text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()))
}

#[test]
fn writing_outside_the_preopens_is_an_escape() {
    // The guest is (wrongly) given the sandbox's parent directory as `/sandbox`, as a
    // runtime with a path-mapping bug would; it overwrites the canary next to its preopen.
    let s = scenario(
        "id: path_open/escape\nsteps:\n  - path_open: {fd: $sandbox, path: outside/secret, oflags: [trunc], fs_rights_base: [fd_write], fs_rights_inheriting: []}\n    bind: f\n    expect: {errno: success}\n  - fd_write: {fd: $f, iovs: [pwned]}\n    expect: {errno: success}\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let sandbox = Sandbox::create(&c.case.fixture).unwrap();
    let root = sandbox.preopens()[0].1.parent().unwrap().to_owned();
    let exec = Wasmtime::new().run_with_preopens(&c.case, &[("/sandbox".to_owned(), root)]);
    let outcome = Outcome {
        ending: exec.ending,
        stdout: exec.stdout,
        stderr: exec.stderr,
        memory: exec.memory,
        trees: sandbox.final_trees(),
        canaries: sandbox.check_canaries(),
        elapsed: Duration::ZERO,
    };
    assert_eq!(outcome.canaries, Canaries::Changed(vec!["root/outside/secret (modified)".into()]));
    match judge(&s, &c.layout, &outcome) {
        Verdict::Escape(paths) => assert_eq!(paths, ["root/outside/secret (modified)"]),
        v => panic!("expected an escape verdict, got {v:?}"),
    }
}

#[test]
fn the_real_sandbox_keeps_canaries_intact() {
    let s = scenario(
        "      tree:\n        escape: {symlink: ../outside/secret}\nid: path_open/escape\nsteps:\n  - path_open: {fd: $sandbox, dirflags: [symlink_follow], path: escape, oflags: [trunc], fs_rights_base: [fd_write], fs_rights_inheriting: []}\n    expect:\n      errno: {one-of: [perm, notcapable], because: escape}\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let o = execute(&Wasmtime::new(), &c.case);
    assert_eq!(o.canaries, Canaries::Intact);
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass);
}

#[test]
fn a_guest_blocked_in_a_host_call_times_out() {
    // A 60 s relative clock subscription: the guest sleeps inside poll_oneoff, where epoch
    // interruption cannot reach it; the watchdog must give up after the limit.
    let s = scenario(
        "id: poll_oneoff/hang\nsteps:\n  - poll_oneoff: {in: [{userdata: 1, clock: {id: monotonic, timeout: 60000000000}}]}\n    expect: {errno: success}\n",
    );
    let c = compile_with(&s, Limits { timeout: Duration::from_millis(300), ..Limits::default() }).unwrap();
    let started = Instant::now();
    let o = execute(&Wasmtime::new(), &c.case);
    assert_eq!(o.ending, Ending::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Timeout);
}

#[test]
fn a_guest_looping_forever_times_out() {
    let s = scenario("id: sched_yield/loop\nsteps:\n  - sched_yield: {}\n    expect: {errno: success}\n");
    let mut c = compile_with(&s, Limits { timeout: Duration::from_millis(300), ..Limits::default() }).unwrap();
    c.case.module = std::sync::Arc::new(infinite_loop_module());
    let o = execute(&Wasmtime::new(), &c.case);
    assert_eq!(o.ending, Ending::Timeout);
}

#[test]
fn an_out_of_bounds_pointer_traps_and_the_trace_survives() {
    let s = scenario(
        "id: fd_write/oob\nsteps:\n  - fd_write: {fd: 1, iovs: [ok]}\n    expect: {errno: success}\n  - fd_write: {fd: 1, iovs: {ptr: 4294967288, len: 1}}\n    expect: {errno: success}\nend: trap\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let o = execute(&Wasmtime::new(), &c.case);
    match &o.ending {
        Ending::Trap(t) => assert!(matches!(t.class, TrapClass::MemoryOutOfBounds | TrapClass::HostError), "{t}"),
        e => panic!("expected a trap, got {e}"),
    }
    assert_eq!(o.stdout, b"ok");
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass);
}

#[test]
fn the_trace_survives_closing_and_renumbering_stdout() {
    let s = scenario(
        "id: fd_renumber/stdout\nsteps:\n  - fd_renumber: {fd: 2, to: 1}\n    expect: {errno: success}\n  - fd_close: {fd: 1}\n    expect: {errno: success}\n  - fd_write: {fd: 1, iovs: [x]}\n    expect: {errno: badf}\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let o = execute(&Wasmtime::new(), &c.case);
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass);
}

/// `(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))`
fn infinite_loop_module() -> Vec<u8> {
    use wasm_encoder::*;
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut mem = MemorySection::new();
    mem.memory(MemoryType { minimum: 1, maximum: Some(1), memory64: false, shared: false, page_size_log2: None });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0).export("_start", ExportKind::Func, 0);
    let mut f = Function::new([]);
    f.instruction(&Instruction::Loop(BlockType::Empty))
        .instruction(&Instruction::Br(0))
        .instruction(&Instruction::End)
        .instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&f);
    let mut m = Module::new();
    m.section(&types).section(&funcs).section(&mem).section(&exports).section(&code);
    m.finish()
}
