//! `wasi-conform export --wasi-testsuite DIR`: our scenarios as wasi-testsuite tests, so
//! that other harnesses (the official runner, a runtime's own CI) can run them.
//!
//! A wasi-testsuite test is judged by its exit code and output only, so each exported
//! module is the scenario's *self-checking* variant
//! ([`wasi_conform_suite::compile::compile_self_checking`]): it checks every step's errno
//! and values itself and, on the first mismatch, prints one line to stderr and exits with
//! [`SELF_CHECK_EXIT`]. The `.json` carries what a module cannot check about itself: the
//! expected exit code, stdout and stderr. Scenarios that cannot be expressed faithfully are
//! not exported, each with its reason (printed, and listed in the export's README.md).
//!
//! Layout (flat: one suite, as the official runner expects):
//! ```text
//! DIR/manifest.json                       {"name": "wasi-conform"}
//! DIR/README.md                           what is checked, what was left out and why
//! DIR/<function>.<name>.wasm|.json        one test per scenario
//! DIR/<function>.<name>.<preopen>.dir/    its fixture, preopened under that name (dirs;
//!                                         shortened with a hash past 64 bytes)
//! DIR/outside/secret, DIR/outside/dir/    canaries: `../outside/secret` from a fixture
//!                                         directory lands on a file, as in our sandboxes
//! ```
//! With `--layout root` the single preopen is the test's `root` (preopened as `/`, the
//! runner's form since June 2026) and scenarios with several preopens are left out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasi_conform_case::sandbox::{outside_canaries, CANARY};
use wasi_conform_runners::sandbox::materialise;
use wasi_conform_suite::compile::{compile_self_checking, SelfCheckError, SELF_CHECK_EXIT};
use wasi_conform_suite::discover;
use wasi_conform_suite::scenario::{End, ExitExpect, Node, Scenario, Tree};
use wasi_conform_suite::trace::MAX_NAME;

/// How fixture directories are given to the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// `dirs`: each preopen a directory beside the test, under its own name (the runner
    /// and the released suites up to June 2026).
    Dirs,
    /// `root`: one directory preopened as `/` (the runner since June 2026).
    Root,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The directory to write (created; it must be empty if it exists).
    #[arg(long = "wasi-testsuite", value_name = "DIR")]
    out: PathBuf,
    /// A directory of your own scenarios; default: the built-in suite.
    #[arg(long)]
    suite: Option<PathBuf>,
    /// Only scenarios whose id contains this text.
    #[arg(long)]
    filter: Option<String>,
    #[arg(long, value_enum, default_value_t = Layout::Dirs)]
    layout: Layout,
}

/// What an export wrote and left out.
#[derive(Debug, Default)]
pub struct Summary {
    /// Ids of the exported scenarios, with their test names.
    pub exported: Vec<(String, String)>,
    /// (scenario id, reason) of those left out.
    pub skipped: Vec<(String, String)>,
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let scenarios = load(args.suite.as_deref(), args.filter.as_deref())?;
    let summary = export(&scenarios, &args.out, args.layout)?;
    for (id, why) in &summary.skipped {
        println!("skipped {id}: {why}");
    }
    println!(
        "exported {} scenario(s) to {}, skipped {} (reasons above and in its README.md) in {:.2} s",
        summary.exported.len(),
        args.out.display(),
        summary.skipped.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The scenarios to export.
pub fn load(suite: Option<&Path>, filter: Option<&str>) -> Result<Vec<Scenario>> {
    let loaded = match suite {
        Some(dir) => discover::load_dir(dir),
        None => discover::load_builtin(),
    };
    let mut scenarios = loaded.map_err(|errors| anyhow::anyhow!(errors.join("\n")))?;
    scenarios.retain(|s| filter.is_none_or(|f| s.id.contains(f)));
    if scenarios.is_empty() {
        bail!("no scenario matches");
    }
    Ok(scenarios)
}

/// Writes `scenarios` as a wasi-testsuite directory at `out`.
pub fn export(scenarios: &[Scenario], out: &Path, layout: Layout) -> Result<Summary> {
    if out.exists() && std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?.next().is_some() {
        bail!("{} exists and is not empty", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut summary = Summary::default();
    for s in scenarios {
        let name = test_name(&s.id);
        match write_test(s, &name, out, layout)? {
            Ok(()) => summary.exported.push((s.id.clone(), name)),
            Err(why) => summary.skipped.push((s.id.clone(), why)),
        }
    }
    let canaries: Tree = outside_canaries().map(|p| (p.to_owned(), Node::File(CANARY.to_vec()))).collect();
    let outside = out.join("outside");
    std::fs::create_dir(&outside).context("creating the canaries")?;
    materialise(&outside, &canaries).context("writing the canaries")?;
    std::fs::write(out.join("manifest.json"), "{\n  \"name\": \"wasi-conform\"\n}\n")
        .context("writing manifest.json")?;
    std::fs::write(out.join("README.md"), readme(&summary, layout)).context("writing README.md")?;
    Ok(summary)
}

/// `path_open/trailing-slash` → `path_open.trailing-slash`.
pub fn test_name(id: &str) -> String {
    id.replace('/', ".")
}

/// `<test><suffix>`, shortened (a prefix and a hash of the test name) to the longest
/// preopen name the module reads, [`MAX_NAME`] bytes.
fn fixture_dir_name(test: &str, suffix: &str) -> String {
    let full = format!("{test}{suffix}");
    if full.len() <= MAX_NAME as usize {
        return full;
    }
    // FNV-1a: stable across runs and platforms.
    let hash = test.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    let tail = format!("~{:08x}{suffix}", hash as u32);
    let keep = (MAX_NAME as usize).saturating_sub(tail.len());
    let head: String = test
        .chars()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= keep).then_some(c)
        })
        .collect();
    format!("{head}{tail}")
}

/// Writes one test, or says why the scenario cannot be exported (`Ok(Err(reason))`).
fn write_test(s: &Scenario, name: &str, out: &Path, layout: Layout) -> Result<Result<(), String>> {
    if let Err(why) = expressible(s, layout) {
        return Ok(Err(why));
    }
    let dirs: Vec<String> = match layout {
        Layout::Dirs => {
            s.fixture.preopens.iter().map(|p| fixture_dir_name(name, &format!(".{}.dir", p.binding))).collect()
        }
        Layout::Root => s.fixture.preopens.iter().map(|_| fixture_dir_name(name, ".dir")).collect(),
    };
    let guest_names: Vec<String> = match layout {
        Layout::Dirs => dirs.clone(),
        Layout::Root => vec!["/".to_owned(); dirs.len()],
    };
    let module = match compile_self_checking(s, &guest_names) {
        Ok(m) => m,
        Err(SelfCheckError::Unsupported(why)) => return Ok(Err(why)),
        Err(e @ SelfCheckError::Compile(_)) => return Err(e).with_context(|| format!("compiling {}", s.id)),
    };
    for (p, d) in s.fixture.preopens.iter().zip(&dirs) {
        let host = out.join(d);
        std::fs::create_dir(&host).with_context(|| format!("creating {}", host.display()))?;
        materialise(&host, &p.tree).with_context(|| format!("writing the fixture of {}", s.id))?;
    }
    std::fs::write(out.join(format!("{name}.wasm")), module).with_context(|| format!("writing {name}.wasm"))?;
    std::fs::write(out.join(format!("{name}.json")), json(s, &dirs, layout))
        .with_context(|| format!("writing {name}.json"))?;
    Ok(Ok(()))
}

/// Whether the format can say everything the scenario expects (the module checks the
/// steps; see [`compile_self_checking`] for what it refuses).
fn expressible(s: &Scenario, layout: Layout) -> Result<(), String> {
    match &s.end {
        End::Trap => return Err("expects a trap: runtimes report traps with exit codes of their own".into()),
        End::Exit(ExitExpect::OneOf { .. }) | End::OneOf { .. } => {
            return Err("allows several endings; a test has one exit code".into())
        }
        End::Exit(ExitExpect::One(c)) if *c > 125 => {
            return Err(format!("exit code {c}: only 0..=125 pass through a process exit status portably"))
        }
        End::Exit(ExitExpect::One(c)) if *c == SELF_CHECK_EXIT => {
            return Err(format!("exit code {c} is the self-check's failure code"))
        }
        End::Exit(ExitExpect::One(_)) => {}
    }
    if s.tree.is_some() {
        return Err("checks the final file tree, which the format cannot express".into());
    }
    if let Some(cap) = s.require.first() {
        return Err(format!(
            "requires `{}`, probed at run time: the format has no `not applicable` (its own tests skip themselves)",
            cap.as_str()
        ));
    }
    if let Some(step) = s.steps.iter().find(|st| st.expect.errno.as_ref().is_some_and(|e| e.allows_trap())) {
        return Err(format!(
            "accepts a trap of its {} step, and a trap ends the module before it can report success",
            step.function.name
        ));
    }
    if !s.fixture.stdin.is_empty() {
        return Err("reads stdin, which the legacy format cannot give".into());
    }
    if layout == Layout::Root && s.fixture.preopens.len() > 1 {
        return Err("has several preopens; `root` gives one".into());
    }
    for (what, stream) in [("stdout", &s.stdout), ("stderr", &s.stderr)] {
        if let Some(b) = stream {
            let text = std::str::from_utf8(b).map_err(|_| format!("expects {what} bytes that are not UTF-8 text"))?;
            if text.contains('\r') {
                return Err(format!("expects a carriage return on {what}, which the runner's text pipes translate"));
            }
        }
    }
    let mut keys = Vec::new();
    for e in &s.fixture.env {
        let Some((k, _)) = e.split_once('=') else {
            return Err(format!("environment entry {e:?} has no `=`; `env` is an object"));
        };
        if keys.contains(&k) {
            return Err(format!("environment variable `{k}` is given twice; `env` is an object"));
        }
        keys.push(k);
    }
    for (k, step) in s.steps.iter().enumerate() {
        let checked = !step.expect.results.is_empty() || !step.expect.views.is_empty();
        let what = format!("step {} {}", k + 1, step.function.name);
        match step.function.name {
            "fd_prestat_dir_name" => {
                return Err(format!("{what} observes a preopen's name, which the export renames after the test"))
            }
            "fd_prestat_get" if checked => {
                return Err(format!("{what} observes a preopen's name length, which the export changes"))
            }
            "args_get" | "args_sizes_get" if checked => {
                return Err(format!("{what} observes argv[0], which the harness chooses (the module's path)"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The test's description, keys in a stable order, `env` in the scenario's order.
fn json(s: &Scenario, dirs: &[String], layout: Layout) -> String {
    let q = |t: &str| serde_json::to_string(t).expect("a string serialises");
    let mut fields: Vec<String> = Vec::new();
    let args: Vec<String> = s.fixture.args.iter().skip(1).map(|a| q(a)).collect();
    fields.push(format!("\"args\": [{}]", args.join(", ")));
    let env: Vec<String> =
        s.fixture.env.iter().filter_map(|e| e.split_once('=')).map(|(k, v)| format!("{}: {}", q(k), q(v))).collect();
    fields.push(format!("\"env\": {{{}}}", env.join(", ")));
    match layout {
        Layout::Dirs => {
            fields.push(format!("\"dirs\": [{}]", dirs.iter().map(|d| q(d)).collect::<Vec<_>>().join(", ")))
        }
        Layout::Root => {
            if let Some(d) = dirs.first() {
                fields.push(format!("\"root\": {}", q(d)));
            }
        }
    }
    let code = match &s.end {
        End::Exit(ExitExpect::One(c)) => *c,
        End::Exit(ExitExpect::OneOf { .. }) | End::Trap | End::OneOf { .. } => {
            unreachable!("refused by `expressible`")
        }
    };
    fields.push(format!("\"exit_code\": {code}"));
    for (key, stream) in [("stdout", &s.stdout), ("stderr", &s.stderr)] {
        if let Some(b) = stream {
            fields.push(format!("\"{key}\": {}", q(&String::from_utf8_lossy(b))));
        }
    }
    format!("{{\n  {}\n}}\n", fields.join(",\n  "))
}

fn readme(summary: &Summary, layout: Layout) -> String {
    let mut r = String::new();
    let _ = write!(
        r,
        "# wasi-conform scenarios as wasi-testsuite tests\n\n\
         Written by `wasi-conform export --wasi-testsuite` ({} scenarios exported, {} left out).\n\
         Run them with the official runner (`python3 test-runner/wasi_test_runner.py -t <this directory> -r <adapter>`)\n\
         or with `wasi-conform run --wasi-testsuite <this directory>`.\n\n\
         ## How a test judges itself\n\n\
         Each module makes the scenario's preview1 calls with their exact raw arguments and checks after every call the\n\
         errno (against the scenario's allowed set) and, after a success, the checked values (integers, record fields,\n\
         bytes read). On the first mismatch it writes one line to stderr, e.g.\n\
         `step 3 path_open: errno 44 (noent), expected one of {{8 (badf)}}`, and exits with code {SELF_CHECK_EXIT}.\n\
         It also exits with {SELF_CHECK_EXIT} when a fixture directory is not among its preopens.\n\
         The `.json` gives the expected exit code and, where the scenario checks them, stdout and stderr.\n\n\
         ## Differences from `wasi-conform run`\n\n\
         - Streams: the current official runner checks that stdout/stderr *begin with* the expected text (it reads\n\
           as many characters as expected); the runner before June 2026 compared stdout exactly and ignored stderr.\n\
           `wasi-conform run` on the scenarios compares both exactly.\n\
         - Fixtures are {}. The official runner runs tests in place and removes only `*.cleanup`\n\
           files afterwards, so a test that creates, renames or removes files leaves its fixture changed: run a fresh\n\
           export (or a copy) per runtime and per run. `wasi-conform run --wasi-testsuite` copies every fixture into a\n\
           fresh sandbox and never changes this directory.\n\
         - `outside/` holds canary files where a fixture's `../outside/secret` lands; only `wasi-conform` checks\n\
           that they are unchanged after each run (an escape fails even when the exit code matches).\n\
         - The preopen of a scenario is named after the test's fixture directory, not `/sandbox`; scenarios that\n\
           observe preopen names were left out.\n\n\
         ## Left out\n\n",
        summary.exported.len(),
        summary.skipped.len(),
        match layout {
            Layout::Dirs => "the `<test>.<preopen>.dir` directories, preopened under their own names (`dirs`)",
            Layout::Root => "the `<test>.dir` directories, each preopened as `/` (`root`)",
        }
    );
    for (id, why) in &summary.skipped {
        let _ = writeln!(r, "- `{id}`: {why}");
    }
    r
}
