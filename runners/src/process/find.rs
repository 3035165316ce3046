//! Finding a binary: a variable naming it, a path, or a name on `PATH`.

use std::path::{Path, PathBuf};

/// Where a runtime's binary is looked for by [`find_program`].
#[derive(Debug, Clone)]
pub struct Program {
    /// An environment variable naming the binary (`WASMEDGE_BIN`), tried first.
    pub env: Option<String>,
    /// A name looked up on `PATH`, or a path (containing `/`) used as it is.
    pub exe: String,
    /// What to do when it is missing, for the not-available message (`set IWASM_BIN …`).
    pub install: String,
}

/// Why [`find_program`] found no binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    /// The variable names something that is not an executable file.
    #[error("{var}={} is not an executable file", path.display())]
    BadVariable { var: String, path: PathBuf },
    /// The path given is not an executable file.
    #[error("{exe} is not an executable file{}; {install}", unset(var))]
    BadPath { exe: String, var: Option<String>, install: String },
    /// The name is on no `PATH` directory.
    #[error("`{exe}` is not on PATH{}; {install}", unset(var))]
    NotOnPath { exe: String, var: Option<String>, install: String },
}

/// ` and VAR is not set`, when there is a variable.
fn unset(var: &Option<String>) -> String {
    var.as_ref().map(|v| format!(" and {v} is not set")).unwrap_or_default()
}

/// The value of an environment variable naming a file, when it is set and not empty.
pub fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Whether `p` is a file with an execute bit.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable called `name` in a `PATH` directory.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

/// Finds a program: the variable, else a path as given, else a name on `PATH`.
pub fn find_program(p: &Program) -> Result<PathBuf, FindError> {
    if let Some(var) = &p.env {
        if let Some(path) = env_path(var) {
            return if is_executable(&path) {
                Ok(path)
            } else {
                Err(FindError::BadVariable { var: var.clone(), path })
            };
        }
    }
    let (exe, var, install) = (p.exe.clone(), p.env.clone(), p.install.clone());
    if p.exe.contains('/') {
        let path = PathBuf::from(&p.exe);
        return if is_executable(&path) { Ok(path) } else { Err(FindError::BadPath { exe, var, install }) };
    }
    find_on_path(&p.exe).ok_or(FindError::NotOnPath { exe, var, install })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_found_by_variable_path_or_name() {
        let program = |env: Option<&str>, exe: &str| Program {
            env: env.map(str::to_owned),
            exe: exe.into(),
            install: "install it".into(),
        };
        assert_eq!(find_program(&program(None, "/bin/sh")), Ok(PathBuf::from("/bin/sh")));
        let e = find_program(&program(Some("WASI_CONFORM_TEST_UNSET_BIN"), "wasi-conform-no-such")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`wasi-conform-no-such` is not on PATH and WASI_CONFORM_TEST_UNSET_BIN is not set; install it"
        );
        let e = find_program(&program(None, "/nonexistent/rt")).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/rt is not an executable file; install it");
    }
}
