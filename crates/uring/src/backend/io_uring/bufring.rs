//! The ring-mapped provided-buffer ring (IORING_REGISTER_PBUF_RING): large pool buffers the
//! kernel picks from for multishot receives. `bid` names a slot of our table that says which
//! pool buffer is there.

use crate::core::buffers::{Buffers, LARGE};
use crate::error::SysError;
use ::io_uring::types::BufRingEntry;
use ::io_uring::IoUring;
use std::sync::atomic::{AtomicU16, Ordering};
use zerosock_pool::BufHandle;

/// Buffer group id of the engine's ring.
pub(crate) const BGID: u16 = 0;

/// A registered buffer ring plus the bid -> pool buffer table.
pub(crate) struct BufRing {
    base: *mut BufRingEntry,
    map_len: usize,
    entries: u16,
    tail: u16,
    /// bid -> the buffer the kernel may fill under that bid.
    table: Vec<Option<(BufHandle, *mut u8)>>,
    /// bids with no buffer (taken out by a receive, pool was empty).
    free_bids: Vec<u16>,
    buf_len: u32,
    /// Buffers pushed since the last time starved receives were re-armed.
    pub fresh: u32,
}

impl BufRing {
    /// Maps and registers a ring of `entries` (power of two, <= 32768) slots, all empty.
    pub fn register(ring: &IoUring, entries: u16, buf_len: u32) -> Result<Self, SysError> {
        let map_len = (entries as usize * std::mem::size_of::<BufRingEntry>()).max(4096);
        // SAFETY: anonymous private mapping; no existing memory is touched.
        let mem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mem == libc::MAP_FAILED {
            return Err(SysError::last("mmap"));
        }
        // SAFETY: `mem` is page aligned, zeroed, `entries` * 16 bytes long, and stays mapped
        // until `unregister` (called before the ring is dropped) and munmap in Drop.
        let rc = unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(mem as u64, entries, BGID, 0)
        };
        if let Err(e) = rc {
            // SAFETY: unmapping what we just mapped, never registered.
            unsafe { libc::munmap(mem, map_len) };
            return Err(SysError::new(
                e.raw_os_error().unwrap_or(libc::EINVAL),
                "io_uring_register",
            ));
        }
        Ok(BufRing {
            base: mem.cast(),
            map_len,
            entries,
            tail: 0,
            table: vec![None; entries as usize],
            free_bids: (0..entries).rev().collect(),
            buf_len,
            fresh: 0,
        })
    }

    /// Puts a buffer into the ring under `bid` (not yet visible: call [`publish`](Self::publish)).
    fn push(&mut self, bid: u16, h: BufHandle, ptr: *mut u8) {
        let idx = (self.tail & (self.entries - 1)) as usize;
        // SAFETY: `idx < entries`, inside the mapping; the kernel only reads slots between its
        // head and our published tail, and this one is past the tail.
        let entry = unsafe { &mut *self.base.add(idx) };
        entry.set_addr(ptr as u64);
        entry.set_len(self.buf_len);
        entry.set_bid(bid);
        self.table[bid as usize] = Some((h, ptr));
        self.tail = self.tail.wrapping_add(1);
        self.fresh += 1;
    }

    /// Makes pushed entries visible to the kernel (release store of the tail).
    pub fn publish(&mut self) {
        // SAFETY: the tail field lives in the first entry of our live, aligned mapping.
        let tail = unsafe { BufRingEntry::tail(self.base) } as *const AtomicU16;
        // SAFETY: `tail` is aligned and valid; the kernel reads it concurrently, hence atomic.
        unsafe { (*tail).store(self.tail, Ordering::Release) };
    }

    /// The kernel filled `bid`: takes its buffer out of the table (the bid stays reserved
    /// until [`recycle`](Self::recycle) or [`forget`](Self::forget)).
    pub fn take(&mut self, bid: u16) -> Option<(BufHandle, *mut u8)> {
        self.table.get_mut(bid as usize)?.take()
    }

    /// Puts the same buffer back under its bid (copy-break, or data we drop).
    pub fn recycle(&mut self, bid: u16, h: BufHandle, ptr: *mut u8) {
        self.push(bid, h, ptr);
    }

    /// The buffer of `bid` went to the user: the bid is free for a new pool buffer.
    pub fn forget(&mut self, bid: u16) {
        self.free_bids.push(bid);
    }

    /// Fills free bids with new large pool buffers; returns how many were added.
    pub fn refill(&mut self, bufs: &mut Buffers) -> usize {
        let mut added = 0;
        while let Some(&bid) = self.free_bids.last() {
            let Ok((h, ptr)) = bufs.acquire(LARGE) else {
                break;
            };
            self.free_bids.pop();
            self.push(bid, h, ptr);
            added += 1;
        }
        added
    }

    /// bids waiting for a buffer.
    pub fn empty_slots(&self) -> usize {
        self.free_bids.len()
    }

    /// Gives every buffer in the table back to the pool. Only call once the kernel can no
    /// longer write them (ring unregistered and no receive in flight).
    pub fn release_all(&mut self, bufs: &mut Buffers) {
        for slot in self.table.iter_mut() {
            if let Some((h, _)) = slot.take() {
                bufs.release(h);
            }
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: our mapping; the owner unregistered it (or the ring is gone) before this runs.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}
