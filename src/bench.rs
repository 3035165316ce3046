//! `wasi-conform bench`: scenario runs per second per runtime, measured over the built-in
//! suite (compile once, then run every scenario `--rounds` times); with `--run`, the whole
//! `wasi-conform run` timed phase by phase (compiling the suite, then each runtime with its
//! probes, worker start-up and parallel runs), repeated `--repeat` times and compared
//! result by result, so that a flaky verdict shows; with `--fuzz`, generated programs per
//! second through runtime sets (`bench_fuzz.rs`).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use wasi_conform_runners::matrix::Prepared;
use wasi_conform_runners::{execute, Availability};
use wasi_conform_suite::discover;
use wasi_conform_suite::outcome::Ending;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Comma-separated runtime names; default: all available.
    #[arg(long, value_delimiter = ',')]
    runtime: Vec<String>,
    /// How many times each scenario is run per runtime.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Time the whole suite run as `wasi-conform run` does it (parallel, every selected
    /// runtime), with a breakdown per runtime, instead of runs per second.
    #[arg(long)]
    run: bool,
    /// With `--run`: how many consecutive full runs, compared for flaky results.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// With `--run`: parallel runs (default: number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Generated programs per second through runtime sets (the fuzzer's loop), with
    /// programs as data and compiled, as ratios to the reference alone in the same run.
    #[arg(long, conflicts_with = "run")]
    fuzz: bool,
    /// With `--fuzz`: the seed.
    #[arg(long, default_value_t = 3)]
    seed: u64,
    /// With `--fuzz`: programs per runtime set and form (the same programs for every set and
    /// form, so that a faster form does not meet more of the rare hangs).
    #[arg(long, default_value_t = 300, conflicts_with = "seconds")]
    programs: u64,
    /// With `--fuzz`: seconds per runtime set and form instead of a program count.
    #[arg(long)]
    seconds: Option<u64>,
    /// With `--fuzz`: runtime sets, `;`-separated, each a comma-separated list (or
    /// `reference`, or `all`); default: reference;wasmtime;wasmi;wasmer;wasmtime,wasmi,wasmer;all.
    #[arg(long, value_delimiter = ';')]
    sets: Vec<String>,
    /// With `--fuzz`: measure the data form only (not the compiled form too).
    #[arg(long)]
    data_only: bool,
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if args.run {
        return crate::bench_run::run(&args.runtime, args.repeat.max(1), args.jobs);
    }
    if args.fuzz {
        let sets = if args.sets.is_empty() {
            crate::bench_fuzz::DEFAULT_SETS.iter().map(|s| s.to_string()).collect()
        } else {
            args.sets
        };
        return crate::bench_fuzz::run(crate::bench_fuzz::FuzzBench {
            seed: args.seed,
            budget: match args.seconds {
                Some(s) => wasi_conform_differential::driver::Budget::Time(std::time::Duration::from_secs(s)),
                None => wasi_conform_differential::driver::Budget::Iterations(args.programs),
            },
            sets,
            compiled: !args.data_only,
        });
    }
    let scenarios = discover::load_builtin().map_err(|e| anyhow::anyhow!(e.join("\n")))?;
    let prepared: Vec<Prepared> = scenarios.into_iter().map(Prepared::new).collect();
    let cases: Vec<_> = prepared.iter().filter_map(|p| p.compiled.as_ref().ok()).map(|c| &c.case).collect();
    println!("{} scenarios, {} round(s), one thread", cases.len(), args.rounds);
    for rt in wasi_conform_runners::registry::select(&args.runtime)? {
        if let Availability::NotAvailable(why) = rt.availability() {
            println!("{:<12} not available: {why}", rt.name());
            continue;
        }
        // Warm-up: compile caches, worker start.
        for c in &cases {
            execute(rt.as_ref(), c);
        }
        let start = Instant::now();
        let mut per_run = Vec::new();
        let mut timeouts = 0usize;
        for _ in 0..args.rounds {
            for c in &cases {
                let o = execute(rt.as_ref(), c);
                timeouts += usize::from(o.ending == Ending::Timeout);
                per_run.push(o.elapsed.as_secs_f64() * 1e3);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let runs = per_run.len();
        per_run.sort_by(f64::total_cmp);
        println!(
            "{:<12} {:>8.1} runs/s  ({runs} runs in {secs:.2} s; per run incl. sandbox: median {:.2} ms, p90 {:.2} ms; {timeouts} timeout(s))",
            rt.name(),
            runs as f64 / secs,
            per_run[runs / 2],
            per_run[runs * 9 / 10],
        );
        for (label, value) in rt.bench_notes() {
            println!("{:<12} {label}: {value}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}
