//! The committed real-program workloads (`programs/workloads/*.toml`): which registry
//! package ships the module and where it sits inside it (installed by
//! `programs/install.sh`, never committed), and the runs to make with it — argv, env,
//! directories from `programs/fixtures/` (`"::/out"` is an empty directory), stdin, and what
//! the reference must print and exit with. Per-runtime known differences live in
//! `programs/expectations/<runtime>.toml`, each with its reason, as for scenarios.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::program::{Dir, Program};

/// One program file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramFile {
    /// `pypi:NAME==VERSION` or `npm:NAME@VERSION`.
    pub package: String,
    /// The module's path inside the unpacked package.
    pub module: String,
    pub sha256: String,
    pub argv0: String,
    #[serde(default, rename = "workload")]
    pub workloads: Vec<Workload>,
}

/// One run of a program.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    pub summary: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    /// `FIXTURE::GUEST` (a directory under `programs/fixtures/`), or `::GUEST` for an
    /// empty directory.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// A file under `programs/fixtures/` whose bytes are stdin.
    pub stdin: Option<String>,
    /// The exit code the reference must end with.
    #[serde(default)]
    pub exit: u32,
    /// What the reference must print, when given.
    pub stdout: Option<String>,
}

/// Why the workloads cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// `programs/` of this checkout.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

/// Where `install.sh` unpacks the packages.
pub fn install_dir() -> PathBuf {
    match std::env::var_os("WASI_CONFORM_PROGRAMS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/wasi-conform/programs"),
    }
}

impl ProgramFile {
    /// The program's short name: its file stem.
    pub fn load_all(dir: &Path) -> Result<Vec<(String, ProgramFile)>, WorkloadError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| WorkloadError::Read { path: path.to_owned(), source })
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| WorkloadError::Read { path: dir.to_owned(), source })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let f: ProgramFile = toml::from_str(&read(p)?)
                    .map_err(|e| WorkloadError::Parse { path: p.clone(), message: e.to_string() })?;
                let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                Ok((name, f))
            })
            .collect()
    }

    /// Where the installed module is.
    pub fn module_path(&self) -> PathBuf {
        let spec = self.package.split_once(':').map(|(_, s)| s).unwrap_or(&self.package);
        let dir: String = spec.chars().map(|c| if matches!(c, '@' | '/' | '=') { '_' } else { c }).collect();
        install_dir().join(dir).join(&self.module)
    }

    /// The installed module, or why it cannot be read (with the install command).
    pub fn installed(&self) -> Result<Arc<Vec<u8>>, String> {
        let path = self.module_path();
        std::fs::read(&path).map(Arc::new).map_err(|e| {
            format!("{} is not installed ({}: {e}): run `programs/install.sh`", self.package, path.display())
        })
    }

    /// A workload as a program run: `empty` is where `::GUEST` directories are made.
    pub fn program(&self, w: &Workload, wasm: Arc<Vec<u8>>, empty: &Path) -> Result<Program, WorkloadError> {
        let fixtures = programs_dir().join("fixtures");
        let mut dirs = Vec::new();
        for (i, spec) in w.dirs.iter().enumerate() {
            let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
            let host = if host.is_empty() {
                let d = empty.join(format!("empty-{i}"));
                std::fs::create_dir_all(&d).map_err(|source| WorkloadError::Read { path: d.clone(), source })?;
                d
            } else {
                fixtures.join(host)
            };
            dirs.push(Dir { host, guest: guest.to_owned() });
        }
        let stdin = match &w.stdin {
            Some(f) => {
                let p = fixtures.join(f);
                std::fs::read(&p).map_err(|source| WorkloadError::Read { path: p, source })?
            }
            None => Vec::new(),
        };
        Ok(Program {
            name: self.argv0.clone(),
            wasm,
            dirs,
            args: w.args.clone(),
            env: w.env.clone(),
            stdin,
            budget: Duration::from_secs(120),
            memory_bytes: 4 << 30,
        })
    }
}

/// A known difference of one runtime on one workload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// `<program>/<workload>`.
    pub workload: String,
    /// The verdict `diff` gives (`differs`, `crash`, `timeout`).
    pub verdict: String,
    /// The function of the first diverging call (`none` when only the output differs).
    pub first: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFile {
    #[serde(default)]
    difference: Vec<Known>,
}

/// `programs/expectations/<runtime>.toml`, or nothing when the file does not exist.
pub fn known_differences(runtime: &str) -> Result<Vec<Known>, WorkloadError> {
    let path = programs_dir().join("expectations").join(format!("{runtime}.toml"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(WorkloadError::Read { path, source }),
    };
    let f: KnownFile = toml::from_str(&text).map_err(|e| WorkloadError::Parse { path, message: e.to_string() })?;
    Ok(f.difference)
}
