//! The loader refuses malformed scenarios with file, line, column and what was expected —
//! never a panic. Each case is a small broken file and the message it must produce.

use std::path::Path;

use wasi_conform_suite::load::{load_str, LoadError};

const HEAD: &str = "id: fd_close/x\nsummary: s\nspec: witx\nstrength: must\n";

/// Loads `text` as `scenarios/fd_close/x.yaml` and returns (line, column, message).
fn error_of(text: &str) -> (u64, u64, String) {
    match load_str(text, Path::new("scenarios/fd_close/x.yaml")) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(LoadError::Invalid { file, line, column, message, .. }) => {
            assert_eq!(file, Path::new("scenarios/fd_close/x.yaml"));
            (line, column, message)
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

fn assert_error(text: &str, line: u64, needle: &str) {
    let (l, c, m) = error_of(text);
    assert!(c >= 1, "column must be given");
    assert_eq!(l, line, "line of `{m}`");
    assert!(m.contains(needle), "message `{m}` should mention `{needle}`");
}

#[test]
fn a_valid_scenario_loads() {
    let s =
        load_str(&format!("{HEAD}steps:\n  - fd_close: {{fd: 9}}\n    expect: {{errno: badf}}\n"), Path::new("x.yaml"))
            .unwrap();
    assert_eq!(s.steps.len(), 1);
    assert_eq!(s.function.name, "fd_close");
}

#[test]
fn unknown_top_level_key() {
    assert_error(&format!("{HEAD}stepz: []\n"), 5, "unknown field `stepz`");
}

#[test]
fn unknown_function() {
    assert_error(&format!("{HEAD}steps:\n  - fd_clos: {{fd: 9}}\n"), 6, "`fd_clos` is not a preview1 function");
}

#[test]
fn unknown_argument() {
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fdd: 9}}\n    expect: {{errno: badf}}\n"),
        6,
        "has no argument `fdd`",
    );
}

#[test]
fn missing_argument() {
    assert_error(
        &format!("{HEAD}steps:\n  - path_unlink_file: {{fd: 3}}\n    expect: {{errno: badf}}\n"),
        6,
        "needs argument `path`",
    );
}

#[test]
fn unknown_flag_name() {
    let (l, _, m) = error_of(&format!(
        "{HEAD}steps:\n  - path_open: {{fd: 3, path: a, oflags: [create], fs_rights_base: [], fs_rights_inheriting: []}}\n    expect: {{errno: badf}}\n"
    ));
    assert_eq!(l, 6);
    assert!(m.contains("`create` is not a oflags flag"), "{m}");
}

#[test]
fn unknown_errno() {
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fd: 9}}\n    expect: {{errno: ebadf}}\n"),
        7,
        "`ebadf` is not an errno",
    );
}

#[test]
fn errno_set_needs_a_reason() {
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fd: 9}}\n    expect:\n      errno: {{one-of: [badf, inval]}}\n"),
        8,
        "because",
    );
}

#[test]
fn wrong_type() {
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fd: [1, 2]}}\n    expect: {{errno: badf}}\n"),
        6,
        "a descriptor",
    );
}

#[test]
fn value_too_large_for_the_core_type() {
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fd: 4294967296}}\n    expect: {{errno: badf}}\n"),
        6,
        "does not fit",
    );
}

#[test]
fn yaml_syntax_error() {
    let (l, _, _) = error_of(&format!("{HEAD}steps: [\n"));
    assert!(l >= 5);
}

#[test]
fn duplicate_key() {
    assert_error(&format!("{HEAD}summary: again\nsteps: []\n"), 5, "duplicate");
}

#[test]
fn unbound_binding() {
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fd: $nope}}\n    expect: {{errno: badf}}\n"),
        6,
        "`$nope` is not",
    );
}

#[test]
fn missing_expectation() {
    assert_error(&format!("{HEAD}steps:\n  - fd_close: {{fd: 9}}\n"), 6, "needs `expect");
}

#[test]
fn unknown_output_to_check() {
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fd: 9}}\n    expect: {{errno: badf, nread: 3}}\n"),
        7,
        "no output `nread`",
    );
}

#[test]
fn proc_exit_must_be_last() {
    assert_error(
        &format!("{HEAD}steps:\n  - proc_exit: {{rval: 1}}\n  - fd_close: {{fd: 9}}\n    expect: {{errno: badf}}\n"),
        6,
        "must be the last step",
    );
}

#[test]
fn id_must_match_the_file() {
    let text = "id: fd_close/other\nsummary: s\nspec: witx\nstrength: must\nsteps:\n  - fd_close: {fd: 9}\n    expect: {errno: badf}\n";
    assert_error(text, 1, "must match the file's place");
}

#[test]
fn bad_strength() {
    assert_error("id: fd_close/x\nsummary: s\nspec: witx\nstrength: maybe\nsteps: []\n", 4, "unknown variant `maybe`");
}

#[test]
fn fixture_tree_parent_is_a_file() {
    let text = format!(
        "{HEAD}fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a: {{file: x}}\n        a/b: dir\nsteps:\n  - fd_close: {{fd: 9}}\n    expect: {{errno: badf}}\n"
    );
    let (_, _, m) = error_of(&text);
    assert!(m.contains("not a directory"), "{m}");
}

#[test]
fn stray_file_in_the_suite_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fd_close")).unwrap();
    std::fs::write(dir.path().join("fd_close/notes.txt"), "x").unwrap();
    let err = wasi_conform_suite::discover::load_dir(dir.path()).unwrap_err();
    assert!(err[0].contains("not a scenario"), "{err:?}");
    std::fs::remove_file(dir.path().join("fd_close/notes.txt")).unwrap();
    std::fs::create_dir(dir.path().join("fd_closer")).unwrap();
    let err = wasi_conform_suite::discover::load_dir(dir.path()).unwrap_err();
    assert!(err[0].contains("is not a preview1 function"), "{err:?}");
}

#[test]
fn bind_forms() {
    let ok = |bind: &str, call: &str| {
        let text = format!("{HEAD}fixture:\n  preopens:\n    - name: /sandbox\nsteps:\n  - {call}\n    bind: {bind}\n    expect: {{errno: success}}\n");
        load_str(&text, Path::new("x.yaml")).map(|s| s.steps[0].bind.len()).map_err(|e| e.to_string())
    };
    assert_eq!(ok("{i: filestat.ino, s: filestat.size}", "path_filestat_get: {fd: $sandbox, path: a}"), Ok(2));
    assert_eq!(ok("{c: entries.3.next}", "fd_readdir: {fd: $sandbox, buf: 64}"), Ok(1));
    let e = ok("x", "path_filestat_get: {fd: $sandbox, path: a}").unwrap_err();
    assert!(e.contains("is a record: bind one of its fields"), "{e}");
    let e = ok("{x: filestat.inode}", "path_filestat_get: {fd: $sandbox, path: a}").unwrap_err();
    assert!(e.contains("has no field `inode`"), "{e}");
    let e = ok("{x: entries.a.next}", "fd_readdir: {fd: $sandbox, buf: 64}").unwrap_err();
    assert!(e.contains("entries.<index>.next"), "{e}");
    let e = ok("x", "fd_close: {fd: 3}").unwrap_err();
    assert!(e.contains("has no result to bind"), "{e}");
}

#[test]
fn range_bounds_may_be_bindings_but_must_be_bound() {
    let text = format!(
        "{HEAD}steps:\n  - clock_time_get: {{id: monotonic, precision: 0}}\n    expect: {{errno: success, time: {{min: $t0}}}}\n"
    );
    let (_, _, m) = error_of(&text);
    assert!(m.contains("`$t0` is not bound"), "{m}");
}

#[test]
fn a_nested_preopen_name_needs_a_simple_binding() {
    let steps = "steps:\n  - fd_close: {fd: 9}\n    expect: {errno: badf}\n";
    assert_error(&format!("{HEAD}fixture:\n  preopens:\n    - name: /data/lib\n{steps}"), 7, "with a `binding:`");
    assert_error(
        &format!("{HEAD}fixture:\n  preopens:\n    - name: /data/lib\n      binding: a/b\n{steps}"),
        8,
        "binding `a/b` must be a simple name",
    );
    assert_error(
        &format!("{HEAD}fixture:\n  preopens:\n    - name: /data/../x\n      binding: x\n{steps}"),
        7,
        "must be a simple name",
    );
    let ok =
        format!("{HEAD}fixture:\n  preopens:\n    - name: /data\n    - name: /data/lib\n      binding: lib\n{steps}");
    let s = load_str(&ok, Path::new("scenarios/fd_close/x.yaml")).unwrap_or_else(|e| panic!("{}", e.with_snippet()));
    assert_eq!(s.fixture.preopens[1].name, "/data/lib");
    assert_eq!(s.fixture.preopens[1].binding, "lib");
}

#[test]
fn sizes_over_the_limits_are_refused_before_anything_is_allocated() {
    // 4 GB of `a`: refused where it is written, without building the string.
    assert_error(
        &format!(
            "{HEAD}steps:\n  - path_open: {{fd: 3, path: {{repeat: a, times: 4000000000}}, fs_rights_base: [], \
             fs_rights_inheriting: []}}\n    expect: {{errno: badf}}\n"
        ),
        6,
        "over the limit",
    );
    // A buffer, an iovec and room for events beyond one value's limit.
    assert_error(
        &format!("{HEAD}steps:\n  - random_get: {{buf: 4000000000}}\n    expect: {{errno: success}}\n"),
        6,
        "a buffer of 4000000000 bytes",
    );
    assert_error(
        &format!("{HEAD}steps:\n  - fd_read: {{fd: 0, iovs: [1, 3000000000]}}\n    expect: {{errno: success}}\n"),
        6,
        "an iovec",
    );
    // A fixture file of 4 GB of zeros (located at its preopen, as every tree error is).
    assert_error(
        &format!("{HEAD}fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        big: {{file-size: 4000000000}}\nsteps:\n  - fd_close: {{fd: 9}}\n    expect: {{errno: badf}}\n"),
        7,
        "fixture file",
    );
    // Each value under its limit, but five of them together over the scenario's total.
    let step = "  - random_get: {buf: 16000000}\n    expect: {errno: success}\n";
    assert_error(&format!("{HEAD}steps:\n{}", step.repeat(5)), 14, "64 MiB");
}

#[test]
fn a_budget_is_read_in_seconds_or_milliseconds() {
    let steps = "steps:\n  - fd_close: {fd: 9}\n    expect: {errno: badf}\n";
    for (text, ms) in [("3s", 3000), ("500ms", 500), ("60s", 60_000)] {
        let s = load_str(&format!("{HEAD}budget: {text}\n{steps}"), Path::new("x.yaml")).unwrap();
        assert_eq!(s.budget, Some(std::time::Duration::from_millis(ms)), "{text}");
    }
    let s = load_str(&format!("{HEAD}{steps}"), Path::new("x.yaml")).unwrap();
    assert_eq!(s.budget, None);
}

#[test]
fn a_budget_out_of_range_or_without_unit_is_refused() {
    let steps = "steps:\n  - fd_close: {fd: 9}\n    expect: {errno: badf}\n";
    for (text, needle) in [
        ("0s", "more than 0"),
        ("61s", "at most 60 s"),
        ("4000000000s", "at most 60 s"),
        ("99999999999s", "whole number"),
        ("3", "whole number of seconds or milliseconds"),
        ("1.5s", "whole number"),
        ("-1s", "whole number"),
    ] {
        assert_error(&format!("{HEAD}budget: {text}\n{steps}"), 5, needle);
    }
}

#[test]
fn hex_with_a_non_ascii_character_is_refused_not_a_panic() {
    // Found by the `loader` fuzz target: a multi-byte character used to be cut in two.
    for text in
        ["stdout: {hex: \"0é0\"}\n", "stdout: {hex: \"0€\"}\n", "stdout: {hex: \"zz\"}\n", "stdout: {hex: \"+1\"}\n"]
    {
        let steps = "steps:\n  - fd_close: {fd: 9}\n    expect: {errno: badf}\n";
        assert_error(&format!("{HEAD}{steps}{text}"), 8, "not a hex digit");
    }
    assert_error(
        &format!("{HEAD}steps:\n  - fd_close: {{fd: 9}}\n    expect: {{errno: badf}}\nstdout: {{hex: \"abc\"}}\n"),
        8,
        "odd number",
    );
}
