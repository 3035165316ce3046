//! `record` on the real programs: every committed workload (`programs/workloads/`) is
//! recorded as a scenario and judged on every runtime against `diff`'s verdict on the
//! program: a runtime that agrees with the reference passes the recorded scenario, and one
//! whose first departure is a call's own result (the same call, another answer) fails it. One trial `record/<program>/<workload>/<runtime>`;
//! a program or runtime that is not installed is ignored with why (an error under `CI`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::Trial;
use wasi_conform_programs::diff::{against, baseline, Baseline, Verdict};
use wasi_conform_programs::record::{record_program, Recorded};
use wasi_conform_programs::workloads::{programs_dir, ProgramFile};
use wasi_conform_runners::test_main::{needs_runtime, run_trials};
use wasi_conform_runners::{execute, registry, Availability};
use wasi_conform_suite::{compile, verdict};

/// Per workload, made once and shared by its trials: the recording, and the reference's
/// traced run `diff` compares with.
type Recordings = Arc<Mutex<BTreeMap<String, Arc<OnceLock<Result<(Recorded, Baseline), String>>>>>>;

fn main() -> std::process::ExitCode {
    run_trials(|| {
        let programs = ProgramFile::load_all(&programs_dir().join("workloads")).expect("the workload files");
        let cache: Recordings = Arc::default();
        let runtimes = registry::all().expect("the registry");
        let mut trials: Vec<Trial> = Vec::new();
        for (pname, p) in programs {
            let wasm = p.installed();
            for w in &p.workloads {
                let key = format!("{pname}/{}", w.name);
                for rt in runtimes.iter() {
                    let name = rt.name();
                    let trial_name = format!("record/{key}/{name}");
                    let wasm = match &wasm {
                        Ok(wasm) => wasm.clone(),
                        Err(why) => {
                            // A missing program: ignored with why, or failed under CI.
                            let missing = Availability::NotAvailable(why.clone());
                            trials.push(needs_runtime(trial_name, &p.package, &missing, || {}));
                            continue;
                        }
                    };
                    let (cache, p, w, key) = (cache.clone(), p.clone(), w.clone(), key.clone());
                    trials.push(needs_runtime(trial_name, name, &rt.availability(), move || {
                        let tmp = tempfile::tempdir().unwrap();
                        let program = p.program(&w, wasm.clone(), tmp.path()).unwrap();
                        let cell = cache.lock().unwrap().entry(key.clone()).or_default().clone();
                        let (recorded, base) = cell
                            .get_or_init(|| {
                                let recorded = record_program(&program, None, None).map_err(|e| e.to_string())?;
                                let reference = registry::builtin("reference").ok_or("no reference")?;
                                let base = baseline(&program, reference.as_ref()).map_err(|e| e.to_string())?;
                                Ok((recorded, base))
                            })
                            .clone()
                            .unwrap_or_else(|e| panic!("{key}: {e}"));
                        let s = &recorded.scenario;
                        let rt = registry::builtin(name).expect("built in");
                        let c = compile::compile(s).unwrap();
                        let v = verdict::judge(s, &c.layout, &execute(rt.as_ref(), &c.case));
                        if name == "reference" {
                            assert!(v.is_pass(), "{key}: {}", v.message());
                            return;
                        }
                        let d = against(&base, &program, rt.as_ref()).unwrap();
                        let why = || {
                            format!(
                                "{key} on {name}: diff says {:?} (first divergence: {:?}), the recorded scenario ({} steps) says {}",
                                d.verdict,
                                d.divergence.as_ref().map(|x| (x.index, &x.expected, &x.observed)),
                                s.steps.len(),
                                v.message()
                            )
                        };
                        // The recording is faithful: a runtime that agrees on the program
                        // passes it.
                        if d.verdict == Verdict::Agrees {
                            assert!(v.is_pass(), "{}", why());
                        }
                        // It catches what diff catches in the calls' own results: where the
                        // runtime's first departure is the same call (function and arguments)
                        // with another result, it fails the scenario. Where the runtime makes
                        // other calls (the program reacting to something no expectation can
                        // state, e.g. Deno's d_ino 0 makes wasi-libc stat each entry) or stops
                        // (a timeout, a crash), the scenario goes on past that point and its
                        // verdict says what it finds there.
                        let same_call = d.divergence.as_ref().is_some_and(|x| match (&x.expected, &x.observed) {
                            (Some(e), Some(o)) => e.function == o.function && e.args == o.args,
                            _ => false,
                        });
                        if same_call {
                            assert!(!v.is_pass(), "{}", why());
                        }
                    }));
                }
            }
        }
        trials
    })
}
