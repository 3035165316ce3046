//! A runtime that escapes its sandbox gets a verdict of its own, and the real sandbox keeps
//! the canaries intact. These run the real Wasmtime adapter on real files. (Hangs, traps
//! and limits of every in-process adapter: runners/tests/in_process.rs; crashes:
//! runners/tests/crash_isolation.rs.)

use std::path::Path;
use std::time::Duration;

use wasi_conform_runners::wasmtime::Wasmtime;
use wasi_conform_runners::{execute, Sandbox};
use wasi_conform_suite::case::Limits;
use wasi_conform_suite::compile::compile_with;
use wasi_conform_suite::load::load_str;
use wasi_conform_suite::outcome::{Canaries, Outcome};
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
        exit_width: wasi_conform_suite::outcome::ExitWidth::Full,
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
