//! A compile-once cache for in-process adapters: compiled modules by (scenario id, module
//! hash), so a scenario run on every round compiles once, and a bound so that a fuzzing run
//! (every program a new module) does not grow without limit.
//!
//! The bound is [`CAPACITY`] entries; when it is reached the cache is emptied and starts
//! again. The built-in suite (some 700 scenarios) never reaches it; a fuzzer loses only
//! modules it will not run again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use wasi_conform_case::test_case::TestCase;

/// Entries kept at most.
pub const CAPACITY: usize = 2048;

/// Compiled modules (of any engine's type `V`) by case.
pub struct CompileCache<V> {
    entries: Mutex<HashMap<(String, u64), V>>,
}

impl<V> Default for CompileCache<V> {
    fn default() -> Self {
        CompileCache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> CompileCache<V> {
    /// The compiled module of `case`, compiling it with `compile` on first use (an error
    /// is the engine's, and is not cached).
    pub fn get_or_compile<E>(&self, case: &TestCase, compile: impl FnOnce(&[u8]) -> Result<V, E>) -> Result<V, E> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        case.module.hash(&mut h);
        let key = (case.id.clone(), h.finish());
        if let Some(v) = self.lock().get(&key) {
            return Ok(v.clone());
        }
        // Compiled outside the lock: other runs go on meanwhile.
        let v = compile(case.module.as_slice())?;
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, v.clone());
        Ok(v)
    }

    /// How many modules are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), V>> {
        // A panic while holding the lock leaves a consistent map: keep using it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wasi_conform_case::fixture::Fixture;
    use wasi_conform_case::test_case::Limits;

    use super::*;

    fn case(id: &str, module: &[u8]) -> TestCase {
        let module = Arc::new(module.to_vec());
        TestCase {
            id: id.into(),
            module: module.clone(),
            module_stderr_trace: module,
            fixture: Fixture::default(),
            capture_len: 0,
            limits: Limits::default(),
        }
    }

    #[test]
    fn compiles_once_per_id_and_module() {
        let cache = CompileCache::default();
        let mut compiled = 0;
        for (id, bytes) in [("a", b"1"), ("a", b"1"), ("a", b"2"), ("b", b"1")] {
            cache
                .get_or_compile(&case(id, bytes), |m| {
                    compiled += 1;
                    Ok::<_, ()>(m.to_vec())
                })
                .unwrap();
        }
        assert_eq!(compiled, 3);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn errors_are_not_cached_and_the_bound_holds() {
        let cache: CompileCache<u32> = CompileCache::default();
        assert!(cache.get_or_compile(&case("x", b""), |_| Err("bad")).is_err());
        assert!(cache.is_empty());
        for i in 0..CAPACITY + 10 {
            cache.get_or_compile(&case(&format!("p{i}"), b"m"), |_| Ok::<_, ()>(1)).unwrap();
        }
        assert!(cache.len() <= CAPACITY);
        assert_eq!(cache.len(), 10);
    }
}
