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
//!
//! Two rates per row: programs per wall-clock second, and programs per CPU second — the CPU
//! time of this process, of its worker processes (Wasmer's crash-isolating worker, the JS
//! runtimes' workers) and of children that ended, all summed. Runtimes run one after another
//! and each run is waited for, so CPU seconds are what one core would spend; on a machine
//! whose cores are busy with other work, wall-clock time also holds the time this process
//! waited for a core, and the CPU rate is the one that says what the fuzzer costs.

use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Programs (or time) per (set, form).
    pub budget: Budget,
    pub sets: Vec<String>,
    /// Also measure the compiled form (the rate before programs as data).
    pub compiled: bool,
}

struct Row {
    set: String,
    form: &'static str,
    programs: u64,
    rate: f64,
    /// Programs per CPU second.
    cpu_rate: f64,
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
    let per = match b.budget {
        Budget::Iterations(n) => format!("programs 0..{n}"),
        Budget::Time(t) => format!("{} s", t.as_secs()),
    };
    println!("seed {}, {per} per set and form, one core (runtimes one after another), minimisation off", b.seed);
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
                budget: b.budget,
                gen: GenConfig::default(),
                minimise_budget: 0,
                scenarios_dir: None,
                repo_root: root.clone(),
                form: *form,
            };
            let cpu_before = cpu_seconds();
            let s = driver::run(&oracle, &known, &cfg, |_| {});
            let cpu = cpu_seconds() - cpu_before;
            let rate = s.programs as f64 / s.elapsed.as_secs_f64().max(1e-9);
            let cpu_rate = s.programs as f64 / cpu.max(1e-9);
            eprintln!("{label:<40} {form_name:<9} {rate:>8.1} programs/s, {cpu_rate:>8.1} per CPU second");
            rows.push(Row {
                set: label.clone(),
                form: form_name,
                programs: s.programs,
                rate,
                cpu_rate,
                distinct: s.findings.len(),
                as_data: s.as_data,
            });
        }
    }
    let base = |form: &str| rows.iter().find(|r| r.set == "reference" && r.form == form).map(|r| (r.rate, r.cpu_rate));
    let ref_compiled = base("compiled");
    println!();
    println!("load average at the end: {}", load_average());
    println!("× ref = the rate divided by the reference alone's with programs compiled (the fuzzer before), same run");
    println!();
    println!("| runtime set | form | programs | programs/s (wall) | × ref (wall) | programs per CPU s | × ref (CPU) | distinct signatures | run as data |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let ratio = |r: f64, b: Option<f64>| b.map(|b| format!("{:.2}", r / b)).unwrap_or_else(|| "-".into());
    for r in &rows {
        println!(
            "| `{}` | {} | {} | {:.1} | {} | {:.1} | {} | {} | {} |",
            r.set,
            r.form,
            r.programs,
            r.rate,
            ratio(r.rate, ref_compiled.map(|b| b.0)),
            r.cpu_rate,
            ratio(r.cpu_rate, ref_compiled.map(|b| b.1)),
            r.distinct,
            r.as_data
        );
    }
    println!();
    for (set, target) in TARGETS {
        let found =
            rows.iter().find(|r| r.form == "data" && (r.set == *set || (*set == "all" && r.set.starts_with("all ("))));
        match found {
            Some(r) => {
                for (what, rate) in [("per CPU second (one core)", r.cpu_rate), ("per wall-clock second", r.rate)] {
                    if rate >= *target {
                        println!("target {target}/s for `{set}`, {what}: met ({rate:.1})");
                    } else {
                        println!(
                            "target {target}/s for `{set}`, {what}: short by {:.1} ({rate:.1}, {:.0}% of it)",
                            target - rate,
                            100.0 * rate / target
                        );
                    }
                }
            }
            None => println!("target {target}/s for `{set}`: not measured"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// CPU seconds (user + system) of this process, of its live child processes (the worker
/// processes) and of the children it has reaped.
fn cpu_seconds() -> f64 {
    // SAFETY: sysconf and getrusage only write the struct they are given.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let me = std::process::id();
    let stat = |pid: &str| -> Option<(u32, f64)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces): state ppid … utime(14) stime(15).
        let rest = &text[text.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        let ppid = f.get(1)?.parse().ok()?;
        let cpu = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some((ppid, cpu / ticks))
    };
    let mut total = stat("self").map(|(_, c)| c).unwrap_or(0.0);
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.bytes().all(|b| b.is_ascii_digit()) {
                if let Some((ppid, cpu)) = stat(&name) {
                    if ppid == me {
                        total += cpu;
                    }
                }
            }
        }
    }
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } == 0 {
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        total += tv(usage.ru_utime) + tv(usage.ru_stime);
    }
    total
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
