//! `wasi-conform record APP.wasm [--dir HOST::GUEST]... [--env K=V]... [--stdin FILE]
//! --out FILE.yaml [--minimise RUNTIME] [-- ARGS]`: a real program's traced run on the
//! reference, written as a scenario (every call a step with its raw arguments, the
//! reference's results as expectations, strength `choice`); with `--minimise`, reduced to
//! the smallest scenario that still shows that runtime's first divergence.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use wasi_conform_programs::program::{Dir, Program};
use wasi_conform_programs::record::{record_program, Minimise};

#[derive(Args)]
pub struct RecordArgs {
    /// The program: a preview1 command module.
    pub module: PathBuf,
    /// A directory to give the program, `HOST::GUEST` (copied, never written); its
    /// contents become the scenario's fixture.
    #[arg(long = "dir")]
    pub dirs: Vec<Dir>,
    /// An environment variable, `KEY=VALUE`.
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// A file whose bytes are the program's stdin.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Seconds the run may take (the scenario's budget, at most 60).
    #[arg(long, default_value_t = 60)]
    pub budget: u64,
    /// Where to write the scenario.
    #[arg(long)]
    pub out: PathBuf,
    /// The scenario's id, `<function>/<name>` (default: `<first function>/recorded-<program>`,
    /// or the diverging call's function with `--minimise`).
    #[arg(long)]
    pub id: Option<String>,
    /// Reduce the scenario (delta debugging over calls, then fixture entries, stdin, env
    /// and arguments) to the smallest that still shows this runtime's first divergence from
    /// the reference.
    #[arg(long, value_name = "RUNTIME")]
    pub minimise: Option<String>,
    /// Oracle runs `--minimise` may spend.
    #[arg(long, default_value_t = 3000)]
    pub runs: usize,
    /// The program's arguments (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub fn run(a: RecordArgs) -> Result<ExitCode> {
    let mut program = Program::from_file(&a.module)?;
    program.dirs = a.dirs;
    program.env = a.env;
    program.args = a.args;
    program.budget = Duration::from_secs(a.budget.min(60));
    if let Some(f) = &a.stdin {
        program.stdin = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
    }
    let minimise = a.minimise.map(|runtime| Minimise { runtime, runs: a.runs });
    let started = std::time::Instant::now();
    let recorded = record_program(&program, a.id.as_deref(), minimise.as_ref())
        .with_context(|| format!("recording {}", a.module.display()))?;
    std::fs::write(&a.out, &recorded.yaml).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{}: {} ({} steps) in {:.1} s",
        a.out.display(),
        recorded.scenario.id,
        recorded.scenario.steps.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(m) = &recorded.minimised {
        println!(
            "minimised for {}: {} -> {} steps, {} -> {} fixture entries, {} oracle runs; keeps: {}",
            m.runtime, m.steps.0, m.steps.1, m.fixture_entries.0, m.fixture_entries.1, m.runs, m.signature
        );
    }
    for n in &recorded.notes {
        println!("note: {n}");
    }
    Ok(ExitCode::SUCCESS)
}
