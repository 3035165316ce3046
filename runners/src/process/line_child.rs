//! A long-lived child process that speaks one line at a time on its stdin and stdout (the
//! JS runners and the crash-isolation workers), killed and reaped when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
