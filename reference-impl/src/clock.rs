//! The reference's clocks: deterministic but plausible. Real time starts at
//! 2026-01-01T00:00:00Z and both clocks advance by one microsecond per reading, so they
//! never go back, successive readings differ, and every run sees the same values.

/// 2026-01-01T00:00:00Z in nanoseconds since the Unix epoch.
pub const EPOCH_2026_NS: u64 = 1_767_225_600_000_000_000;
/// How much a clock advances per reading.
pub const TICK_NS: u64 = 1_000;
/// Resolution reported for every supported clock (non-zero, as the witx requires).
pub const RESOLUTION_NS: u64 = 1_000;

/// The clocks of one run.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    elapsed: u64,
}

impl Clock {
    /// Advances and returns nanoseconds since the run started.
    pub fn tick(&mut self) -> u64 {
        self.elapsed += TICK_NS;
        self.elapsed
    }

    /// `clockid::realtime`.
    pub fn realtime(&mut self) -> u64 {
        EPOCH_2026_NS + self.tick()
    }

    /// `clockid::monotonic` (its epoch is the start of the run).
    pub fn monotonic(&mut self) -> u64 {
        self.tick()
    }

    /// Lets time pass (a `poll_oneoff` clock subscription "sleeps" by advancing).
    pub fn advance(&mut self, ns: u64) {
        self.elapsed = self.elapsed.saturating_add(ns);
    }

    /// The current monotonic time without advancing.
    pub fn peek(&self) -> u64 {
        self.elapsed
    }
}
