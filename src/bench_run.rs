//! `wasi-conform bench --run`: the whole suite on every selected runtime, timed as
//! `wasi-conform run` spends it — loading and compiling the scenarios once, then per runtime
//! its availability probe, worker start-up and the parallel runs — with the time spent
//! waiting out timeouts shown apart. With `--repeat N` the run is done N times in a row and
//! every (runtime, scenario) status and verdict is compared: a difference is a flake.
//! Messages are compared too, and counted apart: they may differ in values the host assigns
//! (inode numbers, timestamps), which stay visible in them.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use wasi_conform_runners::matrix::{self, CaseResult, Prepared};
use wasi_conform_runners::registry;
use wasi_conform_suite::discover;
use wasi_conform_suite::expectations::Status;

/// The goal for the whole suite on every available runtime on a 2-core machine.
const TARGET: Duration = Duration::from_secs(30);

/// One runtime's share of a full run.
struct Phase {
    runtime: &'static str,
    wall: Duration,
    runs: usize,
    timeouts: usize,
    /// Summed run time of the runs that ended in a timeout (spread over the parallel jobs).
    timeout_time: Duration,
    not_available: Option<String>,
}

/// What one full run observed: per (runtime, scenario), the status, verdict and message.
type Observed = BTreeMap<(String, String), (&'static str, &'static str, String)>;

pub fn run(names: &[String], repeat: usize, jobs: Option<usize>) -> Result<ExitCode> {
    let jobs = matrix::jobs(jobs);
    let exp_dir = discover::suite_dir().join("expectations");
    let mut runs: Vec<Observed> = Vec::new();
    for round in 1..=repeat {
        let started = Instant::now();
        let scenarios = discover::load_builtin().map_err(|e| anyhow!(e.join("\n")))?;
        let prepared: Vec<Prepared> = scenarios.into_iter().map(Prepared::new).collect();
        let compile = started.elapsed();
        let runtimes = registry::select(names)?;
        let mut phases = Vec::new();
        let mut observed = Observed::new();
        for rt in &runtimes {
            let t = Instant::now();
            let results = matrix::run_runtime(rt.as_ref(), &prepared, &exp_dir, jobs)?;
            let wall = t.elapsed();
            let not_available =
                results.iter().find(|r| r.status_enum == Status::NotAvailable).map(|r| r.message.clone());
            if not_available.is_some() {
                phases.push(Phase {
                    runtime: rt.name(),
                    wall,
                    runs: 0,
                    timeouts: 0,
                    timeout_time: Duration::ZERO,
                    not_available,
                });
                continue;
            }
            let hung: Vec<&CaseResult> = results.iter().filter(|r| r.verdict == "timeout").collect();
            phases.push(Phase {
                runtime: rt.name(),
                wall,
                runs: results.len(),
                timeouts: hung.len(),
                timeout_time: hung.iter().map(|r| Duration::from_secs_f64(r.elapsed_ms / 1e3)).sum(),
                not_available: None,
            });
            for r in results {
                observed.insert((r.runtime.clone(), r.scenario.clone()), (r.status, r.verdict, r.message));
            }
        }
        let total = started.elapsed();
        print_round(round, repeat, prepared.len(), jobs, compile, &phases, total);
        runs.push(observed);
    }
    if repeat > 1 {
        print_flakes(&runs);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_round(
    round: usize,
    repeat: usize,
    scenarios: usize,
    jobs: usize,
    compile: Duration,
    phases: &[Phase],
    total: Duration,
) {
    println!("full run {round}/{repeat}: {scenarios} scenarios, {jobs} parallel job(s)");
    println!("  {:<12} {:>8}", "load+compile", format!("{:.2} s", compile.as_secs_f64()));
    println!(
        "  {:<12} {:>8} {:>6} {:>9} {:>9} {:>22}",
        "runtime", "wall", "runs", "runs/s", "timeouts", "time in timeouts"
    );
    for p in phases {
        match &p.not_available {
            Some(why) => println!("  {:<12} not available: {why}", p.runtime),
            None => println!(
                "  {:<12} {:>8} {:>6} {:>9.0} {:>9} {:>22}",
                p.runtime,
                format!("{:.2} s", p.wall.as_secs_f64()),
                p.runs,
                p.runs as f64 / p.wall.as_secs_f64().max(1e-9),
                p.timeouts,
                format!("{:.2} s (/{})", p.timeout_time.as_secs_f64(), jobs.min(p.runs.max(1))),
            ),
        }
    }
    let verdict = if total < TARGET {
        format!("under the {} s target by {:.1} s", TARGET.as_secs(), (TARGET - total).as_secs_f64())
    } else {
        format!("over the {} s target by {:.1} s", TARGET.as_secs(), (total - TARGET).as_secs_f64())
    };
    println!("  {:<12} {:>8}  ({verdict})", "total", format!("{:.2} s", total.as_secs_f64()));
}

/// Compares the rounds result by result.
fn print_flakes(runs: &[Observed]) {
    let first = &runs[0];
    let mut flakes = Vec::new();
    let mut messages = Vec::new();
    for (key, (status, verdict, message)) in first {
        let mut seen = vec![format!("{status}/{verdict}")];
        let mut message_differs: Option<String> = None;
        for other in &runs[1..] {
            match other.get(key) {
                Some((s, v, m)) => {
                    seen.push(format!("{s}/{v}"));
                    if m != message && message_differs.is_none() {
                        message_differs = Some(first_difference(message, m));
                    }
                }
                None => seen.push("missing".to_owned()),
            }
        }
        if seen.iter().any(|s| *s != seen[0]) {
            flakes.push(format!("  {}/{}: {}", key.0, key.1, seen.join(" → ")));
        } else if let Some(d) = message_differs {
            messages.push(format!("  {}/{}: {d}", key.0, key.1));
        }
    }
    println!(
        "{} consecutive full runs: {} result(s) compared, {} flaky status or verdict, {} with the same verdict but another message (host-assigned values such as inodes and timestamps)",
        runs.len(),
        first.len(),
        flakes.len(),
        messages.len()
    );
    for f in flakes {
        println!("{f}");
    }
    if !messages.is_empty() {
        println!("messages that differ (first differing line, run 1 → a later run):");
        for m in messages {
            println!("{m}");
        }
    }
}

/// The first line where two messages differ, as `old → new`.
fn first_difference(a: &str, b: &str) -> String {
    let mut lines = a.lines().zip(b.lines());
    match lines.find(|(x, y)| x != y) {
        Some((x, y)) => format!("{} → {}", x.trim(), y.trim()),
        None => format!("{} line(s) → {} line(s)", a.lines().count(), b.lines().count()),
    }
}
