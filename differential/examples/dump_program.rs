//! Prints generated program `I` of seed `S` as a scenario (YAML), to read what a fuzz
//! program does before minimising it.
//!
//!     cargo run --release -p wasi-conform-differential --example dump_program -- S I

use wasi_conform_differential::program::{self, GenConfig};
use wasi_conform_suite::save::{self, Form};

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let [seed, index] = args[..] else {
        eprintln!("usage: dump_program SEED INDEX");
        std::process::exit(2);
    };
    print!("{}", save::to_yaml(&program::seeded(seed, index, &GenConfig::default()), Form::Readable));
}
