//! Running loaded tests on runtimes and judging them as the official runner does.
//!
//! The judgement (`test_suite_runner.py` `TestCaseRunner.do_read` / `do_wait` at commit
//! e1f53e05): each expected stream must *begin with* its expected text — the runner reads
//! `len(payload)` characters from a text-mode pipe (UTF-8, universal newlines) and
//! compares —, and the exit code must equal `exit_code`. On top of that our own canary
//! check: a run that changed anything outside its preopens is an escape, whatever its exit
//! code. A trap is a failure (a command-line runtime exits with its own code, e.g. 134,
//! which no test expects); a timeout or a crash of the runtime is reported as such.

use std::path::Path;

use anyhow::Result;
use wasi_conform_runners::matrix::{self, CaseResult};
use wasi_conform_runners::{execute, Availability, Runtime};
use wasi_conform_suite::expectations::{classify, Status};
use wasi_conform_suite::outcome::{Canaries, Ending, Outcome};
use wasi_conform_suite::verdict::Verdict;

use super::format::Spec;
use super::load::{load_dir, Test};

/// Runs every test under `dir` on every runtime (`jobs` runs at a time per runtime).
/// Tests the runtimes here cannot run (another WASI version, sockets, …) and runtimes that
/// are not installed are `not-available` results with the reason. Warnings of the loader
/// (unknown keys) go to stderr.
pub fn run_dir(dir: &Path, runtimes: &[Box<dyn Runtime>], jobs: usize) -> Result<Vec<CaseResult>> {
    run_filtered(dir, runtimes, jobs, &|_| true)
}

/// [`run_dir`] on the tests whose id passes `keep`.
pub fn run_filtered(
    dir: &Path,
    runtimes: &[Box<dyn Runtime>],
    jobs: usize,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<CaseResult>> {
    let loaded = load_dir(dir)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let tests: Vec<Test> = loaded.tests.into_iter().filter(|t| keep(&t.id)).collect();
    let mut results = Vec::new();
    for rt in runtimes {
        let avail = rt.availability();
        let runnable: Vec<&Test> = tests.iter().filter(|t| t.skip.is_none()).collect();
        let mut by_index: Vec<Option<CaseResult>> = vec![None; tests.len()];
        for (i, t) in tests.iter().enumerate() {
            let why = match (&avail, &t.skip) {
                (Availability::NotAvailable(why), _) => why.clone(),
                (Availability::Available, Some(why)) => format!("skipped: {why}"),
                (Availability::Available, None) => continue,
            };
            let reproduce = reproduce_command(rt.name(), dir, &t.id);
            by_index[i] = Some(CaseResult::not_available(rt.name(), t.id.clone(), t.suite.clone(), why, reproduce));
        }
        if avail == Availability::Available {
            let done = matrix::par_map(&runnable, jobs, |t| {
                let outcome = execute(rt.as_ref(), &t.case);
                let v = judge(&t.spec, &outcome);
                let status = classify(&v, None);
                let message = if v.is_pass() { String::new() } else { v.message() };
                let ms = outcome.elapsed.as_secs_f64() * 1e3;
                result(rt.name(), dir, t, status, v.kind(), message, ms)
            });
            let mut done = done.into_iter();
            for slot in by_index.iter_mut().filter(|s| s.is_none()) {
                *slot = done.next();
            }
        }
        results.extend(by_index.into_iter().flatten());
    }
    Ok(results)
}

fn result(
    rt: &str,
    dir: &Path,
    t: &Test,
    status: Status,
    verdict: &'static str,
    message: String,
    ms: f64,
) -> CaseResult {
    CaseResult {
        scenario: t.id.clone(),
        function: t.suite.clone(),
        runtime: rt.to_owned(),
        status: status.as_str(),
        verdict,
        message,
        reproduce: reproduce_command(rt, dir, &t.id),
        elapsed_ms: ms,
        status_enum: status,
    }
}

/// The command that reruns one test on one runtime.
pub fn reproduce_command(runtime: &str, dir: &Path, id: &str) -> String {
    format!("cargo run --release -- run --wasi-testsuite {} --runtime {runtime} --scenario {id}", dir.display())
}

/// Judges one run (see the module docs).
pub fn judge(spec: &Spec, o: &Outcome) -> Verdict {
    if let Canaries::Changed(paths) = &o.canaries {
        return Verdict::Escape(paths.clone());
    }
    let mut diffs = Vec::new();
    match &o.ending {
        Ending::Timeout => return Verdict::Timeout,
        Ending::Crash(m) => return Verdict::Crash(m.clone()),
        Ending::Exit(c) if i64::from(*c) == spec.exit_code => {}
        other => diffs.push(format!("exit code: expected {}, observed {other}", spec.exit_code)),
    }
    for (name, want, got) in [("stdout", &spec.stdout, &o.stdout), ("stderr", &spec.stderr, &o.stderr)] {
        let Some(want) = want else { continue };
        match begins_with(got, want) {
            Ok(()) => {}
            Err(why) => diffs.push(format!("{name}: expected it to begin with {want:?}, {why}")),
        }
    }
    if diffs.is_empty() {
        return Verdict::Pass;
    }
    // As the runner does (`_append_stdout_and_stderr`): what the module said, e.g. the
    // line of a self-checking module.
    for (name, got) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        if !got.is_empty() {
            let text = String::from_utf8_lossy(got);
            let cut: String = text.chars().take(2000).collect();
            diffs.push(format!("=={}==\n{}", name.to_uppercase(), cut.trim_end()));
        }
    }
    Verdict::Fail(diffs)
}

/// Whether `got`, read as the runner's text pipe reads it, begins with `want`.
fn begins_with(got: &[u8], want: &str) -> Result<(), String> {
    // `read(0)` returns at once, decoding nothing.
    if want.is_empty() {
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(got) else {
        return Err(format!("observed bytes that are not UTF-8 text: {:?}", String::from_utf8_lossy(got)));
    };
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let head: String = text.chars().take(want.chars().count()).collect();
    if head == want {
        Ok(())
    } else {
        Err(format!("observed {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_compared_as_text_prefixes() {
        assert!(begins_with(b"hello world", "hello").is_ok());
        assert!(begins_with(b"a\r\nb", "a\nb").is_ok(), "universal newlines");
        assert!(begins_with(b"hel", "hello").is_err());
        assert!(begins_with(b"\xff", "x").is_err(), "not text");
        assert!(begins_with(b"\xff", "").is_ok(), "nothing read");
        assert!(begins_with(b"", "").is_ok());
    }
}
