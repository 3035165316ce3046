//! Crash isolation of in-process adapters (`runners/src/isolated/`), on real worker
//! processes: an isolated run gives what the same run gives in-process; a worker killed by
//! a signal mid-run costs that run (a crash verdict naming the signal) and the next run gets
//! a fresh worker; a timed-out worker is replaced.
//!
//! A plain `#[test]` binary cannot be re-run as a worker, so this one has its own `main`
//! (`harness = false`) that calls `registry::serve_if_worker` first (through `test_main`),
//! like the CLI and the scenario harness do.

use std::path::Path;
use std::time::{Duration, Instant};

use wasi_conform_runners::isolated::Isolated;
use wasi_conform_runners::test_main::{test_main, tests};
use wasi_conform_runners::wasmer::Wasmer;
use wasi_conform_runners::{execute, Runtime, Sandbox};
use wasi_conform_suite::case::Limits;
use wasi_conform_suite::compile::compile_with;
use wasi_conform_suite::load::load_str;
use wasi_conform_suite::outcome::Ending;
use wasi_conform_suite::verdict::{judge, Verdict};

fn scenario(body: &str) -> wasi_conform_suite::scenario::Scenario {
    let text = format!("summary: s\nspec: test\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\n{body}");
    load_str(&text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()))
}

/// A guest that sleeps 60 s inside `poll_oneoff`.
fn sleeper(timeout: Duration) -> (wasi_conform_suite::scenario::Scenario, wasi_conform_suite::compile::Compiled) {
    let s = scenario(
        "id: poll_oneoff/sleep\nsteps:\n  - poll_oneoff: {in: [{userdata: 1, clock: {id: monotonic, timeout: 60000000000}}]}\n    expect: {errno: success}\n",
    );
    let c = compile_with(&s, Limits { timeout, ..Limits::default() }).unwrap();
    (s, c)
}

fn isolated_runs_match_in_process_runs() {
    let all = wasi_conform_suite::discover::load_builtin().expect("the built-in suite loads");
    let picked: Vec<_> = all
        .into_iter()
        .filter(|s| ["fd_write/", "random_get/", "proc_exit/", "path_open/"].iter().any(|p| s.id.starts_with(p)))
        .take(60)
        .collect();
    assert!(picked.len() >= 40, "enough scenarios to compare: {}", picked.len());
    let iso = Isolated::new(Box::new(Wasmer::new()));
    let direct = Wasmer::new();
    for s in &picked {
        let c = wasi_conform_suite::compile::compile(s).unwrap();
        let a = execute(&iso, &c.case);
        let b = execute(&direct, &c.case);
        assert_eq!(a.ending, b.ending, "{}: ending", s.id);
        assert_eq!(a.stdout, b.stdout, "{}: stdout", s.id);
        assert_eq!(a.stderr, b.stderr, "{}: stderr", s.id);
        assert_eq!(a.memory.is_some(), b.memory.is_some(), "{}: memory", s.id);
        assert_eq!(judge(s, &c.layout, &a).kind(), judge(s, &c.layout, &b).kind(), "{}: verdict", s.id);
        assert_eq!(a.trees, b.trees, "{}: final trees", s.id);
    }
    let pids = iso.worker_pids();
    assert_eq!(pids.len(), 1, "one long-lived worker served every run");
    assert_ne!(pids[0], std::process::id());
}

fn a_worker_killed_mid_run_costs_that_run_only() {
    let iso = Isolated::new(Box::new(Wasmer::new()));
    let (s, c) = sleeper(Duration::from_secs(30));
    let started = Instant::now();
    let outcome = std::thread::scope(|scope| {
        let run = scope.spawn(|| execute(&iso, &c.case));
        // Wait for the worker to exist and be inside the guest's sleep, then kill it.
        let pid = loop {
            if let Some(p) = iso.worker_pids().first() {
                break *p;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no worker started");
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: kill(2) on a child process this test's runtime started.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
        run.join().unwrap()
    });
    match &outcome.ending {
        Ending::Crash(m) => assert!(m.contains("wasmer worker process died") && m.contains("SIGKILL"), "{m}"),
        e => panic!("expected a crash, got {e}"),
    }
    assert!(started.elapsed() < Duration::from_secs(20), "the crash is reported at once");
    assert!(matches!(judge(&s, &c.layout, &outcome), Verdict::Crash(_)));
    assert!(iso.worker_pids().is_empty(), "the dead worker is forgotten");

    // The next run gets a fresh worker and passes.
    let ok = scenario(
        "id: fd_write/ok\nsteps:\n  - fd_write: {fd: 1, iovs: [hello]}\n    expect: {errno: success, nwritten: 5}\n",
    );
    let c2 = compile_with(&ok, Limits::default()).unwrap();
    let o2 = execute(&iso, &c2.case);
    assert_eq!(judge(&ok, &c2.layout, &o2), Verdict::Pass);
    assert_eq!(o2.stdout, b"hello");
    assert_eq!(iso.worker_pids().len(), 1);
}

fn a_timed_out_worker_is_replaced() {
    let iso = Isolated::new(Box::new(Wasmer::new()));
    let (_, c) = sleeper(Duration::from_millis(300));
    let o = execute(&iso, &c.case);
    assert_eq!(o.ending, Ending::Timeout);
    assert!(iso.worker_pids().is_empty(), "the worker that may still run the guest is gone");
}

fn the_sandbox_is_the_parents() {
    // The worker writes into the sandbox the parent made; the parent sees the final tree.
    let s = scenario(
        "id: path_open/create\nsteps:\n  - path_open: {fd: $sandbox, path: made, oflags: [creat], fs_rights_base: [fd_write], fs_rights_inheriting: []}\n    expect: {errno: success}\n",
    );
    let c = compile_with(&s, Limits::default()).unwrap();
    let iso = Isolated::new(Box::new(Wasmer::new()));
    let sandbox = Sandbox::create(&c.case.fixture).unwrap();
    let exec = iso.run(&c.case, &sandbox);
    assert_eq!(exec.ending, Ending::Exit(0));
    assert!(sandbox.final_trees()["/sandbox"].contains_key("made"));
}

fn main() -> std::process::ExitCode {
    test_main(|| {
        tests(&[
            ("isolated_runs_match_in_process_runs", isolated_runs_match_in_process_runs),
            ("a_worker_killed_mid_run_costs_that_run_only", a_worker_killed_mid_run_costs_that_run_only),
            ("a_timed_out_worker_is_replaced", a_timed_out_worker_is_replaced),
            ("the_sandbox_is_the_parents", the_sandbox_is_the_parents),
        ])
    })
}
