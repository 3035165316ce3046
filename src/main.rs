//! `wasi-conform`: run the preview1 conformance suite on WASI runtimes.
//!
//! Commands: `run` (the suite, or a user's scenario directory, on some or all runtimes),
//! `runtimes` (what is installed), `show` (a scenario as compiled, e.g. as WAT), `check`
//! (load and compile scenarios without running them), `bench` (scenario runs per second).

mod bench;
mod bench_fuzz;
mod bench_run;
mod cli_diff;
mod cli_fuzz;
mod cli_record;
mod cli_run;
mod coverage;
mod report;
mod wasi_testsuite;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use wasi_conform_runners::{registry, Availability};
use wasi_conform_suite::{compile, discover, load};

#[derive(Parser)]
#[command(name = "wasi-conform", version, about = "Conformance suite and differential harness for WASI preview1")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios on runtimes and print a summary per runtime.
    Run(cli_run::RunArgs),
    /// List every runtime with its version and availability.
    Runtimes,
    /// Print a scenario as compiled: its module as WAT, or the test case.
    Show {
        /// A scenario file, or a scenario id of the built-in suite.
        scenario: String,
        /// Print the module as WAT.
        #[arg(long)]
        wat: bool,
        /// Write the module's bytes to this file.
        #[arg(long)]
        wasm: Option<PathBuf>,
    },
    /// Load and compile scenarios (the built-in suite, or `--suite DIR`) without running.
    Check {
        #[arg(long)]
        suite: Option<PathBuf>,
    },
    /// Measure scenario runs per second per runtime.
    Bench(bench::BenchArgs),
    /// Scenarios and errnos per function, the denial matrix, divergence cases cited.
    Coverage(coverage::CoverageArgs),
    /// Write generated scenarios (`denial-matrix`), or `--check` them.
    Generate(coverage::GenerateArgs),
    /// Differential fuzzing against the reference (stable toolchain, seeded, deterministic).
    Fuzz(cli_fuzz::FuzzArgs),
    /// Run a real preview1 program, traced, on the reference and every runtime, and show
    /// where each one first departs from the reference.
    Diff(cli_diff::DiffArgs),
    /// Write a real program's traced run as a scenario (`--out FILE.yaml`); with
    /// `--minimise RUNTIME`, the smallest one that still shows that runtime's divergence.
    Record(cli_record::RecordArgs),
    /// Write the scenarios as wasi-testsuite tests (`--wasi-testsuite DIR`).
    Export(wasi_testsuite::export::ExportArgs),
    /// Run every runtime over the suite and write the compatibility report (HTML,
    /// Markdown, JSON, JUnit XML) into `reports/` (or `--out DIR`).
    Report(report::ReportArgs),
}

fn main() -> ExitCode {
    // A worker process for a crash-isolated in-process runtime serves runs and ends here.
    if let Some(code) = registry::serve_if_worker() {
        return code;
    }
    // Keep panic backtraces, but stop anyhow (used inside wasmtime) from capturing one on
    // every guest trap: a large cost in a loop of runs.
    // SAFETY: single-threaded at this point.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:?}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => cli_run::run(args),
        Command::Runtimes => {
            println!("{:<12} {:<16} availability", "runtime", "version");
            for rt in registry::all()? {
                let avail = match rt.availability() {
                    Availability::Available => "available".to_owned(),
                    Availability::NotAvailable(why) => format!("not available: {why}"),
                };
                println!("{:<12} {:<16} {avail}", rt.name(), rt.version());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { scenario, wat, wasm } => {
            let s = find_scenario(&scenario)?;
            let c = compile::compile(&s).with_context(|| format!("compiling {}", s.id))?;
            if let Some(path) = wasm {
                std::fs::write(&path, c.case.module.as_slice())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if wat {
                print!("{}", compile::to_wat(&c.case.module).map_err(anyhow::Error::msg)?);
            } else {
                println!(
                    "{}: {} ({} steps, {} bytes of wasm, {} bytes captured)",
                    s.id,
                    s.summary,
                    s.steps.len(),
                    c.case.module.len(),
                    c.case.capture_len
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { suite } => {
            let loaded = match &suite {
                Some(dir) => discover::load_dir(dir),
                None => discover::load_builtin(),
            };
            let scenarios = match loaded {
                Ok(s) => s,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{e}");
                    }
                    eprintln!("{} file(s) with errors", errors.len());
                    return Ok(ExitCode::FAILURE);
                }
            };
            let mut bad = 0;
            for s in &scenarios {
                if let Err(e) = compile::compile(s) {
                    eprintln!("{e}");
                    bad += 1;
                }
            }
            println!("{} scenario(s) loaded, {} failed to compile", scenarios.len(), bad);
            Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench(args) => bench::run(args),
        Command::Coverage(args) => coverage::run(args),
        Command::Generate(args) => coverage::generate(args),
        Command::Fuzz(args) => cli_fuzz::run(args),
        Command::Diff(args) => cli_diff::run(args),
        Command::Record(args) => cli_record::run(args),
        Command::Export(args) => wasi_testsuite::export::run(args),
        Command::Report(args) => report::run(args),
    }
}

/// A scenario by file path or by id in the built-in suite.
pub fn find_scenario(what: &str) -> Result<wasi_conform_suite::scenario::Scenario> {
    let path = PathBuf::from(what);
    if path.is_file() {
        return load::load_file(&path).map_err(|e| anyhow::anyhow!(e.with_snippet()));
    }
    let all = discover::load_builtin().map_err(|e| anyhow::anyhow!(e.join("\n")))?;
    all.into_iter().find(|s| s.id == what).with_context(|| format!("no scenario file or id `{what}`"))
}
