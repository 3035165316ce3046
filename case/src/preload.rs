//! [`Preload`]: bytes an adapter writes into the guest's exported `memory` after the instance
//! is made and before `_start` runs — how a module compiled once (the differential fuzzer's
//! program interpreter, `wasi-conform-differential`'s `as_data`) is given a different program
//! on every run without a compile per program.
//!
//! A preload is exactly what active data segments at constant offsets would do, one step
//! later: the instance is made with the module's own (empty) memory, then each segment is
//! copied in. Nothing runs in between (the modules that take preloads have no start section
//! and no data segments), so the guest cannot tell the two apart.

/// Segments written into guest memory before `_start`: (address, bytes), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preload {
    pub segments: Vec<(u32, Vec<u8>)>,
}

/// A segment that does not fit in the guest's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadError {
    pub at: u32,
    pub len: usize,
    pub memory_len: usize,
}

impl std::fmt::Display for PreloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "preload segment of {} bytes at {} does not fit in {} bytes of memory",
            self.len, self.at, self.memory_len
        )
    }
}

impl std::error::Error for PreloadError {}

impl Preload {
    /// Copies every segment into `memory` (a guest's linear memory), or refuses before
    /// writing anything when one does not fit.
    pub fn write_into(&self, memory: &mut [u8]) -> Result<(), PreloadError> {
        for (at, bytes) in &self.segments {
            let end = (*at as usize).checked_add(bytes.len());
            if end.is_none_or(|e| e > memory.len()) {
                return Err(PreloadError { at: *at, len: bytes.len(), memory_len: memory.len() });
            }
        }
        for (at, bytes) in &self.segments {
            memory[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
        }
        Ok(())
    }

    /// The highest address any segment reaches (exclusive).
    pub fn end(&self) -> u64 {
        self.segments.iter().map(|(at, b)| *at as u64 + b.len() as u64).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_written_in_order_or_not_at_all() {
        let p = Preload { segments: vec![(1, vec![1, 2]), (2, vec![9])] };
        let mut m = vec![0u8; 4];
        p.write_into(&mut m).unwrap();
        assert_eq!(m, [0, 1, 9, 0]);
        let too_far = Preload { segments: vec![(0, vec![7]), (3, vec![1, 2])] };
        let mut m = vec![0u8; 4];
        assert_eq!(too_far.write_into(&mut m), Err(PreloadError { at: 3, len: 2, memory_len: 4 }));
        assert_eq!(m, [0; 4], "nothing is written when a segment does not fit");
        assert_eq!(too_far.end(), 5);
    }
}
