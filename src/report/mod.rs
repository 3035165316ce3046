//! `wasi-conform report`: the published runtime-compatibility report.
//!
//! Runs every selected runtime over the built-in suite ([`collect`]), builds the
//! [`model::Report`] with each runtime's headline figures ([`figures`]: conformance over
//! `must`+`should`+`de-facto`, `must` alone, agreement with the reference's choices,
//! not-applicable, known failures by root cause), optionally compares it with a previous
//! `report.json` ([`baseline`]), and writes `index.html` ([`html`]), `summary.md` ([`markdown`]), `report.json`
//! ([`json`]), `junit.xml` ([`junit`]) and a page per fuzz finding in `findings/`
//! ([`findings_pages`]). The renderers are pure functions from the model
//! to text. With the default output directory (the repository's `reports/`) the README's
//! table between its markers is rewritten too, so that one command regenerates everything
//! that is published: [`REGENERATE`].

pub mod baseline;
pub mod collect;
pub mod denial;
pub mod escape;
pub mod figures;
pub mod findings_pages;
pub mod host;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod programs;
pub mod programs_section;
#[cfg(test)]
mod testdata;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasi_conform_runners::matrix::Prepared;
use wasi_conform_suite::discover;

use model::{Meta, Report, SCHEMA};

/// The one command that regenerates the published `reports/` and the README table.
/// WasmEdge and WAMR are included when `WASMEDGE_BIN` / `IWASM_BIN` name their binaries
/// (or `wasmedge` / `iwasm` are on `PATH`).
pub const REGENERATE: &str = "cargo run --release -- report --baseline reports/report.json";

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Output directory; default: the repository's `reports/` (and then the README table
    /// is rewritten too).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A previous `report.json`: the report shows what changed since (newly failing and
    /// newly passing scenarios per runtime, scenarios added and removed).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Comma-separated runtime names; default: every runtime (unavailable ones are
    /// reported as such, with the reason).
    #[arg(long, value_delimiter = ',', conflicts_with = "from")]
    runtime: Vec<String>,
    /// Only scenarios whose id contains this text (the report says so).
    #[arg(long, conflicts_with = "from")]
    filter: Option<String>,
    /// Parallel runs per runtime (default: number of CPUs).
    #[arg(long, conflicts_with = "from")]
    jobs: Option<usize>,
    /// Also run this directory of wasi-testsuite-format tests (`*.wasm` + `*.json`) on the
    /// same runtimes: its own section of the report.
    #[arg(long, value_name = "DIR", conflicts_with = "from")]
    wasi_testsuite: Option<PathBuf>,
    /// Leave out the real-programs section (`programs/workloads/` traced on every runtime).
    #[arg(long, conflicts_with = "from")]
    no_programs: bool,
    /// Do not run anything: render this `report.json` again (after a renderer change).
    #[arg(long)]
    from: Option<PathBuf>,
    /// The README whose table (between its `wasi-conform report` markers) to rewrite;
    /// default: the repository's README.md when `--out` is not given, none otherwise.
    #[arg(long)]
    readme: Option<PathBuf>,
}

/// The repository root (the parent of `suite/`).
pub fn repo_dir() -> PathBuf {
    discover::suite_dir().parent().map(Path::to_owned).unwrap_or_else(|| PathBuf::from("."))
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let repo = repo_dir();
    let default_out = args.out.is_none();
    let out = args.out.clone().unwrap_or_else(|| repo.join("reports"));
    let previous = match &args.baseline {
        Some(p) => Some(json::load(p).with_context(|| format!("baseline {}", p.display()))?),
        None => None,
    };
    let mut report = match &args.from {
        Some(p) => json::load(p)?,
        None => collect_report(&args, &repo)?,
    };
    if let Some(before) = &previous {
        report.baseline = Some(baseline::diff(before, &report));
    }
    write_all(&report, &out)?;
    println!("wrote {}/{{index.html,summary.md,report.json,junit.xml}}", out.display());
    let readme = args.readme.clone().or_else(|| default_out.then(|| repo.join("README.md")));
    if let Some(path) = readme {
        update_readme(&path, &report)?;
    }
    print_summary(&report);
    Ok(ExitCode::SUCCESS)
}

fn collect_report(args: &ReportArgs, repo: &Path) -> Result<Report> {
    let started = Instant::now();
    let date_utc = host::now_utc();
    let runtimes = wasi_conform_runners::registry::select(&args.runtime)?;
    let mut scenarios = discover::load_builtin().map_err(|errors| anyhow::anyhow!(errors.join("\n")))?;
    if let Some(f) = &args.filter {
        scenarios.retain(|s| s.id.contains(f.as_str()));
    }
    if scenarios.is_empty() {
        bail!("no scenario matches");
    }
    let (denial, cells) = collect::denial_axes();
    let infos: Vec<_> = scenarios.iter().map(|s| collect::scenario_info(s, repo, &cells)).collect();
    let prepared: Vec<Prepared> = scenarios.into_iter().map(Prepared::new).collect();
    let jobs = wasi_conform_runners::matrix::jobs(args.jobs);
    let exp_dir = discover::suite_dir().join("expectations");
    let mut runtime_infos = Vec::new();
    let mut results = Vec::new();
    for rt in &runtimes {
        eprint!("{:<12} ", rt.name());
        let run = collect::run_runtime(rt.as_ref(), &prepared, &exp_dir, repo, jobs)?;
        match &run.info.reason {
            Some(why) => eprintln!("not available: {why}"),
            None => eprintln!("{} scenarios in {:.1} s", run.results.len(), run.info.elapsed_s),
        }
        runtime_infos.push(run.info);
        results.extend(run.results);
    }
    let wasi_testsuite = match &args.wasi_testsuite {
        Some(dir) => {
            let rows = crate::wasi_testsuite::run_dir(dir, &runtimes, jobs)
                .with_context(|| format!("wasi-testsuite directory {}", dir.display()))?;
            eprintln!("wasi-testsuite: {} results from {}", rows.len(), dir.display());
            Some(model::WasiTestsuite {
                dir: dir.display().to_string(),
                results: rows.iter().map(model::TestRow::from_case).collect(),
            })
        }
        None => None,
    };
    let programs = if args.no_programs { Vec::new() } else { programs::collect(&runtimes, jobs)? };
    let findings = collect::load_findings(&repo.join("fuzz").join("findings.json"))?;
    let divergences = collect::divergences(&infos, findings)?;
    let (git_commit, git_dirty) = host::git(repo);
    let mut report = Report {
        schema: SCHEMA.to_owned(),
        meta: Meta {
            project_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit,
            git_dirty,
            date_utc,
            host: host::host(),
            filter: args.filter.clone(),
            elapsed_s: collect::seconds(started.elapsed()),
        },
        runtimes: runtime_infos,
        functions: collect::functions(),
        scenarios: infos,
        results,
        denial,
        divergences,
        wasi_testsuite,
        programs,
        baseline: None,
    };
    report.refresh_figures();
    Ok(report)
}

/// Writes the four files into `out` (created if needed).
pub fn write_all(r: &Report, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, text) in [
        ("index.html", html::render(r)),
        ("summary.md", markdown::summary(r)),
        ("report.json", json::render(r)),
        ("junit.xml", junit::render(r)),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let dir = out.join("findings");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in findings_pages::render(r) {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn update_readme(path: &Path, r: &Report) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match markdown::embed(&text, &markdown::readme_section(r)) {
        Some(new) if new != text => {
            std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))?;
            println!("updated the table in {}", path.display());
        }
        Some(_) => {}
        None => eprintln!(
            "warning: {} has no `{}` … `{}` markers; its table was not updated",
            path.display(),
            markdown::BEGIN,
            markdown::END
        ),
    }
    Ok(())
}

fn print_summary(r: &Report) {
    for rt in &r.runtimes {
        match &rt.figures {
            Some(f) => println!(
                "{:<12} {:<28} conformance {:>4} / {:<4} must {:>4} / {:<4} choices {:>3} / {:<3} \
                 not applicable {:>3}  known failures {} / {} (scenarios / causes)  unexpected {}",
                rt.name,
                rt.version,
                f.conformance.passed,
                f.conformance.applicable,
                f.must.passed,
                f.must.applicable,
                f.choices.passed,
                f.choices.applicable,
                f.not_applicable,
                f.known_failures.scenarios,
                f.known_failures.causes,
                f.unexpected
            ),
            None => println!("{:<12} not available: {}", rt.name, rt.reason.as_deref().unwrap_or("")),
        }
    }
    if let Some(d) = &r.baseline {
        let failing: usize = d.runtimes.iter().map(|x| x.newly_failing.len()).sum();
        let passing: usize = d.runtimes.iter().map(|x| x.newly_passing.len()).sum();
        println!(
            "since the baseline ({}): {failing} newly failing, {passing} newly passing, {} scenarios added, {} removed",
            d.date_utc,
            d.scenarios_added.len(),
            d.scenarios_removed.len()
        );
    }
    let unexpected: Vec<&model::ResultRow> = r.results.iter().filter(|x| figures::unexpected(x)).collect();
    if !unexpected.is_empty() {
        println!(
            "{} result(s) disagree with the expectation files (`cargo test` fails on them), e.g. {} on {}: {}",
            unexpected.len(),
            unexpected[0].scenario,
            unexpected[0].runtime,
            unexpected[0].status
        );
    }
    println!("report run took {:.1} s", r.meta.elapsed_s);
}
