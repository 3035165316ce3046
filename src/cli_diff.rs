//! `wasi-conform diff APP.wasm [--dir HOST::GUEST]... [--env K=V]... [--stdin FILE] [-- ARGS]`
//! (or `diff --workload <program>/<workload>`, a committed real-program workload):
//! a real program, traced, on the reference and on every available runtime (or those
//! `--runtime` names); per runtime, agreement with the reference or where it first departs.
//! The JSON schema (`--json FILE`) is in `programs/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use wasi_conform_programs::diff::{diff, Verdict};

use wasi_conform_programs::program::{Dir, Program};
use wasi_conform_programs::workloads::{programs_dir, ProgramFile};
use wasi_conform_runners::{matrix, registry, Availability};

#[derive(Args)]
pub struct DiffArgs {
    /// The program: a preview1 command module.
    #[arg(required_unless_present = "workload")]
    pub module: Option<PathBuf>,
    /// Instead of a module and its arguments: a committed real-program workload,
    /// `<program>/<workload>` (`programs/workloads/<program>.toml`; the program installed by
    /// `programs/install.sh`).
    #[arg(long, conflicts_with_all = ["module", "dirs", "env", "stdin", "args"])]
    pub workload: Option<String>,
    /// A directory to give the program, `HOST::GUEST` (copied for every runtime, never
    /// written).
    #[arg(long = "dir")]
    pub dirs: Vec<Dir>,
    /// An environment variable, `KEY=VALUE`.
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// A file whose bytes are the program's stdin.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Comma-separated runtime names; default: every runtime but the reference.
    #[arg(long, value_delimiter = ',')]
    pub runtime: Vec<String>,
    /// Seconds each run may take.
    #[arg(long, default_value_t = 60)]
    pub budget: u64,
    /// Runs at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Also run each runtime on the module without the shims, and print both times: the
    /// tracing overhead.
    #[arg(long)]
    pub overhead: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The program's arguments (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// The committed workload `<program>/<workload>` as a run; its `::GUEST` directories are
/// made under `scratch`.
fn workload(key: &str, scratch: &std::path::Path) -> Result<Program> {
    let (name, wl) = key.split_once('/').with_context(|| format!("`{key}`: expected <program>/<workload>"))?;
    let files = ProgramFile::load_all(&programs_dir().join("workloads"))?;
    let (_, pf) = files.iter().find(|(n, _)| n == name).with_context(|| {
        format!(
            "no program `{name}` in programs/workloads/ ({})",
            files.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    let w = pf.workloads.iter().find(|w| w.name == wl).with_context(|| {
        format!(
            "{name} has no workload `{wl}` ({})",
            pf.workloads.iter().map(|w| w.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    let wasm = pf.installed().map_err(anyhow::Error::msg)?;
    Ok(pf.program(w, wasm, scratch)?)
}

pub fn run(a: DiffArgs) -> Result<ExitCode> {
    let scratch = tempfile::tempdir().context("a scratch directory")?;
    let mut program = match (&a.workload, &a.module) {
        (Some(key), _) => workload(key, scratch.path())?,
        (None, Some(module)) => {
            let mut program = Program::from_file(module)?;
            program.dirs = a.dirs;
            program.env = a.env;
            program.args = a.args;
            if let Some(f) = &a.stdin {
                program.stdin = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            }
            program
        }
        (None, None) => anyhow::bail!("give a module or --workload"),
    };
    program.budget = Duration::from_secs(a.budget);
    let reference = registry::builtin("reference").context("the reference runtime")?;
    let runtimes: Vec<_> = registry::select(&a.runtime)?
        .into_iter()
        .filter(|r| r.name() != "reference" || !a.runtime.is_empty())
        .collect();
    let report = diff(&program, reference.as_ref(), &runtimes, matrix::jobs(a.jobs))?;
    print!("{}", report.text());
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if a.overhead {
        println!("\ntracing overhead (wall time of one run, traced / plain):");
        let reference_and_all = std::iter::once(&reference).chain(runtimes.iter());
        for rt in reference_and_all {
            let traced = if rt.name() == report.reference.runtime {
                Some(report.reference.elapsed_ms)
            } else {
                report.runtimes.iter().find(|d| d.runtime == rt.name()).map(|d| d.elapsed_ms)
            };
            if let (Some(traced), Availability::Available) = (traced, rt.availability()) {
                let case = program.case(program.wasm.clone())?;
                let plain = wasi_conform_runners::execute(rt.as_ref(), &case);
                println!("  {:<10} {traced:>7} ms / {:>7} ms", rt.name(), plain.elapsed.as_millis());
            }
        }
    }
    let all_agree = report.runtimes.iter().all(|d| matches!(d.verdict, Verdict::Agrees | Verdict::NotAvailable));
    Ok(if all_agree { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
