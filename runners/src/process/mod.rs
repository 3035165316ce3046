//! Other programs, as every adapter that starts one needs them: finding a binary
//! ([`find_program`], [`find_on_path`]), asking it its version ([`probe`]), running it to its
//! end in a process group of its own under a time limit and `RLIMIT_DATA` with its output
//! drained ([`spawn_and_wait`]), keeping a long-lived child that speaks one line at a time
//! ([`LineChild`]), and naming how a process (a signal) or an adapter (a panic) ended.
//!
//! Users: the command-line adapters ([`crate::cli`]: one process per run), the JS adapters
//! ([`crate::js`]: long-lived runner processes) and crash isolation ([`crate::isolated`]:
//! long-lived worker processes), plus [`crate::execute`] and [`crate::test_main`] for the
//! panic text.

mod find;
mod line_child;
mod spawn;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

pub use find::{env_path, find_on_path, find_program, is_executable, FindError, Program};
pub use line_child::{LineChild, SpawnError, StderrMode};
pub use spawn::{spawn_and_wait, Ended, Finished, OUTPUT_CAP};

/// How long a version probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a version probe printed.
#[derive(Debug, Clone)]
pub struct Probed {
    pub stdout: String,
    pub stderr: String,
}

impl Probed {
    /// Its stdout, else its stderr, trimmed.
    pub fn text(&self) -> &str {
        let o = self.stdout.trim();
        if o.is_empty() {
            self.stderr.trim()
        } else {
            o
        }
    }
}

/// Why a version probe said nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot run {}: {source}", bin.display())]
    Spawn { bin: PathBuf, source: std::io::Error },
    #[error("{} failed ({status}): {}", bin.display(), stderr.trim())]
    Failed { bin: PathBuf, status: ExitStatus, stderr: String },
    #[error("{} did not answer within {PROBE_TIMEOUT:?}", bin.display())]
    TimedOut { bin: PathBuf },
}

/// Runs `bin args` to its end (at most [`PROBE_TIMEOUT`]) with only the environment `env`,
/// and returns what it printed when it succeeded.
pub fn probe<A, K, V>(
    bin: &Path,
    args: impl IntoIterator<Item = A>,
    env: impl IntoIterator<Item = (K, V)>,
) -> Result<Probed, ProbeError>
where
    A: AsRef<OsStr>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut cmd = Command::new(bin);
    cmd.args(args).env_clear().envs(env);
    let out = spawn_and_wait(cmd, &[], PROBE_TIMEOUT, None)
        .map_err(|source| ProbeError::Spawn { bin: bin.to_owned(), source })?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match out.status {
        Ended::Exited(s) if s.success() => Ok(Probed { stdout: text(&out.stdout), stderr: text(&out.stderr) }),
        Ended::Exited(status) => Err(ProbeError::Failed { bin: bin.to_owned(), status, stderr: text(&out.stderr) }),
        Ended::TimedOut => Err(ProbeError::TimedOut { bin: bin.to_owned() }),
    }
}

/// The first non-empty line of a version output, trimmed.
pub fn first_line(out: &str) -> String {
    out.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned()
}

/// The name of a signal that ends processes (`SIGSEGV`), `None` for another.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGXCPU => "SIGXCPU",
        _ => return None,
    })
}

/// The message a panic was given (`panic!("…")`), when it is text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
}

/// [`panic_message`], or `panic` when the payload is not text.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    panic_message(payload).unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_reads_stdout_else_stderr_and_says_why_it_failed() {
        let sh = Path::new("/bin/sh");
        let p = probe(sh, ["-c", "echo '  v1.2 '; echo x >&2"], [("A", "1")]).unwrap();
        assert_eq!((p.text(), first_line(&p.stdout).as_str()), ("v1.2", "v1.2"));
        let p = probe(sh, ["-c", "echo \"$A\" >&2"], [("A", "only this")]).unwrap();
        assert_eq!(p.text(), "only this");
        let e = probe(sh, ["-c", "echo no >&2; exit 3"], [("", ""); 0]).unwrap_err();
        assert_eq!(e.to_string(), "/bin/sh failed (exit status: 3): no");
    }

    #[test]
    fn panic_payloads_and_signals_have_names() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_text(p.as_ref()), "boom 1");
        let p = std::panic::catch_unwind(|| std::panic::panic_any(7)).unwrap_err();
        assert_eq!((panic_message(p.as_ref()), panic_text(p.as_ref())), (None, "panic".to_owned()));
        assert_eq!(signal_name(libc::SIGSEGV), Some("SIGSEGV"));
        assert_eq!(signal_name(libc::SIGUSR1), None);
    }
}
