//! `wasi-conform coverage`: what the suite exercises. Per preview1 function: the number of
//! scenarios about it, the errnos its calls are expected to return, and whether the
//! capability-denial matrix covers it; then which divergence cases (`suite/divergences.toml`)
//! a scenario cites in its `spec`. `--json` prints the same as JSON
//! (`wasi-conform/coverage/v1`).
//!
//! Also `wasi-conform generate denial-matrix`, which (re)writes the generated scenarios of
//! `wasi_conform_suite::denial`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use serde::Serialize;
use wasi_conform_abi::FUNCTIONS;
use wasi_conform_suite::discover;
use wasi_conform_suite::scenario::{ErrnoExpect, Scenario};
use wasi_conform_suite::{denial, divergences};

/// The number of scenarios every function should have (the harness's `suite/coverage`
/// trial enforces the same number).
const MIN_PER_FUNCTION: usize = 3;

#[derive(clap::Args)]
pub struct CoverageArgs {
    /// A directory of your own scenarios (`<function>/<name>.yaml`); default: the built-in suite.
    #[arg(long)]
    suite: Option<PathBuf>,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// What to generate.
    what: Generated,
    /// Do not write: exit 1 if the committed files differ from the generator's output.
    #[arg(long)]
    check: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Generated {
    /// Every escape vector × every path argument of every path-taking function
    /// (`suite/scenarios/<function>/deny-*.yaml`, from suite/src/denial.rs).
    DenialMatrix,
}

/// The coverage report (also the JSON document).
#[derive(Serialize)]
struct Report {
    schema: &'static str,
    functions: Vec<FunctionRow>,
    totals: Totals,
    denial_matrix: Matrix,
    divergences: Vec<CaseRow>,
    /// `spec` citations of case ids that `suite/divergences.toml` does not list.
    unknown_citations: Vec<Citation>,
}

#[derive(Serialize)]
struct FunctionRow {
    function: &'static str,
    /// Scenarios whose id starts with `<function>/`.
    scenarios: usize,
    /// Of those, scenarios of the capability-denial matrix (`<function>/deny-*`).
    denial_scenarios: usize,
    in_denial_matrix: bool,
    /// Every errno a step calling this function (in any scenario) accepts; each member of a
    /// `one-of` counts.
    errnos: Vec<&'static str>,
}

#[derive(Serialize)]
struct Totals {
    scenarios: usize,
    functions: usize,
    min_per_function: usize,
    functions_below_min: Vec<&'static str>,
    /// Functions whose calls are only ever expected to succeed (`proc_exit`, which returns
    /// no errno, is not one of them).
    functions_without_errno_variety: Vec<&'static str>,
    distinct_errnos: usize,
    errnos_in_abi: usize,
    denial_scenarios: usize,
    divergence_cases: usize,
    divergence_cases_cited: usize,
}

#[derive(Serialize)]
struct Matrix {
    vectors: Vec<&'static str>,
    columns: Vec<String>,
    /// Scenarios per (vector, column label); a missing pair is a cell that does not apply.
    cells: BTreeMap<String, BTreeMap<String, String>>,
    /// The generated files agree with the generator (`generate denial-matrix --check`).
    up_to_date: bool,
}

#[derive(Serialize)]
struct CaseRow {
    id: String,
    title: String,
    links: Vec<String>,
    cited_by: Vec<String>,
}

#[derive(Serialize)]
struct Citation {
    scenario: String,
    case: String,
}

pub fn run(args: CoverageArgs) -> Result<ExitCode> {
    let loaded = match &args.suite {
        Some(dir) => discover::load_dir(dir),
        None => discover::load_builtin(),
    };
    let scenarios = loaded.map_err(|errors| anyhow!("{}", errors.join("\n")))?;
    let cases = divergences::builtin().map_err(|e| anyhow!(e))?;
    let report = report(&scenarios, &cases);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn generate(args: GenerateArgs) -> Result<ExitCode> {
    match args.what {
        Generated::DenialMatrix => {
            let dir = discover::suite_dir().join("scenarios");
            if args.check {
                let problems = denial::check(&dir);
                for p in &problems {
                    eprintln!("{p}");
                }
                if problems.is_empty() {
                    println!("denial matrix: {} scenarios, up to date", denial::generate().len());
                    return Ok(ExitCode::SUCCESS);
                }
                eprintln!("run `cargo run -- generate denial-matrix` to rewrite them");
                return Ok(ExitCode::FAILURE);
            }
            let w = denial::write(&dir)?;
            for p in &w.changed {
                println!("wrote   {}", p.display());
            }
            for p in &w.removed {
                println!("removed {}", p.display());
            }
            println!(
                "denial matrix: {} scenarios ({} written, {} removed, {} unchanged)",
                w.total,
                w.changed.len(),
                w.removed.len(),
                w.total - w.changed.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn errno_names(e: &ErrnoExpect) -> Vec<&'static str> {
    match e {
        ErrnoExpect::One(x) => vec![x.name()],
        ErrnoExpect::OneOf { set, .. } => set.iter().map(|x| x.name()).collect(),
    }
}

fn report(scenarios: &[Scenario], cases: &[divergences::Case]) -> Report {
    let mut per: BTreeMap<&'static str, (usize, usize, BTreeSet<&'static str>)> =
        FUNCTIONS.iter().map(|f| (f.name, (0, 0, BTreeSet::new()))).collect();
    for s in scenarios {
        let row = per.entry(s.function.name).or_default();
        row.0 += 1;
        if denial::is_denial_id(&s.id) {
            row.1 += 1;
        }
        for step in &s.steps {
            if let Some(e) = &step.expect.errno {
                per.entry(step.function.name).or_default().2.extend(errno_names(e));
            }
        }
    }
    // Table order: witx order, as the ABI table.
    let functions: Vec<FunctionRow> = FUNCTIONS
        .iter()
        .map(|f| {
            let (n, d, errnos) = &per[f.name];
            FunctionRow {
                function: f.name,
                scenarios: *n,
                denial_scenarios: *d,
                in_denial_matrix: denial::COLUMNS.iter().any(|c| c.function == f.name),
                errnos: errnos.iter().copied().collect(),
            }
        })
        .collect();

    let mut cited_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unknown_citations = Vec::new();
    let known: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    for s in scenarios {
        for id in divergences::cited(&s.spec) {
            if !known.contains(id.as_str()) {
                unknown_citations.push(Citation { scenario: s.id.clone(), case: id.clone() });
            }
            cited_by.entry(id).or_default().push(s.id.clone());
        }
    }
    let divergences: Vec<CaseRow> = cases
        .iter()
        .map(|c| CaseRow {
            id: c.id.clone(),
            title: c.title.clone(),
            links: c.links.clone(),
            cited_by: cited_by.get(&c.id).cloned().unwrap_or_default(),
        })
        .collect();

    let generated = denial::generate();
    let mut cells: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for g in &generated {
        cells.entry(g.vector.to_owned()).or_default().insert(g.column.clone(), g.id.clone());
    }
    let denial_matrix = Matrix {
        vectors: denial::VECTORS.iter().map(|v| v.name).collect(),
        columns: denial::COLUMNS.iter().map(|c| c.label()).collect(),
        cells,
        up_to_date: denial::check(&discover::suite_dir().join("scenarios")).is_empty(),
    };

    let all_errnos: BTreeSet<&str> = functions.iter().flat_map(|f| f.errnos.iter().copied()).collect();
    let totals = Totals {
        scenarios: scenarios.len(),
        functions: functions.iter().filter(|f| f.scenarios > 0).count(),
        min_per_function: MIN_PER_FUNCTION,
        functions_below_min: functions.iter().filter(|f| f.scenarios < MIN_PER_FUNCTION).map(|f| f.function).collect(),
        functions_without_errno_variety: functions
            .iter()
            .filter(|f| !f.errnos.is_empty() && f.errnos.iter().all(|e| *e == "success"))
            .map(|f| f.function)
            .collect(),
        distinct_errnos: all_errnos.len(),
        errnos_in_abi: wasi_conform_abi::Errno::ALL.len(),
        denial_scenarios: scenarios.iter().filter(|s| denial::is_denial_id(&s.id)).count(),
        divergence_cases: divergences.len(),
        divergence_cases_cited: divergences.iter().filter(|c| !c.cited_by.is_empty()).count(),
    };
    Report { schema: "wasi-conform/coverage/v1", functions, totals, denial_matrix, divergences, unknown_citations }
}

fn print_table(r: &Report) {
    println!("{:<24} {:>9} {:>6} {:>6}  errnos exercised", "function", "scenarios", "deny", "errnos");
    for f in &r.functions {
        let deny = if f.in_denial_matrix { f.denial_scenarios.to_string() } else { "-".to_owned() };
        let mark = if f.scenarios < r.totals.min_per_function { " <" } else { "" };
        println!(
            "{:<24} {:>9} {:>6} {:>6}  {}{mark}",
            f.function,
            f.scenarios,
            deny,
            f.errnos.len(),
            f.errnos.join(" ")
        );
    }
    let t = &r.totals;
    println!(
        "{:<24} {:>9} {:>6} {:>6}  distinct errnos over all functions (of {} in the ABI)",
        "total", t.scenarios, t.denial_scenarios, t.distinct_errnos, t.errnos_in_abi
    );
    println!();
    println!("functions with scenarios: {} of {}", t.functions, r.functions.len());
    if t.functions_below_min.is_empty() {
        println!("every function has at least {} scenarios", t.min_per_function);
    } else {
        println!("below {} scenarios (<): {}", t.min_per_function, t.functions_below_min.join(", "));
    }
    if !t.functions_without_errno_variety.is_empty() {
        println!("only `success` expected: {}", t.functions_without_errno_variety.join(", "));
    }

    let m = &r.denial_matrix;
    let in_matrix: usize = m.cells.values().map(|c| c.len()).sum();
    println!();
    println!(
        "denial matrix: {} vectors x {} path arguments = {} scenarios{}",
        m.vectors.len(),
        m.columns.len(),
        in_matrix,
        if m.up_to_date { "" } else { " (files out of date: run `cargo run -- generate denial-matrix`)" }
    );

    println!();
    println!("divergence cases cited by a scenario's spec: {} of {}", t.divergence_cases_cited, t.divergence_cases);
    for c in &r.divergences {
        let by = if c.cited_by.is_empty() { "-".to_owned() } else { c.cited_by.len().to_string() };
        println!("  {:<4} {:>3}  {}", c.id, by, c.title);
    }
    let uncited: Vec<&str> = r.divergences.iter().filter(|c| c.cited_by.is_empty()).map(|c| c.id.as_str()).collect();
    if !uncited.is_empty() {
        println!("not cited: {}", uncited.join(", "));
    }
    for u in &r.unknown_citations {
        println!("unknown case `{}` cited by {}", u.case, u.scenario);
    }
}
