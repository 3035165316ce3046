//! The guarantees every in-process adapter gives, checked once for each of them on real
//! runtimes: Wasmtime, wasmi, Wasmer, and Wasmer in its crash-isolating worker process.
//!
//! Each behaviour is one function taking the runtime; each (behaviour, runtime) pair is one
//! trial, named `<runtime>/<behaviour>`. Adapter-specific facts (Wasmer's virtual root
//! preopen, module caches) stay in the adapters' own unit tests.
//!
//! Own `main` (`harness = false`): the isolated Wasmer re-runs this binary as its worker.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasi_conform_runners::isolated::Isolated;
use wasi_conform_runners::test_main::{test_main, Test};
use wasi_conform_runners::wasmer::Wasmer;
use wasi_conform_runners::wasmi::Wasmi;
use wasi_conform_runners::wasmtime::Wasmtime;
use wasi_conform_runners::{execute, Runtime};
use wasi_conform_suite::case::Limits;
use wasi_conform_suite::compile::{compile_with, Compiled};
use wasi_conform_suite::load::{load_file, load_str};
use wasi_conform_suite::outcome::{Ending, TrapClass};
use wasi_conform_suite::scenario::Scenario;
use wasi_conform_suite::verdict::{judge, Verdict};

fn scenario(body: &str) -> Scenario {
    let text = format!("summary: s\nspec: test\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\n{body}");
    load_str(&text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()))
}

/// A one-step scenario compiled with `limits`, its module replaced by `body`.
fn raw_case(body: &[wasm_encoder::Instruction], max_pages: Option<u64>, limits: Limits) -> Compiled {
    let s = scenario("id: sched_yield/raw\nsteps:\n  - sched_yield: {}\n    expect: {errno: success}\n");
    let mut c = compile_with(&s, limits).unwrap();
    c.case.module = Arc::new(module(body, max_pages));
    c
}

fn the_readme_example_passes_twice(rt: &dyn Runtime) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suite/README.yaml");
    let s = load_file(&path).unwrap_or_else(|e| panic!("{}", e.with_snippet()));
    let c = compile_with(&s, Limits::default()).unwrap();
    for _ in 0..2 {
        let o = execute(rt, &c.case);
        assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass, "{:?}", o.ending);
    }
}

fn an_out_of_bounds_pointer_traps_and_the_trace_survives(rt: &dyn Runtime) {
    let s = scenario(
        "id: fd_write/oob\nsteps:\n  - fd_write: {fd: 1, iovs: [ok]}\n    expect: {errno: success}\n  - fd_write: {fd: 1, iovs: {ptr: 4294967288, len: 1}}\n    expect: {errno: success}\nend: trap\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let o = execute(rt, &c.case);
    assert_eq!(o.stdout, b"ok");
    assert!(o.memory.is_some());
    match &o.ending {
        Ending::Trap(t) => {
            assert!(matches!(t.class, TrapClass::MemoryOutOfBounds | TrapClass::HostError), "{t}");
            assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass);
        }
        // A runtime that returns `fault` instead of trapping (Wasmer: a known failure in its
        // expectation file) still reports both steps through the trace.
        Ending::Exit(0) => match judge(&s, &c.layout, &o) {
            Verdict::Fail(diffs) => assert!(diffs.iter().any(|d| d.contains("step 2")), "{diffs:?}"),
            v => panic!("expected the trace to show step 2's errno, got {v:?}"),
        },
        e => panic!("expected a trap or the trace of both steps, got {e}"),
    }
}

fn unreachable_traps_and_memory_survives(rt: &dyn Runtime) {
    // Stores a marker at address 16, then traps.
    use wasm_encoder::Instruction::*;
    let store =
        wasm_encoder::MemArg { offset: 0, align: 2, target: wasm_encoder::MemArgTarget::Memory(0), ordering: None };
    let c = raw_case(&[I32Const(16), I32Const(0x5741_534d), I32Store(store), Unreachable], Some(1), Limits::default());
    let o = execute(rt, &c.case);
    match &o.ending {
        Ending::Trap(t) => assert_eq!(t.class, TrapClass::Unreachable, "{t}"),
        e => panic!("expected a trap, got {e}"),
    }
    let memory = o.memory.expect("memory after a trap");
    assert_eq!(memory[16..20], 0x5741_534du32.to_le_bytes());
}

fn proc_exit_code_is_surfaced_with_memory(rt: &dyn Runtime) {
    let s = scenario(
        "id: proc_exit/seven\nsteps:\n  - fd_write: {fd: 1, iovs: [bye]}\n    expect: {errno: success, nwritten: 3}\n  - proc_exit: {rval: 7}\nend: {exit: 7}\nstdout: bye\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let o = execute(rt, &c.case);
    assert_eq!(o.ending, Ending::Exit(7));
    assert!(o.memory.is_some());
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass);
}

fn argv_env_and_stdin_are_exactly_the_fixtures(rt: &dyn Runtime) {
    let s = load_str(
        "id: fd_read/stdin\nsummary: s\nspec: test\nstrength: must\nfixture:\n  args: [prog, a b]\n  env: [K=v=w, EMPTY=]\n  stdin: hello\nsteps:\n  - args_get: {}\n    expect: {errno: success, args: [prog, a b]}\n  - environ_get: {}\n    expect: {errno: success, environ: [K=v=w, EMPTY=]}\n  - fd_read: {fd: 0, iovs: [8]}\n    expect: {errno: success, nread: 5, read: hello}\n  - fd_read: {fd: 0, iovs: [8]}\n    expect: {errno: success, nread: 0}\n  - fd_write: {fd: 2, iovs: [err]}\n    expect: {errno: success}\n",
        Path::new("test.yaml"),
    )
    .unwrap_or_else(|e| panic!("{}", e.with_snippet()));
    let c = compile_with(&s, Limits::default()).unwrap();
    let o = execute(rt, &c.case);
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass, "{:?}", o.ending);
    assert_eq!(o.stderr, b"err");
}

fn the_trace_survives_closing_and_renumbering_stdout(rt: &dyn Runtime) {
    let s = scenario(
        "id: fd_renumber/stdout\nsteps:\n  - fd_renumber: {fd: 2, to: 1}\n    expect: {errno: success}\n  - fd_close: {fd: 1}\n    expect: {errno: success}\n  - fd_write: {fd: 1, iovs: [x]}\n    expect: {errno: badf}\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let o = execute(rt, &c.case);
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Pass, "{:?}", o.ending);
}

fn a_guest_blocked_in_a_host_call_times_out(rt: &dyn Runtime) {
    // A 60 s relative clock subscription: the guest sleeps inside poll_oneoff, where fuel,
    // epochs and interrupts cannot reach it; the adapter must still give up at the limit.
    let s = scenario(
        "id: poll_oneoff/hang\nsteps:\n  - poll_oneoff: {in: [{userdata: 1, clock: {id: monotonic, timeout: 60000000000}}]}\n    expect: {errno: success}\n",
    );
    let c = compile_with(&s, Limits { timeout: Duration::from_millis(300), ..Limits::default() }).unwrap();
    let started = Instant::now();
    let o = execute(rt, &c.case);
    assert_eq!(o.ending, Ending::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(judge(&s, &c.layout, &o), Verdict::Timeout);
}

fn a_guest_looping_forever_times_out(rt: &dyn Runtime) {
    use wasm_encoder::{BlockType, Instruction::*};
    let c = raw_case(
        &[Loop(BlockType::Empty), Br(0), End],
        Some(1),
        Limits { timeout: Duration::from_millis(300), ..Limits::default() },
    );
    let started = Instant::now();
    let o = execute(rt, &c.case);
    assert_eq!(o.ending, Ending::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

fn memory_never_grows_past_the_limit(rt: &dyn Runtime) {
    // memory.grow(16) past a 4-page limit must fail (-1; `unreachable` otherwise), unless
    // the adapter refuses up front a module whose memory could exceed the limit.
    use wasm_encoder::{BlockType, Instruction::*};
    let c = raw_case(
        &[I32Const(16), MemoryGrow(0), I32Const(-1), I32Ne, If(BlockType::Empty), Unreachable, End],
        None,
        Limits { memory_bytes: 4 << 16, ..Limits::default() },
    );
    let ending = execute(rt, &c.case).ending;
    // Wasmer (in-process or isolated) caps the memory at the limit: it never refuses here.
    if rt.name() == "wasmer" {
        assert_eq!(ending, Ending::Exit(0), "Wasmer: expected memory.grow past the limit to return -1");
    }
    match ending {
        Ending::Exit(0) => {}
        Ending::Crash(m) if m.contains("limit") => {}
        e => panic!("expected the growth to fail or the module to be refused, got {e}"),
    }
}

type Behaviour = fn(&dyn Runtime);

const BEHAVIOURS: &[(&str, Behaviour)] = &[
    ("the_readme_example_passes_twice", the_readme_example_passes_twice),
    ("an_out_of_bounds_pointer_traps_and_the_trace_survives", an_out_of_bounds_pointer_traps_and_the_trace_survives),
    ("unreachable_traps_and_memory_survives", unreachable_traps_and_memory_survives),
    ("proc_exit_code_is_surfaced_with_memory", proc_exit_code_is_surfaced_with_memory),
    ("argv_env_and_stdin_are_exactly_the_fixtures", argv_env_and_stdin_are_exactly_the_fixtures),
    ("the_trace_survives_closing_and_renumbering_stdout", the_trace_survives_closing_and_renumbering_stdout),
    ("a_guest_blocked_in_a_host_call_times_out", a_guest_blocked_in_a_host_call_times_out),
    ("a_guest_looping_forever_times_out", a_guest_looping_forever_times_out),
    ("memory_never_grows_past_the_limit", memory_never_grows_past_the_limit),
];

fn main() -> std::process::ExitCode {
    test_main(|| {
        let runtimes: Vec<(&str, Arc<dyn Runtime>)> = vec![
            ("wasmtime", Arc::new(Wasmtime::new())),
            ("wasmi", Arc::new(Wasmi::new())),
            ("wasmer", Arc::new(Wasmer::new())),
            ("wasmer-isolated", Arc::new(Isolated::new(Box::new(Wasmer::new())))),
        ];
        let mut all: Vec<Test> = Vec::new();
        for (rt_name, rt) in &runtimes {
            for (name, behaviour) in BEHAVIOURS {
                let (rt, behaviour) = (rt.clone(), *behaviour);
                all.push((format!("{rt_name}/{name}"), Box::new(move || behaviour(rt.as_ref()))));
            }
        }
        all
    })
}

/// A module exporting `memory` (1 page, maximum `max`) and `_start` with the given body.
fn module(body: &[wasm_encoder::Instruction], max: Option<u64>) -> Vec<u8> {
    use wasm_encoder::*;
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut mem = MemorySection::new();
    mem.memory(MemoryType { minimum: 1, maximum: max, memory64: false, shared: false, page_size_log2: None });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0).export("_start", ExportKind::Func, 0);
    let mut f = Function::new([]);
    for i in body {
        f.instruction(i);
    }
    f.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&f);
    let mut m = Module::new();
    m.section(&types).section(&funcs).section(&mem).section(&exports).section(&code);
    m.finish()
}
