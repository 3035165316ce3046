//! The committed capability-denial matrix (`suite/scenarios/*/deny-*.yaml`) is exactly what
//! `suite/src/denial.rs` generates: a changed generator with stale files fails here.
//! `BLESS=1 cargo test --test denial_matrix` (or `cargo run -- generate denial-matrix`)
//! rewrites them.

use wasi_conform_suite::{denial, discover};

/// One test, so that a `BLESS=1` rewrite is finished before the suite is loaded.
#[test]
fn committed_files_match_the_generator_and_load() {
    let dir = discover::suite_dir().join("scenarios");
    if std::env::var_os("BLESS").is_some() {
        let w = denial::write(&dir).expect("writing the denial matrix");
        for p in w.changed.iter().chain(&w.removed) {
            eprintln!("blessed {}", p.display());
        }
    } else {
        let problems = denial::check(&dir);
        assert!(
            problems.is_empty(),
            "the denial matrix is out of date ({} files); run `cargo run -- generate denial-matrix` or `BLESS=1 cargo test --test denial_matrix`:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    let ids: std::collections::BTreeSet<String> = match discover::load_builtin() {
        Ok(all) => all.into_iter().map(|s| s.id).collect(),
        Err(errors) => panic!("the suite does not load:\n{}", errors.join("\n")),
    };
    let missing: Vec<String> = denial::generate().into_iter().map(|g| g.id).filter(|id| !ids.contains(id)).collect();
    assert!(missing.is_empty(), "generated but not loaded: {}", missing.join(", "));
}
