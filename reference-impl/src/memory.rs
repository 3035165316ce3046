//! Guest linear memory with the witx pointer rules: every access is bounds-checked, and a
//! pointer to a value must be aligned to that value's alignment; a violation is a [`Trap`]
//! (witx-docs.md: "pointers must be aligned ... out-of-bounds ... must trap, not
//! `errno::fault`").

use crate::fault::Trap;

/// A borrowed view of the guest's memory.
pub struct Memory<'a> {
    bytes: &'a mut [u8],
}

fn oob(ptr: u32, len: u64) -> Trap {
    Trap(format!("out-of-bounds guest pointer {ptr:#x} (+{len})"))
}

impl<'a> Memory<'a> {
    pub fn new(bytes: &'a mut [u8]) -> Self {
        Memory { bytes }
    }

    /// `len` bytes at `ptr`.
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Trap> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or_else(|| oob(ptr, len as u64))?;
        self.bytes.get(start..end).ok_or_else(|| oob(ptr, len as u64))
    }

    /// `len` writable bytes at `ptr`.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Trap> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or_else(|| oob(ptr, len as u64))?;
        self.bytes.get_mut(start..end).ok_or_else(|| oob(ptr, len as u64))
    }

    fn aligned(ptr: u32, align: u32) -> Result<(), Trap> {
        if ptr.is_multiple_of(align) {
            Ok(())
        } else {
            Err(Trap(format!("misaligned guest pointer {ptr:#x} (alignment {align})")))
        }
    }

    /// Checks that a `size`-byte record with `align` fits at `ptr` (before writing it).
    pub fn check(&self, ptr: u32, size: u32, align: u32) -> Result<(), Trap> {
        Self::aligned(ptr, align)?;
        self.slice(ptr, size).map(|_| ())
    }

    pub fn read_u8(&self, ptr: u32) -> Result<u8, Trap> {
        Ok(self.slice(ptr, 1)?[0])
    }
    pub fn read_u16(&self, ptr: u32) -> Result<u16, Trap> {
        Self::aligned(ptr, 2)?;
        Ok(u16::from_le_bytes(self.slice(ptr, 2)?.try_into().expect("2 bytes")))
    }
    pub fn read_u32(&self, ptr: u32) -> Result<u32, Trap> {
        Self::aligned(ptr, 4)?;
        Ok(u32::from_le_bytes(self.slice(ptr, 4)?.try_into().expect("4 bytes")))
    }
    pub fn read_u64(&self, ptr: u32) -> Result<u64, Trap> {
        Self::aligned(ptr, 8)?;
        Ok(u64::from_le_bytes(self.slice(ptr, 8)?.try_into().expect("8 bytes")))
    }
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Trap> {
        self.slice_mut(ptr, 1)?[0] = v;
        Ok(())
    }
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Trap> {
        Self::aligned(ptr, 2)?;
        self.slice_mut(ptr, 2)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Trap> {
        Self::aligned(ptr, 4)?;
        self.slice_mut(ptr, 4)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Trap> {
        Self::aligned(ptr, 8)?;
        self.slice_mut(ptr, 8)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Trap> {
        self.slice_mut(ptr, data.len() as u32)?.copy_from_slice(data);
        Ok(())
    }

    /// An `iovec_array`/`ciovec_array`: (buf, buf_len) pairs; the array itself must be
    /// 4-aligned and in bounds.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<(u32, u32)>, Trap> {
        Self::aligned(ptr, 4)?;
        let bytes = count.checked_mul(8).ok_or_else(|| oob(ptr, count as u64 * 8))?;
        self.slice(ptr, bytes)?;
        (0..count).map(|i| Ok((self.read_u32(ptr + 8 * i)?, self.read_u32(ptr + 8 * i + 4)?))).collect()
    }
}
