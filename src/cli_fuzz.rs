//! `wasi-conform fuzz`: the differential fuzzer on the stable toolchain (no libFuzzer):
//! seeded structured programs through the reference and the selected runtimes, a progress
//! line on stderr, a summary of distinct divergences, and `findings.json`
//! (schema `wasi-conform/findings/v1`, see README.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wasi_conform_differential::driver::{self, Budget, FuzzConfig};
use wasi_conform_differential::oracle::Oracle;
use wasi_conform_differential::program::GenConfig;
use wasi_conform_differential::triage::Known;

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Seed: the same seed gives the same programs and the same summary.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Index of the first program: `--seed 1 --first 12 --iterations 1` replays program
    /// `seed-1-12` alone (e.g. to minimise it against one runtime).
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Stop after this many seconds.
    #[arg(long, conflicts_with = "iterations")]
    time: Option<u64>,
    /// Stop after this many programs (default 500 when --time is not given).
    #[arg(long)]
    iterations: Option<u64>,
    /// Comma-separated runtimes judged against the reference; default: all available.
    /// `--runtime reference` runs the reference alone (a throughput baseline; it finds nothing).
    #[arg(long, value_delimiter = ',')]
    runtime: Vec<String>,
    /// Output directory: findings.json and minimised scenarios (`scenarios/<function>/`).
    /// Default: `fuzz/` (findings.json) and `fuzz/minimised/`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Known-divergence list; default `fuzz/known-divergences.toml`.
    #[arg(long)]
    known: Option<PathBuf>,
    /// Oracle runs spent minimising each new divergence (0: do not minimise).
    #[arg(long, default_value_t = 200)]
    minimise: usize,
    /// Most steps per generated program.
    #[arg(long, default_value_t = 8)]
    max_steps: usize,
    /// Functions never generated (comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
}

pub fn run(args: FuzzArgs) -> Result<ExitCode> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (findings_path, scenarios_dir) = match &args.out {
        Some(dir) => (dir.join("findings.json"), dir.join("scenarios")),
        None => (root.join("fuzz/findings.json"), root.join("fuzz/minimised")),
    };
    let known_path = args.known.clone().unwrap_or_else(|| root.join("fuzz/known-divergences.toml"));
    let known = Known::load(&known_path).with_context(|| format!("loading {}", known_path.display()))?;
    let runtimes: Vec<String> = args.runtime.iter().filter(|r| *r != "reference").cloned().collect();
    let reference_only = !args.runtime.is_empty() && runtimes.is_empty();
    let oracle = if reference_only { Oracle::reference_only()? } else { Oracle::new(&runtimes)? };
    for (name, why) in &oracle.unavailable {
        eprintln!("note: {name} is not available here and is not fuzzed: {why}");
    }
    if oracle.runtimes().is_empty() && !reference_only {
        bail!("no runtime to compare with the reference is available");
    }
    let budget = match (args.time, args.iterations) {
        (Some(t), _) => Budget::Time(Duration::from_secs(t)),
        (None, n) => Budget::Iterations(n.unwrap_or(500)),
    };
    let cfg = FuzzConfig {
        seed: args.seed,
        first: args.first,
        budget,
        gen: GenConfig { max_steps: args.max_steps, exclude: args.exclude.clone(), ..GenConfig::default() },
        minimise_budget: args.minimise,
        scenarios_dir: Some(scenarios_dir),
        repo_root: root.clone(),
    };
    let judged = if reference_only { "nothing (the reference alone)".to_owned() } else { oracle.runtimes().join(", ") };
    eprintln!("fuzzing reference vs {judged} (seed {})", args.seed);
    let summary = driver::run(&oracle, &known, &cfg, |p| {
        if p.new > 0 || p.programs.is_multiple_of(25) {
            eprint!(
                "\r{} programs, {:.1}/s, {} distinct divergence(s)   ",
                p.programs,
                p.programs as f64 / p.elapsed.as_secs_f64().max(1e-9),
                p.distinct
            );
        }
    });
    eprintln!();
    println!(
        "{} programs in {:.1}s ({:.1}/s) against {}; {} distinct divergence(s){}",
        summary.programs,
        summary.elapsed.as_secs_f64(),
        summary.programs as f64 / summary.elapsed.as_secs_f64().max(1e-9),
        judged,
        summary.findings.len(),
        if summary.reference_failures > 0 {
            format!(", {} program(s) the reference could not run", summary.reference_failures)
        } else {
            String::new()
        }
    );
    let mut unexplained = 0;
    for f in &summary.findings {
        let state = if f.known.is_some() { "known" } else { "NEW" };
        if f.known.is_none() {
            unexplained += 1;
        }
        println!("{state:>5} {:>5}x  {}", f.count, f.signature);
        if let Some(s) = &f.scenario {
            println!("             scenario: {s}");
        }
        if f.known.is_none() {
            for d in &f.example {
                println!(
                    "             {} at {}: {}",
                    d.runtime,
                    d.place.name(),
                    d.detail.replace('\n', "\n             ")
                );
            }
        }
    }
    if let Some(dir) = findings_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&driver::findings_json(&summary))?;
    std::fs::write(&findings_path, json + "\n").with_context(|| format!("writing {}", findings_path.display()))?;
    println!("{unexplained} unexplained; findings written to {}", findings_path.display());
    Ok(ExitCode::SUCCESS)
}
