//! What every JS adapter (`runners/src/js/`: Node, Bun, Deno, through `runners/js/runner.mjs`)
//! guarantees, checked for each on the real runtime: one trial per (runtime, behaviour),
//! named `<runtime>/<behaviour>`, each with a fresh adapter (its own worker pool).
//!
//! A runtime that is not installed has its trials reported *ignored*, with why (never a
//! silent pass); under `CI` they fail instead, unless `WASI_CONFORM_OPTIONAL_RUNTIMES`
//! names the runtime (see `wasi_conform_runners::test_main::needs_runtime`).

use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasi_conform_runners::js::{bun, deno, node, JsRuntime, DRAIN_TIMEOUT};
use wasi_conform_runners::test_main::{needs_runtime, run_trials, trial};
use wasi_conform_runners::{execute, Runtime, Sandbox};
use wasi_conform_suite::case::{Limits, TestCase};
use wasi_conform_suite::outcome::{Ending, TrapClass};
use wasi_conform_suite::scenario::Fixture;

/// What `fd_seek` on a stdout pipe gives, per runtime (an errno, or a `one-of`).
fn seek_errno(runtime: &str) -> &'static str {
    match runtime {
        "node" => "{one-of: [spipe, notcapable], because: a pipe}",
        // Bun's stdio entries lack the fd_seek right, so it answers perm before looking.
        "bun" => "perm",
        // Deno's stdio entries are not seekable descriptors to it at all.
        "deno" => "badf",
        other => panic!("no seek errno for {other}"),
    }
}

fn scenario_case(text: &str, file: &str, limits: Limits) -> TestCase {
    let s = wasi_conform_suite::load::load_str(text, Path::new(file)).expect("scenario loads");
    wasi_conform_suite::compile::compile_with(&s, limits).expect("scenario compiles").case
}

/// A hand-assembled module: memory (1 page) with "abc" at 0, `_start` running `body`.
fn raw_case(body: &[u8]) -> TestCase {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type: () -> ()
    m.extend_from_slice(&[3, 2, 1, 0]); // function 0: type 0
    m.extend_from_slice(&[5, 3, 1, 0, 1]); // memory: min 1
    m.extend_from_slice(&[7, 19, 2, 6]);
    m.extend_from_slice(b"memory\x02\x00\x06_start\x00\x00");
    let func_len = body.len() as u8 + 2;
    m.extend_from_slice(&[10, func_len + 2, 1, func_len, 0]);
    m.extend_from_slice(body);
    m.push(0x0b);
    m.extend_from_slice(&[11, 9, 1, 0, 0x41, 0, 0x0b, 3]);
    m.extend_from_slice(b"abc");
    let m = Arc::new(m);
    TestCase {
        id: "raw/module".into(),
        module: m.clone(),
        // No trace to frame: the module writes nothing.
        module_stderr_trace: m,
        fixture: Fixture { args: vec!["raw.wasm".into()], ..Fixture::default() },
        capture_len: 16,
        limits: Limits::default(),
    }
}

const HEAD: &str = "summary: s\nspec: none\nstrength: must\n";

fn sleep_case(seconds: u64, limits: Limits) -> TestCase {
    let text = format!(
        "id: poll_oneoff/sleep\n{HEAD}steps:\n  - poll_oneoff:\n      in:\n        - {{userdata: 1, clock: {{id: monotonic, timeout: {seconds}000000000, precision: 0}}}}\n    expect: {{errno: success}}\n"
    );
    scenario_case(&text, "poll_oneoff/sleep.yaml", limits)
}

fn readme_case() -> TestCase {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../suite/README.yaml")).expect("README");
    scenario_case(&text, "README.yaml", Limits::default())
}

fn readme_example_exits_and_returns_its_trace(rt: &JsRuntime) {
    let case = readme_case();
    let out = execute(rt, &case);
    assert_eq!(out.ending, Ending::Exit(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"done\n");
    let memory = out.memory.expect("memory captured");
    assert_eq!(memory.len(), case.capture_len as usize);
    let at = wasi_conform_suite::trace::TRACE_BASE as usize;
    assert_eq!(memory[at..at + 4], wasi_conform_suite::trace::TRACE_MAGIC.to_le_bytes());
    assert_eq!(out.canaries, wasi_conform_suite::outcome::Canaries::Intact);
}

fn a_blocked_guest_times_out_and_the_next_run_works(rt: &JsRuntime) {
    let case = sleep_case(60, Limits { timeout: Duration::from_millis(500), ..Limits::default() });
    let started = Instant::now();
    let out = execute(rt, &case);
    assert_eq!(out.ending, Ending::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let out = execute(rt, &raw_case(&[]));
    assert_eq!(out.ending, Ending::Exit(0));
}

fn traps_are_classified_and_memory_survives_them(rt: &JsRuntime) {
    let out = execute(rt, &raw_case(&[0x00])); // unreachable
    match &out.ending {
        Ending::Trap(k) => assert_eq!(k.class, TrapClass::Unreachable, "{k}"),
        e => panic!("expected a trap, got {e}"),
    }
    assert_eq!(&out.memory.expect("memory after a trap")[..3], b"abc");
    // i32.const -1; i32.load; drop
    let out = execute(rt, &raw_case(&[0x41, 0x7f, 0x28, 0x02, 0x00, 0x1a]));
    match &out.ending {
        Ending::Trap(k) => assert_eq!(k.class, TrapClass::MemoryOutOfBounds, "{k}"),
        e => panic!("expected a trap, got {e}"),
    }
}

fn a_bad_guest_pointer_to_the_host_ends_in_a_defined_way(rt: &JsRuntime) {
    let text =
        format!("id: fd_write/bad-iovs\n{HEAD}steps:\n  - fd_write: {{fd: 1, iovs: {{ptr: 4294967288, len: 1}}}}\n    expect: {{errno: fault}}\n");
    let case = scenario_case(&text, "fd_write/bad-iovs.yaml", Limits::default());
    let out = execute(rt, &case);
    // An errno (the run exits) or a trap (host error included): a normal ending, never a
    // crash or a timeout, and the worker survives it.
    assert!(matches!(out.ending, Ending::Exit(0) | Ending::Trap(_)), "{}", out.ending);
    assert!(out.memory.is_some());
    assert_eq!(execute(rt, &raw_case(&[])).ending, Ending::Exit(0));
}

fn proc_exit_code_and_memory_are_reported(rt: &JsRuntime) {
    let text = format!("id: proc_exit/seven\n{HEAD}steps:\n  - proc_exit: {{rval: 7}}\nend: {{exit: 7}}\n");
    let case = scenario_case(&text, "proc_exit/seven.yaml", Limits::default());
    // Twice: the worker survives proc_exit.
    for _ in 0..2 {
        let out = execute(rt, &case);
        assert_eq!(out.ending, Ending::Exit(7));
        assert!(out.memory.is_some());
    }
}

fn a_worker_that_dies_is_a_crash_and_is_replaced(rt: &JsRuntime) {
    assert_eq!(execute(rt, &raw_case(&[])).ending, Ending::Exit(0));
    // The one idle worker will take the next run: kill it in the middle of that run,
    // the way the OOM killer would.
    let pid = *rt.idle_worker_pids().last().expect("an idle worker");
    let case = sleep_case(3, Limits::default());
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        Command::new("kill").arg("-9").arg(pid.to_string()).status()
    });
    let out = execute(rt, &case);
    assert!(killer.join().expect("killer").expect("kill runs").success());
    match &out.ending {
        Ending::Crash(m) => assert!(m.contains("died") && m.contains("signal: 9"), "{m}"),
        e => panic!("expected a crash, got {e}"),
    }
    // The next run gets a fresh worker.
    assert_eq!(execute(rt, &raw_case(&[])).ending, Ending::Exit(0));
}

fn runs_from_several_threads_at_once(rt: &JsRuntime) {
    let case = readme_case();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    let out = execute(rt, &case);
                    assert_eq!(out.ending, Ending::Exit(0));
                    assert_eq!(out.stdout, b"done\n");
                }
            });
        }
    });
}

fn the_environment_is_exactly_the_fixtures(rt: &JsRuntime) {
    let text = format!(
        "id: environ_get/exact\n{HEAD}fixture:\n  env: [A=1, B=x=y, __proto__=p]\nsteps:\n  - environ_get: {{environ: 4096, environ_buf: 4096}}\n    expect: {{errno: success, environ: [A=1, B=x=y, __proto__=p]}}\n"
    );
    let s = wasi_conform_suite::load::load_str(&text, Path::new("environ_get/exact.yaml")).expect("loads");
    let compiled = wasi_conform_suite::compile::compile(&s).expect("compiles");
    let out = execute(rt, &compiled.case);
    let v = wasi_conform_suite::verdict::judge(&s, &compiled.layout, &out);
    assert!(matches!(v, wasi_conform_suite::verdict::Verdict::Pass), "{}", v.message());
}

/// 200 KiB of stdin (more than a pipe holds) of which the guest reads 5 bytes; then
/// 100 KiB to stdout; then `fd_seek` on stdout, whose errno must be `seek` (an errno, or
/// a `one-of`).
fn stdin_is_fed_and_stdout_is_a_pipe(rt: &JsRuntime) {
    let seek = seek_errno(rt.name());
    let text = format!(
        "id: fd_read/stdin\n{HEAD}fixture:\n  stdin: {{repeat: abcde, times: 40960}}\nsteps:\n  - fd_read: {{fd: 0, iovs: [5]}}\n    expect: {{errno: success, nread: 5, read: abcde}}\n  - fd_write: {{fd: 1, iovs: [{{repeat: x, times: 102400}}]}}\n    expect: {{errno: success}}\n  - fd_seek: {{fd: 1, offset: 0, whence: cur}}\n    expect: {{errno: {seek}}}\n"
    );
    let s = wasi_conform_suite::load::load_str(&text, Path::new("fd_read/stdin.yaml")).expect("loads");
    let compiled = wasi_conform_suite::compile::compile(&s).expect("compiles");
    // Twice, so that a worker that reuses its descriptors 0-2 (Bun) is checked too.
    for _ in 0..2 {
        let out = execute(rt, &compiled.case);
        assert_eq!(out.ending, Ending::Exit(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout.len(), 102400);
        let v = wasi_conform_suite::verdict::judge(&s, &compiled.layout, &out);
        assert!(matches!(v, wasi_conform_suite::verdict::Verdict::Pass), "{}", v.message());
    }
}

/// A guest that closes its stdout and stderr does not take the worker's with it.
fn closing_stdio_leaves_the_worker_usable(rt: &JsRuntime) {
    let text = format!(
        "id: fd_close/stdio\n{HEAD}steps:\n  - fd_close: {{fd: 1}}\n    expect: {{errno: success}}\n  - fd_close: {{fd: 2}}\n    expect: {{errno: success}}\n  - fd_close: {{fd: 0}}\n    expect: {{errno: success}}\n"
    );
    let case = scenario_case(&text, "fd_close/stdio.yaml", Limits::default());
    for _ in 0..2 {
        assert_eq!(execute(rt, &case).ending, Ending::Exit(0));
        let out = execute(rt, &readme_case());
        assert_eq!(out.ending, Ending::Exit(0));
        assert_eq!(out.stdout, b"done\n");
    }
}

fn process_per_run_mode_gives_the_same_outcome(rt: &JsRuntime) {
    let case = raw_case(&[0x00]);
    let sandbox = Sandbox::create(&case.fixture).expect("sandbox");
    let exec = rt.run_once(&case, &sandbox);
    assert!(matches!(&exec.ending, Ending::Trap(k) if k.class == TrapClass::Unreachable), "{}", exec.ending);
    assert_eq!(&exec.memory.expect("memory")[..3], b"abc");
    let case = readme_case();
    let sandbox = Sandbox::create(&case.fixture).expect("sandbox");
    let exec = rt.run_once(&case, &sandbox);
    assert_eq!(exec.ending, Ending::Exit(0));
    assert_eq!(exec.stdout, b"done\n");
}

/// A worker does not keep descriptors of past runs' sandboxes open.
fn no_descriptors_pile_up_in_a_worker(rt: &JsRuntime) {
    let case = readme_case();
    let open = |rt: &JsRuntime| {
        let pid = *rt.idle_worker_pids().last().expect("an idle worker");
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc");
        fds.flatten()
            .map(|e| std::fs::read_link(e.path()).unwrap_or_default().display().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(execute(rt, &case).ending, Ending::Exit(0));
    let first = open(rt);
    for _ in 0..30 {
        assert_eq!(execute(rt, &case).ending, Ending::Exit(0));
    }
    let later = open(rt);
    assert!(
        later.len() <= first.len() + 8,
        "{} descriptors after one run, {} after 31: {later:?}",
        first.len(),
        later.len()
    );
}

/// After each answer no worker holds a guest pipe (so none is retired for it), whatever
/// the guest left open or renumbered within the runner's reach.
fn no_pipe_outlives_a_run(rt: &JsRuntime) {
    let text = format!(
        "id: fd_renumber/leftovers\n{HEAD}fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a.txt: {{file: a}}\nsteps:\n  - path_open: {{fd: $sandbox, path: a.txt, fs_rights_base: [fd_read]}}\n    bind: f\n    expect: {{errno: success}}\n  - fd_write: {{fd: 1, iovs: [\"out\\n\"]}}\n    expect: {{errno: success}}\n  - fd_write: {{fd: 2, iovs: [\"err\\n\"]}}\n    expect: {{errno: success}}\n  - fd_renumber: {{fd: 1, to: $f}}\n    expect: {{errno: {{one-of: [success, badf], because: not what is tested}}}}\n"
    );
    let leftovers = scenario_case(&text, "fd_renumber/leftovers.yaml", Limits::default());
    for _ in 0..10 {
        let out = execute(rt, &readme_case());
        assert_eq!((out.ending, out.stdout.as_slice()), (Ending::Exit(0), &b"done\n"[..]));
        let out = execute(rt, &leftovers);
        assert!(matches!(out.ending, Ending::Exit(0) | Ending::Trap(_)), "{}", out.ending);
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    }
    assert_eq!(rt.retired_holding_pipes(), 0);
}

/// Deno keeps a stdout renumbered beyond the runner's `fd_close` sweep open in the worker:
/// the adapter sees that in `/proc`, retires the worker and gets the whole output at once.
fn a_stdout_renumbered_out_of_reach_is_released_by_retiring_the_worker(rt: &JsRuntime) {
    let text = format!(
        "id: fd_renumber/far\n{HEAD}steps:\n  - fd_write: {{fd: 1, iovs: [\"before\\n\"]}}\n    expect: {{errno: success}}\n  - fd_renumber: {{fd: 1, to: 5000}}\n    expect: {{errno: success}}\n  - fd_write: {{fd: 5000, iovs: [\"after\\n\"]}}\n    expect: {{errno: success}}\n"
    );
    let case = scenario_case(&text, "fd_renumber/far.yaml", Limits::default());
    let started = Instant::now();
    let out = execute(rt, &case);
    assert_eq!(out.ending, Ending::Exit(0));
    assert_eq!(out.stdout, b"before\nafter\n");
    assert!(started.elapsed() < DRAIN_TIMEOUT, "took {:?}", started.elapsed());
    let out = execute(rt, &readme_case());
    assert_eq!((out.ending, out.stdout.as_slice()), (Ending::Exit(0), &b"done\n"[..]));
}

fn a_sandbox_copy_is_faithful_and_sees_what_changed() {
    use std::os::unix::fs::MetadataExt;
    use wasi_conform_suite::outcome::Canaries;
    let text = format!(
        "id: path_open/mirror\n{HEAD}fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a.txt: {{file: a}}\n        d/b.txt: {{file: b}}\n        hard: {{hardlink: a.txt}}\n        link: {{symlink: ../outside/secret}}\nsteps:\n  - fd_close: {{fd: 99}}\n    expect: {{errno: badf}}\n"
    );
    let case = scenario_case(&text, "path_open/mirror.yaml", Limits::default());
    let sandbox = Sandbox::create(&case.fixture).expect("sandbox");
    let parent = tempfile::tempdir().expect("tempdir");
    let copy = sandbox.copy_in(parent.path()).expect("copy");
    let host = &copy.preopens()[0].1;
    assert!(host.starts_with(parent.path()));
    assert_eq!(copy.preopens()[0].0, "/sandbox");
    assert_eq!(std::fs::read_link(host.join("link")).expect("symlink").to_string_lossy(), "../outside/secret");
    let (a, hard) = (std::fs::metadata(host.join("a.txt")).unwrap(), std::fs::metadata(host.join("hard")).unwrap());
    assert_eq!((a.ino(), a.nlink()), (hard.ino(), 2));
    assert_eq!(
        std::fs::read(host.join("link")).expect("canary through the link"),
        std::fs::read(sandbox.path().join("root/outside/secret")).unwrap()
    );
    // A change inside the preopen is a tree change; one outside is a canary change.
    std::fs::write(host.join("new.txt"), "n").unwrap();
    std::fs::write(host.join("link"), "escaped").unwrap();
    assert!(copy.final_trees()["/sandbox"].contains_key("new.txt"));
    assert_eq!(copy.check_canaries(), Canaries::Changed(vec!["root/outside/secret (modified)".into()]));
    assert_eq!(sandbox.check_canaries(), Canaries::Intact, "the original is untouched");
}

type Behaviour = fn(&JsRuntime);

/// A JS adapter: its name, a fresh instance, and what only it does.
type Adapter = (&'static str, fn() -> JsRuntime, &'static [(&'static str, Behaviour)]);

/// What every JS adapter does.
const BEHAVIOURS: &[(&str, Behaviour)] = &[
    ("readme_example_exits_and_returns_its_trace", readme_example_exits_and_returns_its_trace),
    ("a_blocked_guest_times_out_and_the_next_run_works", a_blocked_guest_times_out_and_the_next_run_works),
    ("traps_are_classified_and_memory_survives_them", traps_are_classified_and_memory_survives_them),
    ("a_bad_guest_pointer_to_the_host_ends_in_a_defined_way", a_bad_guest_pointer_to_the_host_ends_in_a_defined_way),
    ("proc_exit_code_and_memory_are_reported", proc_exit_code_and_memory_are_reported),
    ("a_worker_that_dies_is_a_crash_and_is_replaced", a_worker_that_dies_is_a_crash_and_is_replaced),
    ("runs_from_several_threads_at_once", runs_from_several_threads_at_once),
    ("the_environment_is_exactly_the_fixtures", the_environment_is_exactly_the_fixtures),
    ("stdin_is_fed_and_stdout_is_a_pipe", stdin_is_fed_and_stdout_is_a_pipe),
    ("closing_stdio_leaves_the_worker_usable", closing_stdio_leaves_the_worker_usable),
    ("process_per_run_mode_gives_the_same_outcome", process_per_run_mode_gives_the_same_outcome),
    ("no_descriptors_pile_up_in_a_worker", no_descriptors_pile_up_in_a_worker),
    ("no_pipe_outlives_a_run", no_pipe_outlives_a_run),
];

/// What only Deno does (its `WASI` keeps duplicates of the guest's descriptors).
const DENO_BEHAVIOURS: &[(&str, Behaviour)] = &[(
    "a_stdout_renumbered_out_of_reach_is_released_by_retiring_the_worker",
    a_stdout_renumbered_out_of_reach_is_released_by_retiring_the_worker,
)];

fn main() -> ExitCode {
    run_trials(|| {
        let adapters: [Adapter; 3] =
            [("node", node::runtime, &[]), ("bun", bun::runtime, &[]), ("deno", deno::runtime, DENO_BEHAVIOURS)];
        let mut trials = vec![trial(
            "sandbox/a_copy_is_faithful_and_sees_what_changed",
            a_sandbox_copy_is_faithful_and_sees_what_changed,
        )];
        for (name, make, own) in adapters {
            let availability = make().availability();
            for (behaviour, check) in BEHAVIOURS.iter().chain(own.iter()) {
                let check = *check;
                trials.push(needs_runtime(format!("{name}/{behaviour}"), name, &availability, move || check(&make())));
            }
        }
        trials
    })
}
