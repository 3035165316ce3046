//! One process run to its end: in a process group of its own, under a time limit (the
//! whole group is killed) and `RLIMIT_DATA`, its stdin fed and its stdout and stderr
//! drained by threads.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of stdout and of stderr kept per run by [`spawn_and_wait`].
pub const OUTPUT_CAP: usize = 64 << 20;
/// How long the output threads may take to finish once the process is gone (a grandchild
/// that left the process group could keep a pipe open forever).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

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
}
