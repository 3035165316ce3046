//! A property test of the loader over mutated copies of the suite's own scenario files (the
//! stable-toolchain companion of a fuzz target): whatever the bytes, loading never panics,
//! never allocates more than [`ALLOCATION_BOUND`] at once, and every refusal names a line and
//! column inside the file. Mutations are deterministic (a fixed-seed generator): numbers
//! replaced by huge ones, lines dropped, duplicated or swapped, bytes flipped, multi-byte characters inserted, keys renamed.
//!
//! A counting global allocator measures the peak bytes live during each load.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasi_conform_suite::discover;
use wasi_conform_suite::load::{load_str, LoadError};

/// No load may hold more than this at once (the largest scenario the limits allow is
/// 64 MiB of guest data; the loader itself needs far less).
const ALLOCATION_BOUND: usize = 256 << 20;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters change.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const HUGE: &[&str] = &["4000000000", "4294967295", "18446744073709551615", "99999999999999999999", "-1", "0"];
const KEYS: &[&str] = &["times", "repeat", "file-size", "buf", "size", "len", "ptr", "one-of", "require", "tree"];

/// One mutation of `text`.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return String::new();
    }
    let k = rng.below(lines.len());
    match rng.below(8) {
        0 => {
            // every number on a line becomes a huge one
            let huge = HUGE[rng.below(HUGE.len())];
            let mut out = String::new();
            let mut in_number = false;
            for c in lines[k].chars() {
                if c.is_ascii_digit() {
                    if !in_number {
                        out.push_str(huge);
                    }
                    in_number = true;
                } else {
                    in_number = false;
                    out.push(c);
                }
            }
            lines[k] = out;
        }
        1 => {
            lines.remove(k);
        }
        2 => {
            let l = lines[k].clone();
            lines.insert(k, l);
        }
        3 => {
            let j = rng.below(lines.len());
            lines.swap(k, j);
        }
        4 => {
            let mut bytes = lines[k].clone().into_bytes();
            if !bytes.is_empty() {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
            lines[k] = String::from_utf8_lossy(&bytes).into_owned();
        }
        5 => {
            let indent: String = lines[k].chars().take_while(|c| *c == ' ').collect();
            let key = KEYS[rng.below(KEYS.len())];
            let value = HUGE[rng.below(HUGE.len())];
            lines.insert(k, format!("{indent}{key}: {{repeat: a, times: {value}}}"));
        }
        6 => {
            // a multi-byte character inside a value (the loader fuzz target's first finding:
            // a hex string cut in the middle of `é`)
            let wide = ["é", "€", "\u{FFFD}", "𝄞"][rng.below(4)];
            // half the time on a line with a hex value, where every byte is parsed by hand
            let hex: Vec<usize> = (0..lines.len()).filter(|i| lines[*i].contains("hex")).collect();
            let k = if !hex.is_empty() && rng.below(2) == 0 { hex[rng.below(hex.len())] } else { k };
            let boundaries: Vec<usize> = lines[k].char_indices().map(|(i, _)| i).chain([lines[k].len()]).collect();
            // on a hex line, inside the digits (after the opening quote and one digit)
            let at = match lines[k].find("hex: \"") {
                Some(q) if lines[k].len() > q + 7 => q + 7,
                _ => boundaries[rng.below(boundaries.len())],
            };
            lines[k].insert_str(at, wide);
        }
        _ => {
            let at = rng.below(lines[k].len() + 1);
            let cut = lines[k].char_indices().map(|(i, _)| i).find(|i| *i >= at).unwrap_or(lines[k].len());
            lines[k].truncate(cut);
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn mutated_suite_files_are_refused_with_a_location_and_bounded_memory() {
    let files = discover::scenario_files(&discover::suite_dir().join("scenarios")).expect("the scenario files");
    assert!(files.len() > 500);
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let (mut accepted, mut refused) = (0usize, 0usize);
    let mut problems = Vec::new();
    for round in 0..3 {
        for f in files.iter().step_by(if round == 0 { 1 } else { 3 }) {
            let text = std::fs::read_to_string(f).expect("a scenario file");
            let mutated = mutate(&text, &mut rng);
            let lines = mutated.lines().count().max(1) as u64 + 1;
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let loaded = std::panic::catch_unwind(|| load_str(&mutated, Path::new(f)).map(|_| ()));
            let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
            if peak > ALLOCATION_BOUND {
                problems.push(format!("{}: a mutation made the loader hold {peak} bytes", f.display()));
            }
            match loaded {
                Err(_) => problems.push(format!("{}: the loader panicked on:\n{mutated}", f.display())),
                Ok(Ok(())) => accepted += 1,
                Ok(Err(LoadError::Invalid { line, column, .. })) if line >= 1 && line <= lines && column >= 1 => {
                    refused += 1
                }
                Ok(Err(e)) => problems.push(format!("{}: refusal without a location in the file: {e}", f.display())),
            }
        }
    }
    eprintln!("{accepted} mutated files still load, {refused} refused with a location");
    assert!(refused > 100, "the mutations should break most files ({refused} refused)");
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// Every hex value of the suite with a multi-byte character put among its digits (the
/// loader fuzz target's first finding, a panic cutting `é` in two) is refused, located.
#[test]
fn a_multi_byte_character_in_any_hex_value_is_refused_with_a_location() {
    let files = discover::scenario_files(&discover::suite_dir().join("scenarios")).expect("the scenario files");
    let mut tried = 0usize;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("a scenario file");
        for (at, _) in text.match_indices("hex: \"") {
            for wide in ["é", "€", "\u{FFFD}", "𝄞"] {
                let mut mutated = text.clone();
                mutated.insert_str(at + 7, wide);
                let loaded = std::panic::catch_unwind(|| load_str(&mutated, Path::new(f)).map(|_| ()));
                match loaded {
                    Ok(Err(LoadError::Invalid { line, column, .. })) if line >= 1 && column >= 1 => tried += 1,
                    Ok(Err(e)) => panic!("{}: refusal without a location: {e}", f.display()),
                    Ok(Ok(())) => panic!("{}: accepted a hex value holding `{wide}`", f.display()),
                    Err(_) => panic!("{}: the loader panicked on `{wide}` in a hex value", f.display()),
                }
            }
        }
    }
    assert!(tried > 20, "only {tried} hex values tried");
}
