//! What a JS adapter adds to `wasi-conform bench` ([`crate::Runtime::bench_notes`]): the
//! cost of a run in a process of its own, in a worker with the module kept, and in a worker
//! sent the module every time, and how many workers were retired holding a guest pipe.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wasi_conform_case::outcome::Ending;
use wasi_conform_case::test_case::TestCase;

use super::{JsRuntime, ModuleCache};
use crate::{Execution, Runtime, Sandbox};

/// Runs per mode.
const BENCH_RUNS: u32 = 20;

/// Why a measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Load(#[from] wasi_conform_suite::load::LoadError),
    #[error(transparent)]
    Compile(#[from] wasi_conform_suite::compile::CompileError),
    #[error("sandbox: {0}")]
    Sandbox(std::io::Error),
    #[error("the bench case ended with {0}")]
    Ending(Ending),
}

impl JsRuntime {
    /// The bench notes (nothing when the runtime is not available).
    pub(super) fn bench(&self) -> Vec<(String, String)> {
        let name = self.name();
        if self.probe().is_err() {
            return Vec::new();
        }
        let case = match bench_case() {
            Ok(c) => c,
            Err(e) => return vec![(format!("{name} bench"), e.to_string())],
        };
        let fmt = |r: Result<f64, BenchError>, what: &str| match r {
            Ok(ms) => format!("{ms:.2} ms/run ({BENCH_RUNS} runs, {what})"),
            Err(e) => format!("failed: {e}"),
        };
        let once = time_runs(&case, |c, s| self.run_once(c, s));
        // Warm-up: a worker started and the module compiled once.
        if let Ok(s) = Sandbox::create(&case.fixture) {
            self.run(&case, &s);
        }
        let cached = time_runs(&case, |c, s| self.run_in_worker(c, s, ModuleCache::Keep, None));
        let resent = time_runs(&case, |c, s| self.run_in_worker(c, s, ModuleCache::SendEveryRun, None));
        let retired = self.retired_holding_pipes.load(Ordering::Relaxed);
        vec![
            (
                "process per run".to_owned(),
                fmt(once, &format!("a new {name} process each, module sent and compiled each time")),
            ),
            ("worker".to_owned(), fmt(cached, "module compiled once and kept in the worker")),
            ("worker, no module cache".to_owned(), fmt(resent, "module sent as base64 and compiled every run")),
            (
                "workers retired".to_owned(),
                format!("{retired} still holding a guest pipe after answering (expected 0)"),
            ),
        ]
    }
}

/// ms/run of `run` over [`BENCH_RUNS`] runs of a small case, each in a fresh sandbox (whose
/// setup is not timed).
fn time_runs(case: &TestCase, run: impl Fn(&TestCase, &Sandbox) -> Execution) -> Result<f64, BenchError> {
    let mut total = Duration::ZERO;
    for _ in 0..BENCH_RUNS {
        let sandbox = Sandbox::create(&case.fixture).map_err(BenchError::Sandbox)?;
        let started = Instant::now();
        let exec = run(case, &sandbox);
        total += started.elapsed();
        if exec.ending != Ending::Exit(0) {
            return Err(BenchError::Ending(exec.ending));
        }
    }
    Ok(total.as_secs_f64() * 1e3 / f64::from(BENCH_RUNS))
}

/// The small case the bench times: one preopen, one write to stdout.
pub fn bench_case() -> Result<TestCase, BenchError> {
    const TEXT: &str = "id: fd_write/js-bench\nsummary: bench\nspec: none\nstrength: must\n\
        fixture:\n  preopens:\n    - name: /sandbox\n      tree:\n        a.txt: {file: a}\n\
        steps:\n  - fd_write: {fd: 1, iovs: [\"hello\\n\"]}\n    expect: {errno: success, nwritten: 6}\n\
        stdout: \"hello\\n\"\n";
    let s = wasi_conform_suite::load::load_str(TEXT, Path::new("fd_write/js-bench.yaml"))?;
    Ok(wasi_conform_suite::compile::compile(&s)?.case)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_case_compiles() {
        super::bench_case().expect("bench case");
    }
}
