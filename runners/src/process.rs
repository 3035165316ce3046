//! Other programs, as every adapter that starts one needs them: finding a binary, asking it
//! its version, running it to its end in a process group of its own under a time limit and
//! `RLIMIT_DATA` with its output drained, keeping a long-lived child that speaks one line at
//! a time, and naming how a process (a signal) or an adapter (a panic) ended.
//!
//! Users: the command-line adapters ([`crate::cli`]: one process per run), the JS adapters
//! ([`crate::js`]: long-lived runner processes) and crash isolation ([`crate::isolated`]:
//! long-lived worker processes), plus [`crate::execute`] and [`crate::test_main`] for the
//! panic text.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of stdout and of stderr kept per run by [`spawn_and_wait`].
pub const OUTPUT_CAP: usize = 64 << 20;
/// How long a version probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the output threads may take to finish once the process is gone (a grandchild
/// that left the process group could keep a pipe open forever).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

// ----------------------------------------------------------------------------------------
// Finding a binary

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

// ----------------------------------------------------------------------------------------
// The version probe

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

// ----------------------------------------------------------------------------------------
// One process to its end, under limits

/// How a process run by [`spawn_and_wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Killed at the time limit.
    TimedOut,
    Exited(ExitStatus),
}

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    pub status: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Spawns `cmd` (with the environment the caller gave it) in a new process group (and
/// `RLIMIT_DATA` when given), feeds `stdin`, drains stdout and stderr (each kept up to
/// [`OUTPUT_CAP`] bytes), and kills the group at `timeout`.
pub fn spawn_and_wait(
    mut cmd: Command,
    stdin: &[u8],
    timeout: Duration,
    memory_limit: Option<u64>,
) -> std::io::Result<Finished> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    if let Some(bytes) = memory_limit {
        // SAFETY: the closure runs between fork and exec and only calls setrlimit(2), which
        // is async-signal-safe; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The guest may never read (or close stdin): a broken pipe is not an error.
        let _ = input.write_all(&stdin);
    });
    let (out_tx, out_rx) = mpsc::channel();
    let drains: Vec<JoinHandle<()>> = [
        (0usize, Box::new(child.stdout.take().expect("stdout is piped")) as Box<dyn Read + Send>),
        (1, Box::new(child.stderr.take().expect("stderr is piped"))),
    ]
    .into_iter()
    .map(|(i, r)| {
        let tx = out_tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send((i, drain(r)));
        })
    })
    .collect();
    drop(out_tx);
    let (status_tx, status_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = status_tx.send(child.wait());
    });
    let status = match status_rx.recv_timeout(timeout) {
        Ok(s) => Ended::Exited(s?),
        Err(_) => {
            // SAFETY: killpg(2) with the group this child leads; the child is not reaped
            // yet (its waiter has not returned), so the id cannot have been reused.
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = status_rx.recv();
            Ended::TimedOut
        }
    };
    let _ = waiter.join();
    let mut streams = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + DRAIN_GRACE;
    for _ in 0..2 {
        match out_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, bytes)) => streams[i] = bytes,
            Err(_) => break,
        }
    }
    // Threads still blocked (a pipe held open by a process that left the group) are
    // detached by dropping their handles.
    drop((drains, feeder));
    let [stdout, stderr] = streams;
    Ok(Finished { status, stdout, stderr })
}

/// Reads a stream to its end, keeping at most [`OUTPUT_CAP`] bytes.
fn drain(mut r: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    kept
}

// ----------------------------------------------------------------------------------------
// A long-lived child speaking lines

/// What becomes of a [`LineChild`]'s stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StderrMode {
    /// This process's own stderr.
    Inherit,
    /// Read by a thread that keeps its last this many bytes ([`LineChild::stderr_tail`]).
    Tail(usize),
}

/// Why a [`LineChild`] did not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{0}")]
    Spawn(std::io::Error),
    #[error("no pipe to the process")]
    NoPipe,
    #[error("cannot start a reader thread: {0}")]
    Thread(std::io::Error),
}

/// A child process whose stdout is read line by line (lines without their end) on a
/// thread, whose stdin (when the command pipes it) takes lines, and which is killed and
/// reaped when dropped.
pub struct LineChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    tail: Arc<Mutex<Vec<u8>>>,
    tail_reader: Option<JoinHandle<()>>,
}

impl LineChild {
    /// Spawns `cmd` with stdout piped; stdin is as `cmd` says (`Stdio::piped()` to
    /// [`LineChild::send`]). `name` names the reader threads.
    pub fn spawn(name: &str, mut cmd: Command, stderr: StderrMode) -> Result<LineChild, SpawnError> {
        cmd.stdout(Stdio::piped());
        cmd.stderr(match stderr {
            StderrMode::Inherit => Stdio::inherit(),
            StderrMode::Tail(_) => Stdio::piped(),
        });
        let mut child = cmd.spawn().map_err(SpawnError::Spawn)?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let err_pipe = child.stderr.take();
        let (tx, lines) = mpsc::channel();
        let mut me = LineChild { child, stdin, lines, tail: Arc::default(), tail_reader: None };
        let Some(stdout) = stdout else { return Err(SpawnError::NoPipe) };
        std::thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            })
            .map_err(SpawnError::Thread)?;
        if let StderrMode::Tail(keep) = stderr {
            let Some(mut pipe) = err_pipe else { return Err(SpawnError::NoPipe) };
            let tail = Arc::clone(&me.tail);
            let reader = std::thread::Builder::new()
                .name(format!("{name}-stderr"))
                .spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = pipe.read(&mut buf) {
                        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                        t.extend_from_slice(&buf[..n]);
                        if t.len() > keep {
                            let cut = t.len() - keep;
                            t.drain(..cut);
                        }
                    }
                })
                .map_err(SpawnError::Thread)?;
            me.tail_reader = Some(reader);
        }
        Ok(me)
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has not ended yet.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Writes one line (and its end) to the process's stdin.
    pub fn send(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| std::io::Error::other("stdin is not piped"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// The next line of stdout, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<String, mpsc::RecvTimeoutError> {
        self.lines.recv_timeout(timeout)
    }

    /// Waits for the process to end.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait()
    }

    /// Kills the process (if it still runs) and waits for it.
    pub fn kill(&mut self) -> std::io::Result<ExitStatus> {
        let _ = self.child.kill();
        self.child.wait()
    }

    /// The last bytes of stderr ([`StderrMode::Tail`]), trimmed; once the process is gone.
    pub fn stderr_tail(&mut self) -> String {
        if let Some(h) = self.tail_reader.take() {
            let _ = h.join();
        }
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&tail).trim().to_owned()
    }
}

impl Drop for LineChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----------------------------------------------------------------------------------------
// How things ended

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

    fn sh(script: &str, stdin: &[u8], timeout: Duration) -> Finished {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).env_clear();
        spawn_and_wait(cmd, stdin, timeout, Some(256 << 20)).unwrap()
    }

    #[test]
    fn a_process_gets_stdin_the_callers_environment_and_its_streams() {
        let f = sh(
            "cat; env | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_=' >&2; exit 3",
            b"in",
            Duration::from_secs(10),
        );
        assert_eq!(f.stdout, b"in");
        assert_eq!(String::from_utf8_lossy(&f.stderr), "");
        assert!(matches!(f.status, Ended::Exited(s) if s.code() == Some(3)));
    }

    #[test]
    fn a_hanging_process_group_is_killed_at_the_limit() {
        let started = Instant::now();
        // A grandchild holding stdout open: the group kill must reach it too.
        let f = sh("sleep 30 & sleep 30", b"", Duration::from_millis(300));
        assert_eq!(f.status, Ended::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }

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

    #[test]
    fn a_line_child_speaks_lines_and_keeps_its_stderr_tail() {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg("read l; echo \"got $l\"; printf 0123456789 >&2").stdin(Stdio::piped());
        let mut c = LineChild::spawn("t", cmd, StderrMode::Tail(4)).unwrap();
        c.send("hi").unwrap();
        assert_eq!(c.recv_timeout(Duration::from_secs(10)).unwrap(), "got hi");
        assert!(c.wait().unwrap().success());
        assert_eq!(c.stderr_tail(), "6789");
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
