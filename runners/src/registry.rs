//! Every runtime wasi-conform knows, by name, in one place: the built-in adapters in report
//! order, then the command-line runtimes a user describes in `runtimes.toml`
//! ([`crate::cli::configured`]); choosing runtimes by name; and the crash-isolation policy,
//! which in-process adapters run in worker processes ([`crate::isolated`]) and which one a
//! worker process serves.
//!
//! Only the runtimes chosen are built (building one may start an engine or a thread pool).
//!
//! Isolation: `WASI_CONFORM_ISOLATE` is a comma-separated list of runtime names (`all` for
//! every in-process adapter, `none` to isolate nothing); default: `wasmer` (its
//! `poll_oneoff` can end the whole process, see [`crate::isolated`]). The reference is
//! never isolated: it is plain safe Rust with its own in-memory file system.

use std::process::ExitCode;

use crate::cli::configured::{config_path, load_file, ConfigError};
use crate::cli::CliRuntime;
use crate::isolated::{self, InProcess, Isolated};
use crate::{cli, js, reference, wasmer, wasmi, wasmtime, Runtime};

/// Environment variable choosing which in-process adapters run isolated.
pub const ISOLATE_ENV: &str = "WASI_CONFORM_ISOLATE";
/// Adapters isolated when [`ISOLATE_ENV`] is not set.
const DEFAULT_ISOLATED: &[&str] = &["wasmer"];
/// The oracle's name.
pub const REFERENCE: &str = "reference";

/// How a built-in adapter is made.
enum Build {
    /// An adapter that is never isolated.
    Plain(fn() -> Box<dyn Runtime>),
    /// An in-process adapter, isolated when the policy says so.
    InProcess(fn() -> Box<dyn InProcess>),
}

/// The built-in adapters, in report order.
const BUILTIN: [(&str, Build); 9] = [
    (REFERENCE, Build::Plain(|| Box::new(reference::Reference::new()))),
    ("wasmtime", Build::InProcess(|| Box::new(wasmtime::Wasmtime::new()))),
    ("wasmi", Build::InProcess(|| Box::new(wasmi::Wasmi::new()))),
    ("node", Build::Plain(|| Box::new(js::node::runtime()))),
    ("bun", Build::Plain(|| Box::new(js::bun::runtime()))),
    ("deno", Build::Plain(|| Box::new(js::deno::runtime()))),
    ("wasmer", Build::InProcess(|| Box::new(wasmer::Wasmer::new()))),
    ("wasmedge", Build::Plain(|| Box::new(cli::wasmedge::runtime()))),
    ("iwasm", Build::Plain(|| Box::new(cli::iwasm::runtime()))),
];

/// Why runtimes could not be chosen.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// `runtimes.toml` is refused (a configuration the user wrote is never half-used).
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("unknown runtime `{name}` (known: {known})")]
    Unknown { name: String, known: String },
}

/// The names of the built-in runtimes, in report order.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// Every runtime, available or not, in report order (the configured ones last).
pub fn all() -> Result<Vec<Box<dyn Runtime>>, RegistryError> {
    select(&[])
}

/// The runtimes named, in report order; all of them when `names` is empty. A name that is
/// neither built in nor configured is an error.
pub fn select(names: &[String]) -> Result<Vec<Box<dyn Runtime>>, RegistryError> {
    let configured = configured()?;
    let known: Vec<&str> = builtin_names().into_iter().chain(configured.iter().map(|r| r.name())).collect();
    if let Some(name) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(RegistryError::Unknown { name: name.clone(), known: known.join(", ") });
    }
    let wanted = |name: &str| names.is_empty() || names.iter().any(|n| n == name);
    let mut out: Vec<Box<dyn Runtime>> =
        BUILTIN.iter().filter(|(name, _)| wanted(name)).map(|(_, build)| built(build)).collect();
    out.extend(configured.into_iter().filter(|r| wanted(r.name())).map(|r| Box::new(r) as Box<dyn Runtime>));
    Ok(out)
}

/// The built-in runtime of this name (isolated when the policy says so), if there is one.
pub fn builtin(name: &str) -> Option<Box<dyn Runtime>> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, build)| built(build))
}

/// The in-process adapter of this name, not isolated (what a worker process serves).
pub fn in_process(name: &str) -> Option<Box<dyn InProcess>> {
    BUILTIN.iter().find_map(|(n, build)| match build {
        Build::InProcess(make) if *n == name => Some(make()),
        _ => None,
    })
}

/// Whether the in-process adapter `name` runs isolated under [`ISOLATE_ENV`] (or the
/// default).
pub fn isolates(name: &str) -> bool {
    match std::env::var(ISOLATE_ENV).ok().as_deref() {
        None => DEFAULT_ISOLATED.contains(&name),
        Some(list) => list.split(',').map(str::trim).any(|n| n == "all" || n == name),
    }
}

/// `rt` wrapped in [`Isolated`] when the policy ([`isolates`]) names it.
pub fn isolate_if_configured(rt: Box<dyn InProcess>) -> Box<dyn Runtime> {
    if isolates(rt.name()) {
        Box::new(Isolated::new(rt))
    } else {
        rt
    }
}

/// Marks this program as one that can host crash-isolation workers; when the process was
/// started as a worker, serves runs until its stdin closes and returns the exit code for
/// `main` to return. Call it first thing in `main`:
/// `if let Some(code) = serve_if_worker() { return code; }`.
#[must_use = "a worker process must return this exit code from `main` at once"]
pub fn serve_if_worker() -> Option<ExitCode> {
    let name = isolated::become_host()?;
    Some(isolated::serve(&name, in_process(&name)))
}

fn built(build: &Build) -> Box<dyn Runtime> {
    match build {
        Build::Plain(make) => make(),
        Build::InProcess(make) => isolate_if_configured(make()),
    }
}

/// The runtimes of the configuration file in force, if any.
fn configured() -> Result<Vec<CliRuntime>, ConfigError> {
    match config_path() {
        None => Ok(Vec::new()),
        Some(path) => load_file(&path, &builtin_names()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_called_by_its_name() {
        for (name, build) in &BUILTIN {
            let rt = match build {
                Build::Plain(make) => make(),
                Build::InProcess(make) => make(),
            };
            assert_eq!(rt.name(), *name);
        }
        assert_eq!(in_process("wasmer").map(|r| r.name()), Some("wasmer"));
        assert!(in_process(REFERENCE).is_none() && in_process("node").is_none());
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let e = select(&["nosuch".into()]).err().expect("refused").to_string();
        assert!(
            e.starts_with(
                "unknown runtime `nosuch` (known: reference, wasmtime, wasmi, node, bun, deno, wasmer, wasmedge, iwasm"
            ),
            "{e}"
        );
        let picked = select(&["iwasm".into(), "reference".into()]).unwrap();
        assert_eq!(picked.iter().map(|r| r.name()).collect::<Vec<_>>(), ["reference", "iwasm"]);
    }
}
