//! `record` on the real programs: every committed workload (`programs/workloads/`) is
//! recorded as a scenario, and on every runtime the scenario's verdict matches `diff`'s: a
//! runtime that agrees with the reference on the program passes the recorded scenario, and
//! one that departs from it fails it (a run that made the reference's calls as far as it
//! went and then timed out or crashed failed outside the calls: the scenario passes). One trial `record/<program>/<workload>/<runtime>`;
//! a program or runtime that is not installed is ignored with why (an error under `CI`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::Trial;
use wasi_conform_programs::diff::{against, baseline, Verdict};
use wasi_conform_programs::record::{record_program, Recorded};
use wasi_conform_programs::workloads::{programs_dir, ProgramFile};
use wasi_conform_runners::test_main::{missing_under_ci, needs_runtime, run_trials};
use wasi_conform_runners::{execute, registry};
use wasi_conform_suite::{compile, verdict};

type Recordings = Arc<Mutex<BTreeMap<String, Arc<OnceLock<Result<Recorded, String>>>>>>;

fn main() -> std::process::ExitCode {
    run_trials(|| {
        let programs = ProgramFile::load_all(&programs_dir().join("workloads")).expect("the workload files");
        let cache: Recordings = Arc::default();
        let runtimes = registry::all().expect("the registry");
        let mut trials: Vec<Trial> = Vec::new();
        for (pname, p) in programs {
            let path = p.module_path();
            let wasm = std::fs::read(&path).ok().map(Arc::new);
            for w in &p.workloads {
                let key = format!("{pname}/{}", w.name);
                for rt in runtimes.iter() {
                    let name = rt.name();
                    let trial_name = format!("record/{key}/{name}");
                    let Some(wasm) = wasm.clone() else {
                        let why =
                            format!("{} is not installed ({}): run `programs/install.sh`", p.package, path.display());
                        trials.push(match missing_under_ci(&p.package, &why) {
                            Some(e) => Trial::test(trial_name, move || Err(e.into())),
                            None => Trial::test(trial_name, || Ok(())).with_ignored_flag(true),
                        });
                        continue;
                    };
                    let (cache, p, w, key) = (cache.clone(), p.clone(), w.clone(), key.clone());
                    trials.push(needs_runtime(trial_name, name, &rt.availability(), move || {
                        let tmp = tempfile::tempdir().unwrap();
                        let program = p.program(&w, wasm.clone(), tmp.path()).unwrap();
                        let cell = cache.lock().unwrap().entry(key.clone()).or_default().clone();
                        let recorded = cell
                            .get_or_init(|| record_program(&program, None, None).map_err(|e| e.to_string()))
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
                        let reference = registry::builtin("reference").unwrap();
                        let base = baseline(&program, reference.as_ref()).unwrap();
                        let d = against(&base, &program, rt.as_ref()).unwrap();
                        // A run that made the reference's calls as far as it went and then timed out
                        // or crashed (wasmi interpreting CPython; Bun refusing a module that imports
                        // sock_accept) failed outside the calls: the scenario of those calls passes.
                        let stopped_outside_the_calls = matches!(d.verdict, Verdict::Timeout | Verdict::Crash)
                            && d.divergence.as_ref().is_none_or(|x| x.observed.is_none());
                        let agrees = d.verdict == Verdict::Agrees || stopped_outside_the_calls;
                        assert_eq!(
                            v.is_pass(),
                            agrees,
                            "{key} on {name}: diff says {:?}, the recorded scenario ({} steps) says {}\nfirst divergence: {:?}",
                            d.verdict,
                            s.steps.len(),
                            v.message(),
                            d.divergence.as_ref().map(|x| (x.index, &x.expected, &x.observed))
                        );
                    }));
                }
            }
        }
        trials
    })
}
