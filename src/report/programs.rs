//! The report's real-programs section: every committed workload (`programs/workloads/`)
//! traced with `diff` on the reference and every available runtime; per workload and
//! runtime the verdict, the first diverging call, the other differences, the reason
//! `programs/expectations/<runtime>.toml` gives for a known one, and the command that
//! reproduces it. A program that is not installed is shown as such, with how to install it.

use anyhow::{Context, Result};
use wasi_conform_programs::diff::{diff, RuntimeDiff, Verdict};
use wasi_conform_programs::workloads::{known_differences, programs_dir, ProgramFile};
use wasi_conform_runners::registry::{self, REFERENCE};
use wasi_conform_runners::Runtime;

use super::model::ProgramRow;

fn row(workload: &str, package: &str, d: &RuntimeDiff, reference_calls: usize) -> Result<ProgramRow> {
    let first_divergence = d.divergence.as_ref().map(|v| {
        let show = |c: &Option<wasi_conform_programs::compare::Seen>| {
            c.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "no more calls".into())
        };
        format!("#{}: expected {}; observed {}", v.index + 1, show(&v.expected), show(&v.observed))
    });
    let mut other = Vec::new();
    if let Some((e, o)) = &d.ending_differs {
        other.push(format!("ending: expected {e}, observed {o}"));
    }
    if d.stdout_differs {
        other.push("stdout differs".into());
    }
    if d.stderr_differs {
        other.push("stderr differs".into());
    }
    other.extend(d.tree_differences.iter().take(5).map(|p| format!("final tree: {p}")));
    other.extend(d.escaped.iter().map(|p| format!("changed outside the sandbox: {p}")));
    let known = if matches!(d.verdict, Verdict::Agrees | Verdict::NotAvailable) {
        None
    } else {
        known_differences(&d.runtime)
            .with_context(|| format!("programs/expectations/{}.toml", d.runtime))?
            .into_iter()
            .find(|k| k.workload == workload)
            .map(|k| k.reason)
    };
    Ok(ProgramRow {
        workload: workload.to_owned(),
        package: package.to_owned(),
        runtime: d.runtime.clone(),
        verdict: d.verdict.name().to_owned(),
        ending: d.ending.clone(),
        calls: d.calls,
        reference_calls,
        elapsed_ms: d.elapsed_ms as u64,
        first_divergence,
        other,
        known,
        reproduce: format!("cargo run --release -- diff --workload {workload} --runtime {}", d.runtime),
    })
}

/// Runs every workload on the reference and on `runtimes`, `jobs` runs at once.
pub fn collect(runtimes: &[Box<dyn Runtime>], jobs: usize) -> Result<Vec<ProgramRow>> {
    let reference = registry::builtin(REFERENCE).context("the reference runtime")?;
    let names: Vec<String> = runtimes.iter().map(|r| r.name().to_owned()).filter(|n| n != REFERENCE).collect();
    let others = if names.is_empty() { Vec::new() } else { registry::select(&names)? };
    let files = ProgramFile::load_all(&programs_dir().join("workloads"))?;
    let scratch = tempfile::tempdir().context("a directory for the workloads' empty directories")?;
    let mut rows = Vec::new();
    for (name, pf) in &files {
        let wasm = pf.installed().ok();
        for w in &pf.workloads {
            let key = format!("{name}/{}", w.name);
            let Some(wasm) = &wasm else {
                for rt in std::iter::once(REFERENCE).chain(names.iter().map(String::as_str)) {
                    rows.push(ProgramRow {
                        workload: key.clone(),
                        package: pf.package.clone(),
                        runtime: rt.to_owned(),
                        verdict: "not-installed".into(),
                        ending: format!("{} is not installed: run programs/install.sh", pf.package),
                        calls: 0,
                        reference_calls: 0,
                        elapsed_ms: 0,
                        first_divergence: None,
                        other: Vec::new(),
                        known: None,
                        reproduce: "programs/install.sh".into(),
                    });
                }
                continue;
            };
            eprint!("program      {key:<28} ");
            let program = pf.program(w, wasm.clone(), scratch.path())?;
            let report = diff(&program, reference.as_ref(), &others, jobs).with_context(|| key.clone())?;
            let reference_calls = report.reference.calls;
            rows.push(row(&key, &pf.package, &report.reference, reference_calls)?);
            for d in &report.runtimes {
                rows.push(row(&key, &pf.package, d, reference_calls)?);
            }
            let agree = report.runtimes.iter().filter(|d| d.verdict == Verdict::Agrees).count();
            eprintln!("{agree} of {} runtimes agree with the reference", report.runtimes.len());
        }
    }
    Ok(rows)
}
