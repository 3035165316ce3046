//! `wasi-conform bench --fuzz`: generated programs per second through runtime sets, each set
//! measured with programs as data (one interpreter module per runtime, the program
//! preloaded; `wasi-conform-differential`'s `as_data`) and compiled (a module per program, as
//! before), one set after another in one process, with the rate of the reference alone
//! measured in the same run as the yardstick: a ratio to it carries over between machines
//! and loads, a bare rate does not.
//!
//! The loop is `wasi-conform fuzz`'s (`driver::run`: generate, compile, oracle, triage;
//! minimisation off), so a rate here is the fuzzer's rate. Findings are counted, not
//! written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use wasi_conform_differential::driver::{self, Budget, FuzzConfig, ProgramForm};
use wasi_conform_differential::oracle::Oracle;
use wasi_conform_differential::program::GenConfig;
use wasi_conform_differential::triage::Known;

/// The runtime sets measured by default: the reference alone, each in-process runtime, the
/// in-process set, and every available runtime (`all`).
pub const DEFAULT_SETS: &[&str] = &["reference", "wasmtime", "wasmi", "wasmer", "wasmtime,wasmi,wasmer", "all"];

/// Targets (issue 14), programs per second on one core: the in-process set, and every
/// available runtime.
const TARGETS: &[(&str, f64)] = &[("wasmtime,wasmi,wasmer", 300.0), ("all", 50.0)];

/// What `bench --fuzz` measures.
pub struct FuzzBench {
    pub seed: u64,
    /// Time per (set, form).
    pub seconds: u64,
    pub sets: Vec<String>,
    /// Also measure the compiled form (the rate before programs as data).
    pub compiled: bool,
}

struct Row {
    set: String,
    form: &'static str,
    programs: u64,
    rate: f64,
    distinct: usize,
    as_data: u64,
}

pub fn run(b: FuzzBench) -> Result<ExitCode> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let known_path = root.join("fuzz/known-divergences.toml");
    let known = Known::load(&known_path).with_context(|| format!("loading {}", known_path.display()))?;
    let mut forms = vec![("data", ProgramForm::Data)];
    if b.compiled {
        forms.push(("compiled", ProgramForm::Compiled));
    }
    let mut sets = b.sets.clone();
    if !sets.iter().any(|s| s == "reference") {
        sets.insert(0, "reference".to_owned());
    }
    println!(
        "seed {}, {} s per set and form, one core (runtimes one after another), minimisation off",
        b.seed, b.seconds
    );
    let mut rows = Vec::new();
    for set in &sets {
        let oracle = match set.as_str() {
            "reference" => Oracle::reference_only()?,
            "all" => Oracle::new(&[])?,
            names => Oracle::new(&names.split(',').map(str::to_owned).collect::<Vec<_>>())?,
        };
        for (name, why) in &oracle.unavailable {
            println!("note: {name} is not available here and is left out of `{set}`: {why}");
        }
        let label = if set == "all" { format!("all ({})", oracle.runtimes().join(",")) } else { set.clone() };
        for (form_name, form) in &forms {
            let cfg = FuzzConfig {
                seed: b.seed,
                first: 0,
                budget: Budget::Time(Duration::from_secs(b.seconds)),
                gen: GenConfig::default(),
                minimise_budget: 0,
                scenarios_dir: None,
                repo_root: root.clone(),
                form: *form,
            };
            let s = driver::run(&oracle, &known, &cfg, |_| {});
            let rate = s.programs as f64 / s.elapsed.as_secs_f64().max(1e-9);
            eprintln!("{label:<40} {form_name:<9} {rate:>8.1} programs/s");
            rows.push(Row {
                set: label.clone(),
                form: form_name,
                programs: s.programs,
                rate,
                distinct: s.findings.len(),
                as_data: s.as_data,
            });
        }
    }
    let base = |form: &str| rows.iter().find(|r| r.set == "reference" && r.form == form).map(|r| r.rate);
    let (ref_data, ref_compiled) = (base("data"), base("compiled"));
    println!();
    println!("| runtime set | form | programs | programs/s | × reference alone (data) | × reference alone (compiled) | distinct signatures | run as data |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let ratio = |r: f64, b: Option<f64>| b.map(|b| format!("{:.2}", r / b)).unwrap_or_else(|| "-".into());
    for r in &rows {
        println!(
            "| `{}` | {} | {} | {:.1} | {} | {} | {} | {} |",
            r.set,
            r.form,
            r.programs,
            r.rate,
            ratio(r.rate, ref_data),
            ratio(r.rate, ref_compiled),
            r.distinct,
            r.as_data
        );
    }
    println!();
    for (set, target) in TARGETS {
        let found = rows.iter().find(|r| r.form == "data" && (r.set == *set || (*set == "all" && r.set.starts_with("all ("))));
        match found {
            Some(r) if r.rate >= *target => println!("target {target}/s for `{set}`: met ({:.1}/s)", r.rate),
            Some(r) => println!(
                "target {target}/s for `{set}`: short by {:.1}/s ({:.1}/s, {:.0}% of it)",
                target - r.rate,
                r.rate,
                100.0 * r.rate / target
            ),
            None => println!("target {target}/s for `{set}`: not measured"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
