//! Seeded smoke run of the differential fuzzer without libFuzzer: programs through the
//! reference and Wasmtime, determinism, and a known divergence minimised into a scenario
//! that the strict loader accepts and the reference passes.

use wasi_conform_differential::driver::{self, Budget, FuzzConfig};
use wasi_conform_differential::oracle::{Oracle, Plan};
use wasi_conform_differential::program::{self, GenConfig};
use wasi_conform_differential::triage::{signatures, Known};
use wasi_conform_differential::write;
use wasi_conform_suite::{compile, load, verdict};

fn config(n: u64) -> FuzzConfig {
    FuzzConfig {
        seed: 1,
        first: 0,
        budget: Budget::Iterations(n),
        gen: GenConfig::default(),
        minimise_budget: 0,
        scenarios_dir: None,
        repo_root: std::env::temp_dir(),
        form: driver::ProgramForm::default(),
    }
}

#[test]
fn the_reference_agrees_with_itself_and_a_seed_is_deterministic() {
    // SAFETY: set before any runtime thread starts.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let oracle = Oracle::new(&["wasmtime".to_owned()]).expect("oracle");
    for i in 0..20 {
        let p = program::seeded(1, i, &GenConfig::default());
        let c = compile::compile(&p).expect("generated programs compile");
        let plan = Plan { scenario: &p, layout: &c.layout };
        let a = oracle.reference(&c.case, Some(plan));
        let b = oracle.reference(&c.case, Some(plan));
        assert!(a.trace_error.is_none(), "{}: {:?}", p.id, a.trace_error);
        assert_eq!(a.steps, b.steps, "{}", p.id);
        assert_eq!((&a.end, &a.stdout, &a.trees), (&b.end, &b.stdout, &b.trees), "{}", p.id);
    }
    let known = Known::default();
    let one = driver::run(&oracle, &known, &config(50), |_| {});
    let two = driver::run(&oracle, &known, &config(50), |_| {});
    let sigs = |s: &driver::Summary| s.findings.iter().map(|f| (f.signature.to_string(), f.count)).collect::<Vec<_>>();
    assert_eq!(one.programs, 50);
    assert_eq!(sigs(&one), sigs(&two));
    let json = driver::findings_json(&one);
    assert_eq!(json["schema"], "wasi-conform/findings/v1");
}

#[test]
fn a_known_divergence_is_found_minimised_and_written_as_a_loadable_scenario() {
    // SAFETY: set before any runtime thread starts.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let oracle = Oracle::new(&["wasmtime".to_owned()]).expect("oracle");
    // Wasmtime reads no path when fst_flags is 0 (suite scenario
    // path_filestat_set_times/fuzz-missing-path-without-flags-is-noent): pad the call with
    // steps the minimiser must remove.
    let text = r#"
id: path_filestat_set_times/padded
summary: padded
spec: test
strength: de-facto
fixture:
  preopens:
    - name: /sandbox
      tree: {a: {file: "hello"}, e: dir}
steps:
  - fd_write: {fd: 1, iovs: ["x"]}
    expect: {errno: success}
  - path_filestat_get: {fd: $sandbox, path: a}
    expect: {errno: success}
  - path_filestat_set_times: {fd: $sandbox, flags: [], path: missing, atim: 0, mtim: 0, fst_flags: []}
    expect: {errno: noent}
  - fd_close: {fd: 100}
    expect: {errno: badf}
"#;
    let program = load::load_str(text, std::path::Path::new("padded.yaml")).expect("loads");
    let c = compile::compile(&program).unwrap();
    let check = oracle.check(&c.case, Some(Plan { scenario: &program, layout: &c.layout }), None);
    let (sig, _) = signatures(&check.divergences)
        .into_iter()
        .find(|(s, _)| s.function == "path_filestat_set_times")
        .expect("the seeded divergence is found");
    assert_eq!((sig.expected.as_str(), sig.observed.as_str()), ("noent", "success"));
    let small = wasi_conform_differential::minimise::minimise(&oracle, &program, &sig, 100);
    assert_eq!(small.steps.len(), 1, "{}", write::to_yaml(&small));
    let scenario = driver::finding_scenario(&oracle, &small, &sig).expect("blessed");
    let yaml = write::to_yaml(&scenario);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{}.yaml", scenario.id.replace('/', "-")));
    let loaded = load::load_str(&yaml, &path).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(write::to_yaml(&loaded), yaml, "the writer round-trips");
    let c = compile::compile(&loaded).unwrap();
    let reference = wasi_conform_runners::reference::Reference::new();
    let outcome = wasi_conform_runners::execute(&reference, &c.case);
    assert!(verdict::judge(&loaded, &c.layout, &outcome).is_pass(), "{yaml}");
}

#[test]
fn every_generated_program_round_trips_through_the_writer() {
    for i in 0..200 {
        let mut p = program::seeded(9, i, &GenConfig::default());
        p.id = format!("{}/generated-{i}", p.steps[0].function.name);
        for st in &mut p.steps {
            if st.function.returns == wasi_conform_abi::Returns::Errno {
                st.expect.errno =
                    Some(wasi_conform_suite::scenario::ErrnoExpect::One(wasi_conform_abi::Errno::Success));
            }
        }
        let yaml = write::to_yaml(&p);
        let loaded = load::load_str(&yaml, std::path::Path::new("x.yaml")).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(write::to_yaml(&loaded), yaml);
        assert_eq!(compile::compile(&loaded).unwrap().case.module, compile::compile(&p).unwrap().case.module);
    }
}
