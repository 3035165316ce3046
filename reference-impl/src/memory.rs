//! Guest linear memory with the witx pointer rules: every access is bounds-checked, and a
//! pointer to a value must be aligned to that value's alignment; a violation is a [`Trap`]
//! (witx-docs.md: "pointers must be aligned ... out-of-bounds ... must trap, not
//! `errno::fault`").

use wasi_conform_abi::layout::{self, iovec, Shape};

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

    /// Checks that a record or value of `shape` fits at `ptr` (before writing it).
    pub fn check_shape(&self, ptr: u32, shape: Shape) -> Result<(), Trap> {
        self.check(ptr, shape.size, shape.align)
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
    /// aligned and in bounds.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<(u32, u32)>, Trap> {
        let (size, (_, buf, _), (_, buf_len, _)) = (layout::IOVEC.size, iovec::BUF, iovec::BUF_LEN);
        Self::aligned(ptr, layout::IOVEC.align)?;
        let bytes = count.checked_mul(size).ok_or_else(|| oob(ptr, count as u64 * size as u64))?;
        self.slice(ptr, bytes)?;
        (0..count)
            .map(|i| Ok((self.read_u32(ptr + size * i + buf)?, self.read_u32(ptr + size * i + buf_len)?)))
            .collect()
    }

    /// Copies `data` into the iovec buffers in order (as `readv`); returns the bytes copied.
    pub fn scatter(&mut self, iov: &[(u32, u32)], data: &[u8]) -> Result<u32, Trap> {
        let mut done = 0usize;
        for (ptr, len) in iov {
            let dst = self.slice_mut(*ptr, *len)?;
            let n = (*len as usize).min(data.len() - done);
            dst[..n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(done as u32)
    }

    /// Concatenates the ciovec buffers (as `writev`).
    pub fn gather(&self, iov: &[(u32, u32)]) -> Result<Vec<u8>, Trap> {
        let mut out = Vec::new();
        for (ptr, len) in iov {
            out.extend_from_slice(self.slice(*ptr, *len)?);
        }
        Ok(out)
    }
}
