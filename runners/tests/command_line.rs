//! Command-line runtimes, end to end.
//!
//! - A runtime configured in a `runtimes.toml` with no Rust code runs the README example
//!   and passes. **Dependency: Node.js** (`node` on `PATH`, or `NODE_BIN`), which is part
//!   of the machine image and of CI: the configured runtime is `node` running a tiny
//!   launcher written here (argv → `node:wasi`). If node is missing the test fails,
//!   saying so, rather than passing vacuously.
//! - The same configuration mechanism drives the real WasmEdge and iwasm binaries when they
//!   are installed (`WASMEDGE_BIN` / `IWASM_BIN`, or on `PATH`); without them those trials
//!   are reported *ignored* with the reason (an error under `CI`, unless
//!   `WASI_CONFORM_OPTIONAL_RUNTIMES` names the runtime), and a trial checks that the
//!   reason names the variable.
//!
//! Own `main` (`harness = false`): libtest-mimic trials, so that a missing runtime shows as
//! ignored, with why.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wasi_conform_runners::cli::configured::load_file;
use wasi_conform_runners::cli::{iwasm, wasmedge, CliRuntime};
use wasi_conform_runners::process::{env_path, find_on_path, find_program};
use wasi_conform_runners::test_main::{needs_runtime, run_trials, trial};
use wasi_conform_runners::{execute, Availability, Runtime};
use wasi_conform_suite::case::{Limits, TestCase};
use wasi_conform_suite::compile::compile;
use wasi_conform_suite::discover::suite_dir;
use wasi_conform_suite::load::{load_file as load_scenario, load_str};
use wasi_conform_suite::outcome::{Ending, TrapClass};
use wasi_conform_suite::scenario::{Fixture, Scenario};
use wasi_conform_suite::verdict::{judge, Verdict};

/// A `node:wasi` launcher with a command line like a native WASI CLI's:
/// `launcher.mjs [--dir GUEST HOST]… [--env KEY=VALUE]… -- MODULE ARGS…`. The guest's argv
/// is MODULE (as given) then ARGS. A trap prints `launcher: trap: MESSAGE` on stderr and
/// exits 134; `proc_exit(n)` exits `n`.
const LAUNCHER: &str = r#"
import { WASI } from 'node:wasi';
import { readFileSync, writeSync } from 'node:fs';
const argv = process.argv.slice(2);
const preopens = {};
const env = {};
let i = 0;
for (; i < argv.length; i++) {
  if (argv[i] === '--dir') { preopens[argv[i + 1]] = argv[i + 2]; i += 2; }
  else if (argv[i] === '--env') { const kv = argv[++i]; const at = kv.indexOf('='); env[kv.slice(0, at)] = kv.slice(at + 1); }
  else if (argv[i] === '--') { i++; break; }
  else { writeSync(2, `launcher: unknown option ${argv[i]}\n`); process.exit(2); }
}
const file = argv[i];
const wasi = new WASI({ version: 'preview1', args: [file, ...argv.slice(i + 1)], env, preopens, returnOnExit: true });
let code;
try {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), wasi.getImportObject());
  code = wasi.start(instance);
} catch (e) {
  writeSync(2, `launcher: trap: ${e.message}\n`);
  process.exit(134);
}
process.exit(code);
"#;

fn node_binary() -> PathBuf {
    env_path("NODE_BIN")
        .or_else(|| find_on_path("node"))
        .expect("this test needs Node.js (`node` on PATH or NODE_BIN): it configures node as a command-line runtime")
}

/// Writes `runtimes.toml` (and the launcher) into `dir` and loads it.
fn configure(dir: &Path, toml: &str) -> Vec<CliRuntime> {
    let path = dir.join("runtimes.toml");
    std::fs::write(&path, toml).unwrap();
    load_file(&path, &["node", "wasmedge", "iwasm"]).unwrap_or_else(|e| panic!("{e}"))
}

fn node_runtime(dir: &Path) -> CliRuntime {
    std::fs::write(dir.join("launcher.mjs"), LAUNCHER).unwrap();
    let node = node_binary();
    let toml = format!(
        r#"
[[runtime]]
name = "node-cli"
command = [{node:?}, "--no-warnings", "launcher.mjs", "{{mounts}}", "{{envs}}", "--", "{{module}}", "{{args}}"]
mount = ["--dir", "{{guest}}", "{{host}}"]
env = ["--env", "{{key}}={{value}}"]
version = [{node:?}, "--version"]
[runtime.trap]
exit-code = 134
stderr = 'launcher: trap: [^\n]*\n?\z'
"#,
        node = node.display().to_string()
    )
    // The launcher path is relative to the process's working directory (the module's);
    // make it absolute.
    .replace("\"launcher.mjs\"", &format!("{:?}", dir.join("launcher.mjs").display().to_string()));
    configure(dir, &toml).pop().unwrap()
}

fn judged(rt: &dyn Runtime, s: &Scenario) -> (Verdict, wasi_conform_suite::outcome::Outcome) {
    let c = compile(s).unwrap();
    let o = execute(rt, &c.case);
    (judge(s, &c.layout, &o), o)
}

fn readme() -> Scenario {
    load_scenario(&suite_dir().join("README.yaml")).unwrap()
}

/// A module that writes "own bytes\n" to fd 2 and then executes `unreachable`, as a case
/// (its "framed" variant is the same module: it writes no trace frames).
fn trapping_case() -> TestCase {
    use wasm_encoder::{
        CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
        ImportSection, Instruction as I, MemorySection, MemoryType, Module, TypeSection, ValType,
    };
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    types.ty().function([], []);
    m.section(&types);
    let mut imports = ImportSection::new();
    imports.import("wasi_snapshot_preview1", "fd_write", EntityType::Function(0));
    m.section(&imports);
    let mut funcs = FunctionSection::new();
    funcs.function(1);
    m.section(&funcs);
    let mut mem = MemorySection::new();
    mem.memory(MemoryType { minimum: 1, maximum: Some(1), memory64: false, shared: false, page_size_log2: None });
    m.section(&mem);
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("_start", ExportKind::Func, 1);
    m.section(&exports);
    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    for i in
        [I::I32Const(2), I::I32Const(0), I::I32Const(1), I::I32Const(32), I::Call(0), I::Drop, I::Unreachable, I::End]
    {
        f.instruction(&i);
    }
    code.function(&f);
    m.section(&code);
    let mut data = DataSection::new();
    data.active(0, &ConstExpr::i32_const(0), [16u8, 0, 0, 0, 10, 0, 0, 0]);
    data.active(0, &ConstExpr::i32_const(16), b"own bytes\n".iter().copied());
    m.section(&data);
    let bytes = std::sync::Arc::new(m.finish());
    TestCase {
        id: "t/trap".into(),
        module: bytes.clone(),
        module_stderr_trace: bytes,
        fixture: Fixture { args: vec!["scenario.wasm".into()], ..Default::default() },
        capture_len: 64,
        limits: Limits::default(),
    }
}

/// The trap is recognised and the runtime's diagnostic is not left in the guest's output.
fn assert_traps_cleanly(rt: &dyn Runtime) {
    let o = execute(rt, &trapping_case());
    assert!(matches!(&o.ending, Ending::Trap(k) if k.class == TrapClass::Unreachable), "`{}`: {o:?}", rt.name());
    assert_eq!(String::from_utf8_lossy(&o.stderr), "own bytes\n", "`{}`", rt.name());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "", "`{}`", rt.name());
}

const EXIT_WITH_ENV: &str = "id: proc_exit/t\nsummary: s\nspec: t\nstrength: must\nfixture:\n  args: [prog, \"a b\", \"\"]\n  env: [A=1, EQ=x=y]\n  stdin: \"in\"\nsteps:\n  - args_sizes_get: {}\n    expect: {errno: success, argc: 3, argv_buf_size: 10}\n  - environ_sizes_get: {}\n    expect: {errno: success, environc: 2, environ_buf_size: 11}\n  - fd_read: {fd: 0, iovs: [8]}\n    expect: {errno: success, nread: 2, read: \"in\"}\n  - proc_exit: {rval: 7}\nend: {exit: 7}\n";

fn a_configured_node_runtime_runs_the_readme_example() {
    let dir = tempfile::tempdir().unwrap();
    let rt = node_runtime(dir.path());
    assert_eq!(rt.availability(), Availability::Available);
    assert!(rt.version().starts_with('v'), "{}", rt.version());
    let (v, _) = judged(&rt, &readme());
    assert_eq!(v, Verdict::Pass);
}

fn a_configured_runtime_passes_argv_env_stdin_exit_codes_and_reports_traps() {
    let dir = tempfile::tempdir().unwrap();
    let rt = node_runtime(dir.path());
    let s = load_str(EXIT_WITH_ENV, Path::new("t.yaml")).unwrap();
    assert_eq!(judged(&rt, &s).0, Verdict::Pass);
    assert_traps_cleanly(&rt);
}

fn a_configured_runtime_is_stopped_at_its_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let rt = node_runtime(dir.path());
    // A relative clock subscription of 60 s: poll_oneoff sleeps far past the limit.
    let text = "id: poll_oneoff/t\nsummary: s\nspec: t\nstrength: must\nsteps:\n  - poll_oneoff:\n      in:\n        - {userdata: 1, clock: {id: monotonic, timeout: 60000000000, precision: 0, flags: []}}\n    expect: {errno: success}\n";
    let s = load_str(text, Path::new("t.yaml")).unwrap();
    let mut c = compile(&s).unwrap();
    c.case.limits.timeout = std::time::Duration::from_millis(1500);
    let started = std::time::Instant::now();
    let o = execute(&rt, &c.case);
    assert_eq!(o.ending, Ending::Timeout);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

fn a_configured_runtime_whose_binary_is_missing_is_not_available() {
    let dir = tempfile::tempdir().unwrap();
    let rt = configure(
        dir.path(),
        "[[runtime]]\nname = \"ghost\"\ncommand = [\"wasi-conform-no-such-runtime\", \"{mounts}\", \"{envs}\", \"{module}\", \"{args}\"]\nmount = \"--dir={guest}:{host}\"\nenv = \"--env={key}={value}\"\n",
    )
    .pop()
    .unwrap();
    match rt.availability() {
        Availability::NotAvailable(why) => assert!(why.contains("wasi-conform-no-such-runtime"), "{why}"),
        a => panic!("{a:?}"),
    }
    let (v, _) = judged(&rt, &readme());
    assert!(matches!(v, Verdict::Crash(_)), "{v:?}");
}

/// A built-in adapter and the same runtime configured through `runtimes.toml` with
/// WasmEdge's or iwasm's command line, on the real binary.
fn real_binary(builtin: CliRuntime, command: &str, mount: &str, trap: &str) {
    let bin = find_program(&builtin.spec().program).expect("the runtime is installed");
    assert_eq!(builtin.availability(), Availability::Available);
    assert_eq!(judged(&builtin, &readme()).0, Verdict::Pass, "built-in `{}`", builtin.name());

    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[[runtime]]\nname = \"configured-{}\"\ncommand = [{:?}, {command}]\nmount = {mount:?}\nenv = \"--env={{key}}={{value}}\"\nversion = [{:?}, \"--version\"]\n[runtime.trap]\n{trap}\n",
        builtin.name(),
        bin.to_string_lossy(),
        bin.to_string_lossy()
    );
    let rt = configure(dir.path(), &toml).pop().unwrap();
    assert_eq!(rt.availability(), Availability::Available);
    assert_eq!(judged(&rt, &readme()).0, Verdict::Pass, "configured `{}`", rt.name());
    assert_traps_cleanly(&builtin);
    assert_traps_cleanly(&rt);
}

fn wasmedge_on_its_real_binary() {
    real_binary(
        wasmedge::runtime(),
        r#""run", "{mounts}", "{envs}", "--", "{module}", "{args}""#,
        "--dir={guest}:{host}",
        "exit-code = 134\nstdout = '\\[[0-9-]+ [0-9:.]+\\] \\[error\\] execution failed: [^\\n]*'",
    );
}

fn iwasm_on_its_real_binary() {
    real_binary(
        iwasm::runtime(),
        r#""{mounts}", "{envs}", "{module}", "{args}""#,
        "--map-dir={guest}::{host}",
        "exit-code = 1\nstdout = 'Exception: [^\\n]*\\n?\\z'",
    );
}

fn main() -> ExitCode {
    run_trials(|| {
        let mut trials = vec![
            trial("node-cli/runs_the_readme_example", a_configured_node_runtime_runs_the_readme_example),
            trial(
                "node-cli/passes_argv_env_stdin_exit_codes_and_reports_traps",
                a_configured_runtime_passes_argv_env_stdin_exit_codes_and_reports_traps,
            ),
            trial("node-cli/is_stopped_at_its_time_limit", a_configured_runtime_is_stopped_at_its_time_limit),
            trial(
                "configured/a_missing_binary_is_not_available",
                a_configured_runtime_whose_binary_is_missing_is_not_available,
            ),
        ];
        let real: [(CliRuntime, &str, fn()); 2] = [
            (wasmedge::runtime(), "WASMEDGE_BIN", wasmedge_on_its_real_binary),
            (iwasm::runtime(), "IWASM_BIN", iwasm_on_its_real_binary),
        ];
        for (rt, var, test) in real {
            let availability = rt.availability();
            if let Availability::NotAvailable(why) = &availability {
                let why = why.clone();
                trials.push(trial(format!("{}/not_available_names_{var}", rt.name()), move || {
                    assert!(why.contains(var), "{why}")
                }));
            }
            trials.push(needs_runtime(format!("{}/on_its_real_binary", rt.name()), rt.name(), &availability, test));
        }
        trials
    })
}
