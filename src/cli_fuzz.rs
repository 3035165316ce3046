//! `wasi-conform fuzz`: the differential fuzzer on the stable toolchain (no libFuzzer):
//! seeded structured programs (generator 1, `--generator programs`) or wasm-smith modules
//! (generator 2, `--generator smith`) through the reference and the selected runtimes, a
//! progress line on stderr, a summary of distinct divergences, and `findings.json`
//! (schema `wasi-conform/findings/v1`, see README.md). Each finding carries the generator
//! that found it; a run replaces only its own generator's findings in an existing file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wasi_conform_differential::driver::{self, Budget, FuzzConfig, ProgramForm, Progress, Summary};
use wasi_conform_differential::oracle::Oracle;
use wasi_conform_differential::program::GenConfig;
use wasi_conform_differential::reach;
use wasi_conform_differential::shard::{self, Shard};
use wasi_conform_differential::smith;
use wasi_conform_differential::triage::Known;

/// Which generator makes the inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generator {
    /// Generator 1: structured preview1 programs, compiled through the scenario compiler.
    Programs,
    /// Generator 2: wasm-smith modules calling preview1 functions (no trace; not minimised).
    Smith,
}

impl Generator {
    fn name(self) -> &'static str {
        match self {
            Generator::Programs => "programs",
            Generator::Smith => "smith",
        }
    }
}

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Input generator.
    #[arg(long, value_enum, default_value_t = Generator::Programs)]
    generator: Generator,
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
    /// Oracle runs spent minimising each new divergence (0: do not minimise; programs only).
    #[arg(long, default_value_t = 200)]
    minimise: usize,
    /// Most steps per generated program (programs only).
    #[arg(long, default_value_t = 8)]
    max_steps: usize,
    /// Functions never generated (comma-separated; programs only).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Run only shard K of N of the programs `--first`..`--first + --iterations` (a
    /// contiguous range; N jobs with K = 1..N together run what one job would). Needs
    /// `--iterations` (the whole run's count). Merge the shards' findings with `--merge`.
    #[arg(long, requires = "iterations", conflicts_with = "time")]
    shard: Option<Shard>,
    /// Merge `findings.json` files (e.g. of the shards of one run) by signature into
    /// `--out DIR/findings.json` (default `fuzz/findings.json`) instead of fuzzing.
    #[arg(long, num_args = 1.., value_name = "FINDINGS.json")]
    merge: Vec<PathBuf>,
    /// Program generation (programs only): `stateful` (descriptors by kind, names earlier
    /// steps created, the call sequences of real programs, a richer fixture) or `flat` (each
    /// argument drawn on its own: the generator before).
    #[arg(long, value_enum, default_value_t = Generation::Stateful)]
    generation: Generation,
    /// Instead of fuzzing: how deep the programs of `--seed`/`--first`/`--iterations` reach
    /// on the reference, for flat and for stateful generation side by side (the share of
    /// programs with a successful call after step 3, each function's success rate).
    #[arg(long, conflicts_with_all = ["merge", "shard", "time"])]
    reach: bool,
    /// How programs reach the runtimes that can take them as data (programs only): `data`
    /// (one interpreter module compiled once, the program preloaded into its memory) or
    /// `compiled` (a module per program, compiled by every runtime: the form before).
    #[arg(long, value_enum, default_value_t = Form::Data)]
    programs_as: Form,
}

/// `--generation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generation {
    Stateful,
    Flat,
}

/// `--programs-as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Form {
    Data,
    Compiled,
}

impl From<Form> for ProgramForm {
    fn from(f: Form) -> ProgramForm {
        match f {
            Form::Data => ProgramForm::Data,
            Form::Compiled => ProgramForm::Compiled,
        }
    }
}

pub fn run(args: FuzzArgs) -> Result<ExitCode> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (findings_path, scenarios_dir) = match &args.out {
        Some(dir) => (dir.join("findings.json"), dir.join("scenarios")),
        None => (root.join("fuzz/findings.json"), root.join("fuzz/minimised")),
    };
    if !args.merge.is_empty() {
        return merge(&args.merge, &findings_path);
    }
    if args.reach {
        return reach(&args);
    }
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
    let (first, budget) = match (args.time, args.iterations, args.shard) {
        (Some(t), _, _) => (args.first, Budget::Time(Duration::from_secs(t))),
        (None, n, None) => (args.first, Budget::Iterations(n.unwrap_or(500))),
        (None, n, Some(shard)) => {
            let (first, count) = shard.range(args.first, n.unwrap_or(500));
            eprintln!("shard {shard}: programs {first}..{} of seed {}", first + count, args.seed);
            (first, Budget::Iterations(count))
        }
    };
    let cfg = FuzzConfig {
        seed: args.seed,
        first,
        budget,
        gen: gen_config(&args, args.generation),
        minimise_budget: args.minimise,
        scenarios_dir: Some(scenarios_dir),
        repo_root: root.clone(),
        form: args.programs_as.into(),
    };
    let judged = if reference_only { "nothing (the reference alone)".to_owned() } else { oracle.runtimes().join(", ") };
    let generator = args.generator;
    let noun = match generator {
        Generator::Programs => "programs",
        Generator::Smith => "modules",
    };
    eprintln!("fuzzing reference vs {judged} with {} (seed {})", generator.name(), args.seed);
    let show = |p: &Progress| {
        if p.new > 0 || p.programs.is_multiple_of(25) {
            eprint!(
                "\r{} {noun}, {:.1}/s, {} distinct divergence(s)   ",
                p.programs,
                p.programs as f64 / p.elapsed.as_secs_f64().max(1e-9),
                p.distinct
            );
        }
    };
    let summary = match generator {
        Generator::Programs => driver::run(&oracle, &known, &cfg, show),
        Generator::Smith => smith::seeded::run(&oracle, &known, args.seed, args.first, budget, show),
    };
    eprintln!();
    println!(
        "{} {noun} in {:.1}s ({:.1}/s) against {}; {} distinct divergence(s){}",
        summary.programs,
        summary.elapsed.as_secs_f64(),
        summary.programs as f64 / summary.elapsed.as_secs_f64().max(1e-9),
        judged,
        summary.findings.len(),
        if summary.reference_failures > 0 {
            format!(", {} input(s) the reference could not run", summary.reference_failures)
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
        println!("{state:>5} {:>5}x  {}  (first: {})", f.count, f.signature, f.first_program);
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
    let json = serde_json::to_string_pretty(&merged_findings(&findings_path, generator, &summary)?)?;
    std::fs::write(&findings_path, json + "\n").with_context(|| format!("writing {}", findings_path.display()))?;
    println!("{unexplained} unexplained; findings written to {}", findings_path.display());
    Ok(ExitCode::SUCCESS)
}

/// `findings.json` for this run, merged with an existing file: every finding gets a
/// `generator` field (findings without one are generator 1's, `programs`), this run's
/// generator's findings replace that generator's old ones, the others are kept.
fn merged_findings(path: &Path, generator: Generator, summary: &Summary) -> Result<serde_json::Value> {
    let mut findings: Vec<serde_json::Value> = Vec::new();
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let old: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let old = old.get("findings").and_then(|f| f.as_array()).cloned().unwrap_or_default();
        findings.extend(old.into_iter().filter(|f| {
            f.get("generator").and_then(|g| g.as_str()).unwrap_or(Generator::Programs.name()) != generator.name()
        }));
    }
    let mut new = driver::findings_json(summary);
    let ours = new.get_mut("findings").and_then(|f| f.as_array_mut()).map(std::mem::take).unwrap_or_default();
    findings.extend(ours.into_iter().map(|mut f| {
        f["generator"] = generator.name().into();
        f
    }));
    new["findings"] = findings.into();
    Ok(new)
}

/// `--merge`: findings files joined by signature (`shard::merge`) into `out`.
fn merge(files: &[PathBuf], out: &Path) -> Result<ExitCode> {
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let doc: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        docs.push((f.display().to_string(), doc));
    }
    let merged = shard::merge(&docs)?;
    let n = merged["findings"].as_array().map(|a| a.len()).unwrap_or(0);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(&merged)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("{n} distinct finding(s) from {} file(s) written to {}", files.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

fn gen_config(args: &FuzzArgs, generation: Generation) -> GenConfig {
    GenConfig {
        max_steps: args.max_steps,
        exclude: args.exclude.clone(),
        stateful: generation == Generation::Stateful,
        ..GenConfig::default()
    }
}

/// `--reach`: flat and stateful generation measured on the same programs' indices.
fn reach(args: &FuzzArgs) -> Result<ExitCode> {
    let n = args.iterations.unwrap_or(500);
    let oracle = Oracle::reference_only()?;
    let flat = reach::measure(&oracle, args.seed, args.first, n, &gen_config(args, Generation::Flat));
    let stateful = reach::measure(&oracle, args.seed, args.first, n, &gen_config(args, Generation::Stateful));
    let pct = |a: u64, b: u64| if b == 0 { "-".to_owned() } else { format!("{:.1}%", 100.0 * a as f64 / b as f64) };
    println!("seed {}, programs {}..{}, on the reference", args.seed, args.first, args.first + n);
    println!();
    println!("| | flat (before) | stateful (after) |");
    println!("|---|---:|---:|");
    println!(
        "| programs with a successful call after step 3 | {} | {} |",
        pct(flat.past_step_3, flat.programs),
        pct(stateful.past_step_3, stateful.programs)
    );
    println!(
        "| programs whose first 3 calls succeed | {} | {} |",
        pct(flat.first_3_succeed, flat.programs),
        pct(stateful.first_3_succeed, stateful.programs)
    );
    let (fc, fo) = flat.total();
    let (sc, so) = stateful.total();
    println!("| calls that succeed (all functions) | {} of {fc} | {} of {sc} |", pct(fo, fc), pct(so, sc));
    println!();
    println!("| function | flat: calls | flat: success | stateful: calls | stateful: success |");
    println!("|---|---:|---:|---:|---:|");
    for (i, f) in wasi_conform_abi::FUNCTIONS.iter().enumerate() {
        let (a, b) = (flat.calls[i], stateful.calls[i]);
        if a.0 + b.0 == 0 {
            continue;
        }
        println!("| `{}` | {} | {} | {} | {} |", f.name, a.0, pct(a.1, a.0), b.0, pct(b.1, b.0));
    }
    Ok(ExitCode::SUCCESS)
}
