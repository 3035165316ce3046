//! Finding scenario files: `suite/scenarios/<function>/<name>.yaml`, plus the teaching
//! example `suite/README.yaml`. A stray file or directory is an error, not a silent skip.

use std::path::{Path, PathBuf};

/// Something in a suite directory that is not a scenario where one is expected.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0}: not a scenario (expected `<function>/<name>.yaml` under the suite directory)")]
    Stray(PathBuf),
    #[error("{0}: `{1}` is not a preview1 function; scenario directories are named after the function they test")]
    UnknownFunction(PathBuf, String),
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// All scenario files under `dir` (a directory of `<function>/` directories), sorted.
pub fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DiscoverError::Io { path, source }
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() {
            return Err(DiscoverError::Stray(path));
        }
        if wasi_conform_abi::function(&name).is_none() {
            return Err(DiscoverError::UnknownFunction(path, name));
        }
        for f in std::fs::read_dir(&path).map_err(io(&path))? {
            let f = f.map_err(io(&path))?.path();
            if f.extension().and_then(|e| e.to_str()) != Some("yaml") || !f.is_file() {
                return Err(DiscoverError::Stray(f));
            }
            out.push(f);
        }
    }
    out.sort();
    Ok(out)
}

/// The suite directory of this checkout (`suite/`).
pub fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

/// Loads every scenario under `dir` (a `scenarios/` directory). Every file is tried; all
/// errors are returned together.
pub fn load_dir(dir: &Path) -> Result<Vec<crate::scenario::Scenario>, Vec<String>> {
    let files = scenario_files(dir).map_err(|e| vec![e.to_string()])?;
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match crate::load::load_file(&f) {
            Ok(s) => ok.push(s),
            Err(e) => errors.push(e.with_snippet()),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &ok {
        if !seen.insert(s.id.clone()) {
            errors.push(format!("{}: duplicate scenario id `{}`", s.source.display(), s.id));
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

/// The built-in suite: `suite/scenarios/` plus the teaching example `suite/README.yaml`.
pub fn load_builtin() -> Result<Vec<crate::scenario::Scenario>, Vec<String>> {
    let dir = suite_dir();
    let mut all = load_dir(&dir.join("scenarios"))?;
    let readme = dir.join("README.yaml");
    all.push(crate::load::load_file(&readme).map_err(|e| vec![e.with_snippet()])?);
    Ok(all)
}
