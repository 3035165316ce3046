//! [`TestCase`]: what a runtime adapter is given. The types live in `wasi-conform-case`
//! (they cross every boundary); this module keeps their old path for the suite's users.

pub use wasi_conform_case::test_case::*;
