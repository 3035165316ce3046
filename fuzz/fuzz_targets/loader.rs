//! The scenario loader (`wasi_conform_suite::load::load_str`) on arbitrary bytes: the
//! libFuzzer companion of the stable property test `suite/tests/loader_mutations.rs`, with
//! the same three checks.
//!
//! - Loading never panics (libFuzzer reports a panic as a crash).
//! - Every refusal is located in the file: `LoadError::Invalid` with `line >= 1`,
//!   `column >= 1` and `line` at most one past the file's last line (lines counted as YAML
//!   counts them: LF, CR and CRLF each end a line). Any other error panics.
//! - No load holds more than [`ALLOCATION_BOUND`] (256 MiB) at once. A counting global
//!   allocator checks every request against the bytes live when the load started; the first
//!   request over the bound prints what it asked for and aborts the process before the
//!   memory is allocated (a global allocator must not unwind, so it cannot panic); libFuzzer
//!   reports the abort as a crash and saves the input.
//!
//! Input that is not UTF-8 is converted lossily (U+FFFD), as `from_utf8_lossy` does.
//!
//! The input is loaded as `suite/scenarios/fuzz/input.yaml`: `fuzz` is not a preview1
//! function, so the loader's id-matches-place rule does not apply and seeds from the suite
//! (whose ids name their own files) reach everything after it. That rule is checked on
//! accepted inputs instead: a scenario accepted there with id `<function>/<name>` must also
//! load as `suite/scenarios/<function>/<name>.yaml` and be refused, with a location, as
//! `suite/scenarios/<function>/<name>-moved.yaml`.
//!
//! A load of 1 MiB or more that is the largest so far (by power of two) prints
//! `new largest load: N bytes` on stderr.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use wasi_conform_suite::load::{load_str, LoadError};

/// No load may hold more than this at once (as in `suite/tests/loader_mutations.rs`: the
/// largest scenario the limits allow is 64 MiB of guest data; the loader needs far less).
const ALLOCATION_BOUND: usize = 256 << 20;

/// The place every input is loaded from (a directory that is not a function name).
const FUZZ_PATH: &str = "suite/scenarios/fuzz/input.yaml";

/// Bytes live in the Rust heap (libFuzzer's own C++ allocations are not counted).
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most bytes live since [`arm`].
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// `LIVE` when the current load started; `usize::MAX` between loads.
static BASE: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Set by the first request over the bound, so that reporting it cannot trip it again.
static TRIPPED: AtomicBool = AtomicBool::new(false);
/// The largest peak seen so far, for the progress lines on stderr.
static MAX_PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

impl Counting {
    /// Counts `grow` more bytes and aborts, before they are allocated, when that puts the
    /// current load over the bound.
    fn grow(grow: usize) {
        let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
        PEAK.fetch_max(live, Ordering::Relaxed);
        let base = BASE.load(Ordering::Relaxed);
        if base != usize::MAX && live.saturating_sub(base) > ALLOCATION_BOUND && !TRIPPED.swap(true, Ordering::Relaxed)
        {
            // Formatting integers into stderr does not allocate; TRIPPED covers it anyway.
            let _ = writeln!(
                std::io::stderr(),
                "loader fuzz target: allocation bound exceeded: a request of {grow} bytes would make {} bytes \
                 live during one load_str (bound: {ALLOCATION_BOUND} bytes = {} MiB); aborting",
                live - base,
                ALLOCATION_BOUND >> 20
            );
            std::process::abort();
        }
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters change,
// and no method unwinds (an over-bound request aborts the process).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::grow(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::grow(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            Self::grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System` with `layout`; the caller guarantees `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts counting one load against the bound.
fn arm() {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    BASE.store(live, Ordering::Relaxed);
}

/// Stops counting; returns the load's peak (bytes above what was live at [`arm`]) and
/// prints a line when it is a new power-of-two maximum of at least 1 MiB.
fn disarm() -> usize {
    let base = BASE.swap(usize::MAX, Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let before = MAX_PEAK.fetch_max(peak, Ordering::Relaxed);
    if peak >= 1 << 20 && peak.ilog2() > before.max(1).ilog2() {
        eprintln!("loader fuzz target: new largest load: {peak} bytes live at once");
    }
    peak
}

/// The number of lines as YAML counts them (LF, CR and CRLF each end one), at least 1.
fn yaml_lines(text: &str) -> u64 {
    let b = text.as_bytes();
    let breaks =
        b.iter().enumerate().filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n'))).count();
    let unterminated = !matches!(b.last(), None | Some(b'\n' | b'\r'));
    (breaks as u64 + u64::from(unterminated)).max(1)
}

/// Loads `text` as `path` under the allocation bound; panics when a refusal is not located
/// in the file.
fn load(text: &str, path: &Path) -> Result<wasi_conform_suite::scenario::Scenario, ()> {
    arm();
    let loaded = load_str(text, path);
    let peak = disarm();
    assert!(peak <= ALLOCATION_BOUND, "one load_str held {peak} bytes (bound: {ALLOCATION_BOUND})");
    match loaded {
        Ok(s) => Ok(s),
        Err(LoadError::Invalid { line, column, .. }) if line >= 1 && line <= yaml_lines(text) + 1 && column >= 1 => {
            Err(())
        }
        Err(e) => panic!(
            "refusal not located in the file ({} lines as YAML counts them): {}",
            yaml_lines(text),
            e.with_snippet()
        ),
    }
}

/// A name that is a file stem as written (`<name>.yaml` gives `<name>` back).
fn plain_stem(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(scenario) = load(&text, Path::new(FUZZ_PATH)) else { return };
    let Some((function, name)) = scenario.id.split_once('/') else {
        panic!("accepted id `{}` is not `<function>/<name>`", scenario.id)
    };
    assert_eq!(function, scenario.function.name, "accepted id `{}` names another function", scenario.id);
    if plain_stem(name) {
        let place: PathBuf = ["suite", "scenarios", function, &format!("{name}.yaml")].iter().collect();
        assert!(
            load(&text, &place).is_ok(),
            "accepted as {FUZZ_PATH} but refused at its own place {}",
            place.display()
        );
        let moved: PathBuf = ["suite", "scenarios", function, &format!("{name}-moved.yaml")].iter().collect();
        assert!(load(&text, &moved).is_err(), "id `{}` accepted at the wrong place {}", scenario.id, moved.display());
    }
});
