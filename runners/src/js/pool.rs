//! Long-lived `runner.mjs --worker` processes and the pool of idle ones: a run takes an idle
//! worker started with the same heap size, or starts one, and gives it back afterwards
//! unless it has served its spec's `max_runs_per_worker` or the pool is full (one worker per
//! CPU).

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use super::launch::{death, start, Death, Launcher, StartError};
use crate::process::LineChild;

/// How long a fresh worker may take to say it is ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A long-lived `runner.mjs --worker`.
pub(super) struct Worker {
    pub proc: LineChild,
    heap_mb: u64,
    /// Keys of the modules this worker has compiled and kept.
    pub cached: HashSet<String>,
    pub runs: u32,
}

/// Why a worker did not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Died(#[from] Death),
}

impl Worker {
    /// Starts a worker and waits for its `ready` line.
    pub fn spawn(launcher: &Launcher<'_>) -> Result<Worker, WorkerError> {
        let name = launcher.spec.name;
        let mut cmd = launcher.command();
        cmd.arg("--worker").stdin(Stdio::piped());
        let mut proc = start(name, cmd)?;
        match proc.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) if line.contains("\"ready\":true") => {
                Ok(Worker { proc, heap_mb: launcher.heap_mb, cached: HashSet::new(), runs: 0 })
            }
            Ok(line) => {
                Err(death(&mut proc, format!("the {name} worker did not start (it said `{}`)", line.trim())).into())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(death(&mut proc, format!("the {name} worker was not ready within {STARTUP_TIMEOUT:?}")).into())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(death(&mut proc, format!("the {name} worker did not start")).into())
            }
        }
    }
}

/// Idle workers, at most one per CPU.
pub(super) struct Pool {
    idle: Mutex<Vec<Worker>>,
    max_idle: usize,
    max_runs: u32,
}

impl Pool {
    /// An empty pool whose workers serve at most `max_runs` runs each.
    pub fn new(max_runs: u32) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            max_runs,
        }
    }

    /// An idle worker for this heap size that is still alive, if any.
    pub fn take(&self, heap_mb: u64) -> Option<Worker> {
        let mut idle = self.lock();
        while let Some(i) = idle.iter().rposition(|w| w.heap_mb == heap_mb) {
            let mut w = idle.swap_remove(i);
            if w.proc.is_alive() {
                return Some(w);
            }
            // Died while idle: dropped (and reaped) here, the next one is tried.
        }
        None
    }

    /// Puts a worker back, or drops (kills) it when it is worn out or the pool is full.
    pub fn give_back(&self, worker: Worker) {
        if worker.runs >= self.max_runs {
            return;
        }
        let surplus = {
            let mut idle = self.lock();
            if idle.len() < self.max_idle {
                idle.push(worker);
                None
            } else {
                Some(worker)
            }
        };
        drop(surplus);
    }

    /// Process ids of the idle workers, the next one to be taken last.
    pub fn idle_pids(&self) -> Vec<u32> {
        self.lock().iter().map(|w| w.proc.id()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}
