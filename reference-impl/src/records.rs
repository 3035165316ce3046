//! The records the reference writes into guest memory (`fdstat`, `filestat`, `prestat`,
//! `dirent` headers, `event`s) and the one it reads (`subscription`), encoded field by
//! field from the layout tables of `wasi_conform_abi::layout`, so that no offset is written
//! twice. Padding is zero. The functions that use them are in `wasi.rs`; pointer rules are
//! in `memory.rs`.

use wasi_conform_abi::layout::{
    self, dirent, event, fdstat, filestat, prestat, subscription, subscription_clock, subscription_fd_readwrite, Field,
    Shape,
};
use wasi_conform_abi::types::{eventtype, preopentype};
use wasi_conform_abi::Errno;

use crate::fault::Trap;
use crate::memory::Memory;

/// A record of `N` bytes being encoded; starts as zeros.
struct Record<const N: usize>([u8; N]);

impl<const N: usize> Record<N> {
    fn new() -> Self {
        Record([0; N])
    }

    /// Sets `field` to the low `size` bytes of `value`, little-endian.
    fn set(mut self, (_, offset, size): Field, value: u64) -> Self {
        let (at, size) = (offset as usize, size as usize);
        self.0[at..at + size].copy_from_slice(&value.to_le_bytes()[..size]);
        self
    }

    /// Writes the record at `ptr`, which must suit `shape` (bounds and alignment).
    fn store(self, m: &mut Memory, ptr: u32, shape: Shape) -> Result<(), Trap> {
        m.check_shape(ptr, shape)?;
        m.write_bytes(ptr, &self.0)
    }
}

/// Reads `field` of the record at `ptr`.
fn get(m: &Memory, ptr: u32, (_, offset, size): Field) -> Result<u64, Trap> {
    let mut bytes = [0; 8];
    bytes[..size as usize].copy_from_slice(m.slice(ptr + offset, size)?);
    Ok(u64::from_le_bytes(bytes))
}

const FDSTAT_SIZE: usize = layout::FDSTAT.size as usize;
const FILESTAT_SIZE: usize = layout::FILESTAT.size as usize;
const PRESTAT_SIZE: usize = layout::PRESTAT.size as usize;
const DIRENT_SIZE: usize = layout::DIRENT.size as usize;
const EVENT_SIZE: usize = layout::EVENT.size as usize;

/// `fdstat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fdstat {
    pub filetype: u8,
    pub flags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
}

impl Fdstat {
    pub fn write(&self, m: &mut Memory, ptr: u32) -> Result<(), Trap> {
        Record::<FDSTAT_SIZE>::new()
            .set(fdstat::FILETYPE, self.filetype.into())
            .set(fdstat::FLAGS, self.flags.into())
            .set(fdstat::RIGHTS_BASE, self.rights_base)
            .set(fdstat::RIGHTS_INHERITING, self.rights_inheriting)
            .store(m, ptr, layout::FDSTAT)
    }
}

/// `filestat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

impl Filestat {
    pub fn write(&self, m: &mut Memory, ptr: u32) -> Result<(), Trap> {
        Record::<FILESTAT_SIZE>::new()
            .set(filestat::DEV, self.dev)
            .set(filestat::INO, self.ino)
            .set(filestat::FILETYPE, self.filetype.into())
            .set(filestat::NLINK, self.nlink)
            .set(filestat::SIZE, self.size)
            .set(filestat::ATIM, self.atim)
            .set(filestat::MTIM, self.mtim)
            .set(filestat::CTIM, self.ctim)
            .store(m, ptr, layout::FILESTAT)
    }
}

/// `prestat` of a preopened directory (`preopentype::dir`, the only arm).
pub fn write_prestat_dir(m: &mut Memory, ptr: u32, name_len: u32) -> Result<(), Trap> {
    Record::<PRESTAT_SIZE>::new()
        .set(prestat::TAG, preopentype::DIR.into())
        .set(prestat::NAME_LEN, name_len.into())
        .store(m, ptr, layout::PRESTAT)
}

/// A `dirent` header followed by the name, as `fd_readdir` packs it into its buffer.
pub fn dirent(next: u64, ino: u64, filetype: u8, name: &[u8]) -> Vec<u8> {
    let header = Record::<DIRENT_SIZE>::new()
        .set(dirent::NEXT, next)
        .set(dirent::INO, ino)
        .set(dirent::NAMLEN, name.len() as u64)
        .set(dirent::TYPE, filetype.into());
    [&header.0[..], name].concat()
}

/// An `event`, with `event_fd_readwrite::flags` zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub userdata: u64,
    pub error: Errno,
    /// `eventtype`.
    pub ty: u8,
    pub nbytes: u64,
}

impl Event {
    /// Writes the event at index `i` of the array at `events`.
    pub fn write(&self, m: &mut Memory, events: u32, i: u32) -> Result<(), Trap> {
        Record::<EVENT_SIZE>::new()
            .set(event::USERDATA, self.userdata)
            .set(event::ERROR, self.error.raw().into())
            .set(event::TYPE, self.ty.into())
            .set(event::NBYTES, self.nbytes)
            .store(m, events + layout::EVENT.size * i, layout::EVENT)
    }
}

/// A `subscription`, as far as the reference reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub userdata: u64,
    pub kind: SubscriptionKind,
}

/// The union arm of a [`Subscription`], chosen by its `eventtype` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// `subscription_clock` (its `precision` is a hint and is not read).
    Clock { id: u32, timeout: u64, flags: u16 },
    /// `subscription_fd_readwrite`; `tag` is `eventtype::fd_read` or `fd_write`.
    FdReadwrite { tag: u8, fd: u32 },
    /// A tag that is no `eventtype`.
    Unknown,
}

impl Subscription {
    /// Reads the subscription at index `i` of the array at `subscriptions`.
    pub fn read(m: &Memory, subscriptions: u32, i: u32) -> Result<Subscription, Trap> {
        let s = subscriptions + layout::SUBSCRIPTION.size * i;
        let userdata = get(m, s, subscription::USERDATA)?;
        let tag = get(m, s, subscription::TAG)? as u8;
        let kind = match tag {
            eventtype::CLOCK => SubscriptionKind::Clock {
                id: get(m, s, subscription_clock::ID)? as u32,
                timeout: get(m, s, subscription_clock::TIMEOUT)?,
                flags: get(m, s, subscription_clock::FLAGS)? as u16,
            },
            eventtype::FD_READ | eventtype::FD_WRITE => {
                SubscriptionKind::FdReadwrite { tag, fd: get(m, s, subscription_fd_readwrite::FILE_DESCRIPTOR)? as u32 }
            }
            _ => SubscriptionKind::Unknown,
        };
        Ok(Subscription { userdata, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_wasi_libc_bytes() {
        let mut mem = vec![0xAA; 128];
        let mut m = Memory::new(&mut mem);
        Fdstat { filetype: 4, flags: 1, rights_base: 0x42, rights_inheriting: 7 }.write(&mut m, 8).unwrap();
        let mut want = vec![4, 0, 1, 0, 0, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(m.slice(8, 24).unwrap(), want);
        assert!(Fdstat::default().write(&mut m, 4).is_err(), "misaligned");
        write_prestat_dir(&mut m, 64, 9).unwrap();
        assert_eq!(m.slice(64, 8).unwrap(), [0, 0, 0, 0, 9, 0, 0, 0]);
        want = [&[2, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0][..], b"ab"].concat();
        assert_eq!(dirent(2, 5, 3, b"ab"), want);
    }

    #[test]
    fn subscriptions_are_read_by_their_tag() {
        let mut mem = vec![0; 96];
        mem[..8].copy_from_slice(&7u64.to_le_bytes());
        mem[16] = 1;
        mem[24..32].copy_from_slice(&1000u64.to_le_bytes());
        mem[40] = 1;
        mem[48] = 9;
        mem[56] = 2;
        mem[64] = 4;
        let m = Memory::new(&mut mem);
        let clock = SubscriptionKind::Clock { id: 1, timeout: 1000, flags: 1 };
        assert_eq!(Subscription::read(&m, 0, 0), Ok(Subscription { userdata: 7, kind: clock }));
        let fd = SubscriptionKind::FdReadwrite { tag: 2, fd: 4 };
        assert_eq!(Subscription::read(&m, 0, 1), Ok(Subscription { userdata: 9, kind: fd }));
    }
}
