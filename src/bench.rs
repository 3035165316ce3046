//! `wasi-conform bench`: scenario runs per second per runtime, measured over the built-in
//! suite (compile once, then run every scenario `--rounds` times).

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
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let scenarios = discover::load_builtin().map_err(|e| anyhow::anyhow!(e.join("\n")))?;
    let prepared: Vec<Prepared> = scenarios.into_iter().map(Prepared::new).collect();
    let cases: Vec<_> = prepared.iter().filter_map(|p| p.compiled.as_ref().ok()).map(|c| &c.case).collect();
    println!("{} scenarios, {} round(s), one thread", cases.len(), args.rounds);
    for rt in crate::cli_run::select_runtimes(&args.runtime)? {
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
