//! `--shard K/N` runs split one seeded run: N shards, merged by signature, give the same
//! findings (signatures, counts, first programs) as the run they split.

use wasi_conform_differential::driver::{self, Budget, FuzzConfig, ProgramForm};
use wasi_conform_differential::oracle::Oracle;
use wasi_conform_differential::program::GenConfig;
use wasi_conform_differential::shard::{merge, Shard};
use wasi_conform_differential::triage::Known;

fn config(first: u64, n: u64) -> FuzzConfig {
    FuzzConfig {
        seed: 5,
        first,
        budget: Budget::Iterations(n),
        gen: GenConfig::default(),
        minimise_budget: 0,
        scenarios_dir: None,
        repo_root: std::env::temp_dir(),
        form: ProgramForm::Data,
    }
}

#[test]
fn merged_shards_are_the_whole_run() {
    // SAFETY: set before any runtime thread starts.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let oracle = Oracle::new(&["wasmtime".to_owned()]).expect("oracle");
    let known = Known::default();
    let whole = driver::findings_json(&driver::run(&oracle, &known, &config(0, 60), |_| {}));
    let shards: Vec<(String, serde_json::Value)> = (1..=3)
        .map(|k| {
            let (first, n) = Shard { k, n: 3 }.range(0, 60);
            (format!("shard {k}"), driver::findings_json(&driver::run(&oracle, &known, &config(first, n), |_| {})))
        })
        .collect();
    let merged = merge(&shards).expect("findings files");
    let key = |doc: &serde_json::Value| -> Vec<(String, u64, String)> {
        let mut v: Vec<_> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["signature"].as_str().unwrap().to_owned(),
                    f["count"].as_u64().unwrap(),
                    f["explanation"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert!(!key(&whole).is_empty(), "the run finds something to compare");
    assert_eq!(key(&merged), key(&whole));
}
