//! Every committed real-program workload (`programs/workloads/*.toml`) on every runtime,
//! traced through `diff`: one trial `workloads/<program>/<workload>/<runtime>` each.
//!
//! The reference's trial checks the workload itself (the exit code and stdout it gives).
//! A runtime's trial passes when it agrees with the reference, or when it differs exactly as
//! its entry in `programs/expectations/<runtime>.toml` says (verdict and the function of the
//! first diverging call); a listed difference that no longer shows fails, so the list
//! stays true. A program that is not installed has its trials ignored with the install
//! command (an error under `CI`); a missing runtime likewise.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::Trial;
use wasi_conform_programs::diff::{against, baseline, Baseline, RuntimeDiff, Verdict};
use wasi_conform_programs::workloads::{known_differences, programs_dir, ProgramFile, Workload};
use wasi_conform_runners::test_main::{needs_runtime, run_trials, trial};
use wasi_conform_runners::{registry, Availability};

type Baselines = Arc<Mutex<BTreeMap<String, Arc<OnceLock<Result<Baseline, String>>>>>>;

/// The reference's run of a workload, made once and shared by its trials.
fn base_of(
    cache: &Baselines,
    key: &str,
    p: &ProgramFile,
    w: &Workload,
    wasm: &Arc<Vec<u8>>,
) -> Result<Baseline, String> {
    let cell = cache.lock().unwrap().entry(key.to_owned()).or_default().clone();
    cell.get_or_init(|| {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let program = p.program(w, wasm.clone(), tmp.path()).map_err(|e| e.to_string())?;
        let reference = registry::builtin("reference").ok_or("no reference")?;
        baseline(&program, reference.as_ref()).map_err(|e| e.to_string())
    })
    .clone()
}

/// The difference in one line: the first diverging call (reference vs runtime), else the
/// ending, the output or the files.
fn describe(d: &RuntimeDiff) -> String {
    let show = |c: &Option<wasi_conform_programs::compare::Seen>| {
        c.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "no more calls".into())
    };
    if let Some(v) = &d.divergence {
        return format!(
            "call #{}: the reference makes `{}`, {} makes `{}`",
            v.index + 1,
            show(&v.expected),
            d.runtime,
            show(&v.observed)
        );
    }
    if let Some((e, o)) = &d.ending_differs {
        return format!("the same calls, but the reference ends with {e}, {} with {o}", d.runtime);
    }
    let mut what = Vec::new();
    if d.stdout_differs {
        what.push("stdout".to_owned());
    }
    if d.stderr_differs {
        what.push("stderr".to_owned());
    }
    what.extend(d.tree_differences.iter().take(3).cloned());
    format!("the same calls and ending, but {} differ ({:?})", what.join(", "), d.verdict)
}

/// `BLESS=1`: appends an entry for an unlisted difference to the runtime's expectation
/// file, its reason the difference as observed (to be reviewed like any entry).
fn bless(runtime: &str, key: &str, verdict: &str, first: &str, reason: &str) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap();
    let path = programs_dir().join("expectations").join(format!("{runtime}.toml"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        format!("# Known differences of {runtime} on the real-program workloads (programs/workloads/): one entry per\n# workload, with the verdict `diff` gives, the function of the first diverging call, and why.\n")
    });
    let reason = reason.replace('\\', "\\\\").replace('"', "\\\"");
    text.push_str(&format!(
        "\n[[difference]]\nworkload = \"{key}\"\nverdict = \"{verdict}\"\nfirst = \"{first}\"\nreason = \"{reason}\"\n"
    ));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
}

fn main() -> std::process::ExitCode {
    run_trials(|| {
        let programs = ProgramFile::load_all(&programs_dir().join("workloads")).expect("the workload files");
        let cache: Baselines = Arc::default();
        let runtimes = registry::all().expect("the registry");
        let mut trials: Vec<Trial> = Vec::new();
        for (pname, p) in programs {
            let wasm = p.installed();
            for w in &p.workloads {
                let key = format!("{pname}/{}", w.name);
                let wasm = match &wasm {
                    Ok(wasm) => wasm.clone(),
                    Err(why) => {
                        for rt in std::iter::once("reference")
                            .chain(runtimes.iter().map(|r| r.name()).filter(|n| *n != "reference"))
                        {
                            // A missing program: ignored with why, or failed under CI.
                            let missing = Availability::NotAvailable(why.clone());
                            trials.push(needs_runtime(format!("workloads/{key}/{rt}"), &p.package, &missing, || {}));
                        }
                        continue;
                    }
                };
                {
                    let (cache, p, w, wasm, key) = (cache.clone(), p.clone(), w.clone(), wasm.clone(), key.clone());
                    trials.push(trial(format!("workloads/{key}/reference"), move || {
                        let b = base_of(&cache, &key, &p, &w, &wasm).unwrap();
                        let (o, t) = b.run.outcome.as_ref().expect("the reference ran");
                        assert!(t.malformed.is_empty(), "{:?}", t.malformed);
                        assert!(!t.calls.is_empty(), "no call traced");
                        assert_eq!(
                            o.ending.to_string(),
                            format!("exit {}", w.exit),
                            "stderr: {}",
                            String::from_utf8_lossy(&t.stderr)
                        );
                        if let Some(want) = &w.stdout {
                            assert_eq!(&String::from_utf8_lossy(&t.stdout), want);
                        }
                    }));
                }
                for rt in runtimes.iter().filter(|r| r.name() != "reference") {
                    let name = rt.name();
                    let known = known_differences(name).expect("the expectation file");
                    let entry = known.into_iter().find(|k| k.workload == key);
                    let (cache, p, w, wasm, key) = (cache.clone(), p.clone(), w.clone(), wasm.clone(), key.clone());
                    let availability: Availability = rt.availability();
                    trials.push(needs_runtime(format!("workloads/{key}/{name}"), name, &availability, move || {
                        let b = base_of(&cache, &key, &p, &w, &wasm).unwrap();
                        let tmp = tempfile::tempdir().unwrap();
                        let program = p.program(&w, wasm.clone(), tmp.path()).unwrap();
                        let rt = registry::builtin(name).expect("built in");
                        let d = against(&b, &program, rt.as_ref()).unwrap();
                        let first = d
                            .divergence
                            .as_ref()
                                            .and_then(|v| v.observed.as_ref().or(v.expected.as_ref()))
                            .map(|c| c.function.clone())
                            .unwrap_or_else(|| "none".into());
                        let verdict = d.verdict.name().to_owned();
                        match (&entry, d.verdict == Verdict::Agrees) {
                            (None, true) => {}
                            (None, false) if std::env::var_os("BLESS").is_some() => {
                                bless(name, &key, &verdict, &first, &describe(&d))
                            }
                            (None, false) => panic!(
                                "{name} differs from the reference on {key}: {}\nadd to programs/expectations/{name}.toml:\n[[difference]]\nworkload = \"{key}\"\nverdict = \"{verdict}\"\nfirst = \"{first}\"\nreason = \"TODO\"",
                                describe(&d)
                            ),
                            (Some(k), true) => panic!("{name} now agrees on {key}: remove its entry ({})", k.reason),
                            (Some(k), false) => {
                                assert!(!k.reason.contains("TODO"), "{key}: the entry needs a reason");
                                assert_eq!((k.verdict.as_str(), k.first.as_str()), (verdict.as_str(), first.as_str()), "{}", describe(&d));
                            }
                        }
                    }));
                }
            }
        }
        trials
    })
}
