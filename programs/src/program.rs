//! A program run: the module, the host directories to give it (each copied, never
//! written), argv, environment and stdin — and the test case every runtime is handed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasi_conform_case::fixture::{Fixture, Preopen};
use wasi_conform_case::test_case::{Limits, TestCase};
use wasi_conform_runners::sandbox::snapshot;

/// A directory given to the program: host path and the name the guest sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    pub host: PathBuf,
    pub guest: String,
}

impl std::str::FromStr for Dir {
    type Err = String;

    /// `HOST::GUEST` (as the wasmtime CLI spells it) or `HOST` (seen as itself).
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, guest) = s.split_once("::").unwrap_or((s, s));
        if host.is_empty() || guest.is_empty() {
            return Err(format!("`{s}`: expected HOST::GUEST"));
        }
        Ok(Dir { host: PathBuf::from(host), guest: guest.to_owned() })
    }
}

/// Everything one run of a program needs.
#[derive(Debug, Clone)]
pub struct Program {
    /// A label for messages and test names.
    pub name: String,
    pub wasm: Arc<Vec<u8>>,
    pub dirs: Vec<Dir>,
    /// argv after argv\[0\] (which is the name).
    pub args: Vec<String>,
    /// `KEY=VALUE` strings.
    pub env: Vec<String>,
    pub stdin: Vec<u8>,
    pub budget: Duration,
    /// Largest linear memory a run may use.
    pub memory_bytes: u64,
}

/// Why a program cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
}

impl Program {
    /// A program from a module file, with no directories, arguments or input.
    pub fn from_file(path: &Path) -> Result<Program, ProgramError> {
        let wasm = std::fs::read(path).map_err(|source| ProgramError::Read { path: path.to_owned(), source })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "program".into());
        Ok(Program {
            name,
            wasm: Arc::new(wasm),
            dirs: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
            budget: Duration::from_secs(60),
            memory_bytes: 4 << 30,
        })
    }

    /// The test case of this program with `module` (instrumented or not): each directory
    /// read into the fixture, so that every runtime starts from its own copy.
    pub fn case(&self, module: Arc<Vec<u8>>) -> Result<TestCase, ProgramError> {
        let mut preopens = Vec::new();
        for d in &self.dirs {
            if !d.host.is_dir() {
                return Err(ProgramError::NotADirectory(d.host.clone()));
            }
            let binding = match d.guest.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/') {
                "" | "." => format!("root{}", preopens.len()),
                b => b.replace('/', "_"),
            };
            preopens.push(Preopen { name: d.guest.clone(), binding, tree: snapshot(&d.host) });
        }
        let mut args = vec![self.name.clone()];
        args.extend(self.args.iter().cloned());
        Ok(TestCase {
            id: format!("program/{}", self.name),
            module: module.clone(),
            module_stderr_trace: module,
            fixture: Fixture { preopens, args, env: self.env.clone(), stdin: self.stdin.clone() },
            capture_len: 0,
            limits: Limits { timeout: self.budget, memory_bytes: self.memory_bytes },
        })
    }
}
