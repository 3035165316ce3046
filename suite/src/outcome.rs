//! [`Outcome`]: what a runtime adapter reports after a run. The types live in
//! `wasi-conform-case` (they cross every boundary); this module keeps their old path.

pub use wasi_conform_case::outcome::*;
