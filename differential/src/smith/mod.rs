//! Generator 2: wasm-smith modules whose imports are preview1 functions.
//!
//! wasm-smith generates a module from the fuzz input, restricted to what every runtime we
//! test runs: MVP features only (the suite's validation setting,
//! `wasi_conform_suite::compile::validate`), imports only from
//! [`imports::available_imports`] (the 46 preview1 functions of the one table, plus one
//! one-`i32` shim each), exports exactly `memory` (1 to [`layout::MAX_PAGES`] pages) and
//! `_start`, no start section, no tables, and termination bounded by wasm-smith's
//! `ensure_termination` fuel. [`rewrite`] then turns every shim call into a real call with
//! arguments from [`alphabet`] (and moves data segments into the initial memory), so that
//! many-parameter functions such as `path_open` are called as often as `fd_close`.
//!
//! [`test_case`] wraps a module into a `TestCase` with the fixed [`fixture`]: no trace
//! (`capture_len` 0), so the oracle compares endings, stdout/stderr, final trees and
//! canaries. [`crate::call_rates`] measures which functions the modules actually call.

pub mod alphabet;
pub mod fuzz;
pub mod imports;
pub mod layout;
pub mod rewrite;
pub mod seeded;

use std::sync::Arc;
use std::time::Duration;

use arbitrary::Unstructured;
use wasi_conform_suite::case::{Limits, TestCase};
use wasi_conform_suite::scenario::{Fixture, Node, Preopen, Tree};

pub use alphabet::{CallPlan, Operand};

/// Why a module could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SmithError {
    #[error("wasm-smith: {0}")]
    Generate(#[from] arbitrary::Error),
    #[error("bounding termination: {0}")]
    Terminate(String),
    #[error("rewriting shim calls: {0}")]
    Rewrite(String),
    #[error("the generated module is invalid: {0}")]
    Invalid(String),
}

/// How the generator helps wasm-smith call preview1 functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAid {
    /// Only the 46 real imports: plain wasm-smith, kept to measure what the aids buy.
    Plain,
    /// Offer one-`i32` shims too and rewrite their calls into real ones.
    Shims,
    /// Shims, plus a few calls injected into every body: the generator's normal mode.
    ShimsAndInjected,
}

/// Fuel of `ensure_termination`: loop iterations plus function entries before the module
/// traps. Small enough that a module calling a slow function in every iteration ends well
/// inside the time limit.
pub const FUEL: u32 = 1_000;

/// Time limit of a generated module's run.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A generated, rewritten module.
#[derive(Debug, Clone)]
pub struct SmithModule {
    pub wasm: Vec<u8>,
    /// The rewritten calls, in call-site order.
    pub plans: Vec<CallPlan>,
}

/// The wasm-smith configuration: fixed limits and features, a few knobs from the input.
fn config(aid: CallAid, u: &mut Unstructured) -> arbitrary::Result<wasm_smith::Config> {
    Ok(wasm_smith::Config {
        available_imports: Some(imports::available_imports(aid)),
        exports: Some(imports::required_exports()),
        allow_start_export: false,
        // Code that cannot trap (masked addresses, no division by zero…) reaches its calls
        // far more often; a quarter of the modules may trap anywhere.
        disallow_traps: {
            let _ = u.ratio(3, 4)?;
            true
        },
        canonicalize_nans: true,
        // Integer code only: fewer instruction kinds to choose from means more calls.
        allow_floats: false,
        max_funcs: 80,
        max_instructions: 200,
        max_globals: 10,
        max_data_segments: 4,
        max_memories: 0,
        max_tables: 0,
        max_element_segments: 0,
        max_tags: 0,
        max_types: 100,
        max_nesting_depth: 6,
        // Features: MVP only, like every module of the suite.
        bulk_memory_enabled: false,
        compact_imports_enabled: false,
        custom_page_sizes_enabled: false,
        exceptions_enabled: false,
        extended_const_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        multi_value_enabled: false,
        reference_types_enabled: false,
        relaxed_simd_enabled: false,
        saturating_float_to_int_enabled: false,
        sign_extension_ops_enabled: false,
        simd_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        wide_arithmetic_enabled: false,
        ..wasm_smith::Config::default()
    })
}

/// Generates one module from fuzz input.
pub fn generate(u: &mut Unstructured, aid: CallAid) -> Result<SmithModule, SmithError> {
    let config = config(aid, u)?;
    let mut module = wasm_smith::Module::new(config, u)?;
    module.ensure_termination(FUEL).map_err(|e| SmithError::Terminate(e.to_string()))?;
    let rewritten = rewrite::rewrite(&module.to_bytes(), aid, u)?;
    wasi_conform_suite::compile::validate(&rewritten.wasm).map_err(SmithError::Invalid)?;
    Ok(SmithModule { wasm: rewritten.wasm, plans: rewritten.plans })
}

/// Fuzz input bytes for a seed (SplitMix64), for seeded runs without libFuzzer.
pub fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Input bytes per seeded module.
pub const SEED_INPUT_LEN: usize = 8192;

/// The module of a seed.
pub fn from_seed(seed: u64, aid: CallAid) -> Result<SmithModule, SmithError> {
    let bytes = seed_bytes(seed, SEED_INPUT_LEN);
    generate(&mut Unstructured::new(&bytes), aid)
}

/// The fixture every generated module runs with: one preopen `/sandbox` holding the names
/// of [`layout::PATHS`] (files, a directory, symlinks in, out, dangling and looping), argv,
/// env and stdin.
pub fn fixture() -> Fixture {
    let tree: Tree = [
        ("a", Node::File(b"hello\n".to_vec())),
        ("dir/b", Node::File(b"bee".to_vec())),
        ("dir/sub", Node::Dir),
        ("empty", Node::Dir),
        ("link", Node::Symlink("a".into())),
        ("dirlink", Node::Symlink("dir".into())),
        ("escape", Node::Symlink("../outside/secret".into())),
        ("dangling", Node::Symlink("nope".into())),
        ("loop", Node::Symlink("loop".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Fixture {
        preopens: vec![Preopen { name: "/sandbox".into(), binding: "sandbox".into(), tree }],
        args: vec!["smith.wasm".into(), "arg".into()],
        env: vec!["SMITH=1".into()],
        stdin: b"stdin line\n".to_vec(),
    }
}

/// A generated module as a `TestCase` (id `smith/<name>`): no trace, nothing captured.
pub fn test_case(name: &str, m: &SmithModule) -> TestCase {
    let module = Arc::new(m.wasm.clone());
    TestCase {
        id: format!("smith/{name}"),
        module: module.clone(),
        module_stderr_trace: module,
        fixture: fixture(),
        capture_len: 0,
        limits: Limits { timeout: TIMEOUT, ..Limits::default() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasi_conform_abi::{function, FUNCTIONS, MODULE};
    use wasi_conform_runners::{execute, reference::Reference};
    use wasi_conform_suite::outcome::{Canaries, Ending};
    use wasmparser::{ExternalKind, Payload, TypeRef, ValType};

    const SEEDS: std::ops::Range<u64> = 0..24;

    fn core(t: wasi_conform_abi::CoreType) -> ValType {
        match t {
            wasi_conform_abi::CoreType::I32 => ValType::I32,
            wasi_conform_abi::CoreType::I64 => ValType::I64,
        }
    }

    #[test]
    fn seeded_modules_are_deterministic_valid_and_import_only_preview1_functions() {
        for seed in SEEDS {
            let m = from_seed(seed, CallAid::ShimsAndInjected).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let again = from_seed(seed, CallAid::ShimsAndInjected).unwrap();
            assert_eq!(m.wasm, again.wasm, "seed {seed} is not deterministic");
            wasi_conform_suite::compile::validate(&m.wasm).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let types = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::WASM1)
                .validate_all(&m.wasm)
                .unwrap();
            let mut exports = Vec::new();
            let mut imports = 0;
            for payload in wasmparser::Parser::new(0).parse_all(&m.wasm) {
                match payload.unwrap() {
                    Payload::ImportSection(r) => {
                        for i in r.into_imports() {
                            let i = i.unwrap();
                            assert_eq!(i.module, MODULE, "seed {seed}: import {}.{}", i.module, i.name);
                            let f = function(i.name).unwrap_or_else(|| panic!("seed {seed}: unknown {}", i.name));
                            let TypeRef::Func(ty) = i.ty else { panic!("seed {seed}: {} is not a function", i.name) };
                            let types = types.as_ref();
                            let ty = types[types.core_type_at_in_module(ty)].unwrap_func();
                            let want: Vec<ValType> = f.core_params().into_iter().map(core).collect();
                            assert_eq!(ty.params(), want.as_slice(), "seed {seed}: signature of {}", f.name);
                            assert_eq!(ty.results().len(), f.core_results().len());
                            imports += 1;
                        }
                    }
                    Payload::ExportSection(r) => {
                        exports.extend(r.into_iter().map(|e| e.unwrap()).map(|e| (e.name.to_owned(), e.kind)))
                    }
                    Payload::StartSection { .. } => panic!("seed {seed}: start section"),
                    _ => {}
                }
            }
            assert!(imports <= FUNCTIONS.len());
            exports.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(
                exports,
                vec![("_start".to_owned(), ExternalKind::Func), ("memory".to_owned(), ExternalKind::Memory)],
                "seed {seed}"
            );
        }
    }

    #[test]
    fn every_shim_call_is_rewritten_into_a_real_call() {
        let mut sites = 0;
        for seed in SEEDS {
            let m = from_seed(seed, CallAid::Shims).unwrap();
            sites += m.plans.len();
            for p in &m.plans {
                assert_eq!(p.operands.len(), p.function.core_params().len(), "seed {seed}: {}", p.function.name);
            }
            // The wrappers call the imports by their real names only (checked above for
            // the normal mode; here for shims alone).
            for payload in wasmparser::Parser::new(0).parse_all(&m.wasm) {
                if let Payload::ImportSection(r) = payload.unwrap() {
                    assert!(r.into_imports().all(|i| i.unwrap().module == MODULE), "seed {seed}");
                }
            }
        }
        assert!(sites > 0, "no shim was called in {} seeds", SEEDS.end);
    }

    #[test]
    fn rewritten_modules_run_on_the_reference_without_a_runtime_crash() {
        let reference = Reference::new();
        for seed in SEEDS {
            let m = from_seed(seed, CallAid::ShimsAndInjected).unwrap();
            let outcome = execute(&reference, &test_case(&format!("seed-{seed}"), &m));
            assert!(matches!(outcome.ending, Ending::Exit(_) | Ending::Trap(_)), "seed {seed}: {}", outcome.ending);
            assert_eq!(outcome.canaries, Canaries::Intact, "seed {seed}");
        }
    }
}
