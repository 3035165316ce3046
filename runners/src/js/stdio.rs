//! The guest's stdio under a JS runtime: three named pipes per run, written and drained by
//! the adapter, and the check that tells when the guest's output is complete (see the
//! module docs of [`crate::js`], "End of the guest's output").

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasi_conform_case::outcome::Ending;

use crate::Execution;

/// The guest's stdin, stdout and stderr: three named pipes (FIFOs) in a directory of their
/// own, so that the guest sees pipes, as it would under `node run.js | …`, and not files
/// (a file would make `fd_seek` on stdout succeed where a pipe gives `spipe`).
///
/// - stdout/stderr: the adapter holds each FIFO open read-write (which never blocks on
///   Linux) so that the runner's `open(O_WRONLY)` does not block and the reading end sees
///   no end-of-file before the run is over; a thread drains each into memory. The drain
///   ends when the last writer is closed: [`GuestStdio::held_by`] tells whether the worker
///   still has one after answering (see the module doc, "End of the guest's output").
/// - stdin: a thread opens it write-only (rendezvous with the runner's `open(O_RDONLY)`),
///   writes the fixture's bytes and closes it, so the guest reads them and then EOF.
pub(super) struct GuestStdio {
    dir: tempfile::TempDir,
    stdin: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    /// The three paths as `/proc/<pid>/fd` names them (symlinks resolved).
    resolved: [PathBuf; 3],
    stdin_writer: Option<JoinHandle<()>>,
    outputs: Vec<OutputPipe>,
}

/// One output pipe being drained.
struct OutputPipe {
    /// Our own read-write handle; dropped when the run is over.
    keep_open: Option<std::fs::File>,
    bytes: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

/// How long the output threads may take to see end-of-file once the runner is done (and no
/// longer holds a pipe, see `GuestStdio::held_by`).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

impl GuestStdio {
    pub(super) fn create(name: &str, stdin: &[u8]) -> std::io::Result<GuestStdio> {
        let dir = tempfile::Builder::new().prefix(&format!("wasi-conform-{name}-stdio-")).tempdir()?;
        let [stdin_path, stdout, stderr] = ["stdin", "stdout", "stderr"].map(|n| dir.path().join(n));
        for p in [&stdin_path, &stdout, &stderr] {
            mkfifo(p)?;
        }
        let resolved = [&stdin_path, &stdout, &stderr].map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()));
        let mut outputs = Vec::new();
        for p in [&stdout, &stderr] {
            let keep_open = std::fs::OpenOptions::new().read(true).write(true).open(p)?;
            let mut reader = std::fs::File::open(p)?;
            let (tx, bytes) = mpsc::channel();
            std::thread::Builder::new().name("js-guest-output".into()).spawn(move || {
                let mut buf = Vec::new();
                let _ = tx.send(reader.read_to_end(&mut buf).map(|_| buf));
            })?;
            outputs.push(OutputPipe { keep_open: Some(keep_open), bytes });
        }
        let data = stdin.to_vec();
        let path = stdin_path.clone();
        let stdin_writer = std::thread::Builder::new().name("js-guest-stdin".into()).spawn(move || {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
                // EPIPE when the guest's side is closed before it read everything: fine.
                let _ = f.write_all(&data);
            }
        })?;
        Ok(GuestStdio { dir, stdin: stdin_path, stdout, stderr, resolved, stdin_writer: Some(stdin_writer), outputs })
    }

    /// The directory of the pipes (a run's own scratch space).
    pub(super) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The paths of stdin, stdout and stderr.
    pub(super) fn paths(&self) -> [&Path; 3] {
        [&self.stdin, &self.stdout, &self.stderr]
    }

    /// Whether process `pid` has one of the three pipes open, by its `/proc/<pid>/fd`; false
    /// when that cannot be read (the caller then waits for the end of the output as usual).
    pub(super) fn held_by(&self, pid: u32) -> bool {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
        fds.flatten().any(|e| std::fs::read_link(e.path()).is_ok_and(|target| self.resolved.contains(&target)))
    }

    /// Once the runner is done with the pipes (it answered, or it is dead): the execution
    /// with what the guest wrote. An output that cannot be read turns an exit or a trap into
    /// a crash (what the guest wrote is unknown).
    pub(super) fn finish(mut self, ending: Ending, memory: Option<Vec<u8>>) -> Execution {
        self.release_stdin_writer();
        let mut outs = Vec::new();
        let mut failure = None;
        for c in &mut self.outputs {
            drop(c.keep_open.take());
            match c.bytes.recv_timeout(DRAIN_TIMEOUT) {
                Ok(Ok(b)) => outs.push(b),
                Ok(Err(e)) => {
                    failure.get_or_insert(format!("cannot read the guest's output: {e}"));
                    outs.push(Vec::new());
                }
                Err(_) => {
                    failure.get_or_insert("the guest's output pipe was still open after the run".to_owned());
                    outs.push(Vec::new());
                }
            }
        }
        let ending = match (failure, ending) {
            (Some(f), Ending::Exit(_) | Ending::Trap(_)) => Ending::Crash(f),
            (_, other) => other,
        };
        let stderr = outs.pop().unwrap_or_default();
        let stdout = outs.pop().unwrap_or_default();
        Execution { ending, stdout, stderr, memory, own_sandbox: None }
    }

    /// The stdin thread is blocked in `open` when the runner never opened stdin (it failed
    /// or died first): give it a reader for a moment, which also makes a pending write fail.
    fn release_stdin_writer(&mut self) {
        let Some(writer) = self.stdin_writer.take() else { return };
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while !writer.is_finished() && Instant::now() < deadline {
            use std::os::unix::fs::OpenOptionsExt;
            let reader = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&self.stdin);
            std::thread::sleep(Duration::from_millis(1));
            drop(reader);
        }
        if writer.is_finished() {
            let _ = writer.join();
        }
    }
}

impl Drop for GuestStdio {
    /// Never leaves a thread blocked on a pipe, whichever way the run went.
    fn drop(&mut self) {
        self.release_stdin_writer();
        for c in &mut self.outputs {
            drop(c.keep_open.take());
        }
    }
}

/// `mkfifo(path, 0600)`.
fn mkfifo(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in a path"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
