//! The region as raw memory: a Rust allocation or memory given from outside.

use super::check_bounds;
use crate::layout::{DATA_OFFSET, HEADER_LEN, OFF_CONSUMER_WAITING, OFF_HEAD, OFF_TAIL};
use crate::sync::AtomicU32;
use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Alignment of Rust-owned regions: head and tail on separate cache lines.
const OWNED_ALIGN: usize = 128;

/// One ring region: `HEADER_LEN + capacity` bytes starting at `base`.
pub(crate) struct Region {
    base: NonNull<u8>,
    capacity: u32,
    /// `Some(layout)` when the region was allocated here and is freed on drop.
    owned: Option<Layout>,
}

// SAFETY: the region is plain memory; the header is only accessed through atomics
// and the data area only under the SPSC protocol (each byte range is owned by
// exactly one side at a time, handed over with Release/Acquire on head/tail).
unsafe impl Send for Region {}
// SAFETY: see `Send`; shared access goes through atomics or protocol-owned ranges.
unsafe impl Sync for Region {}

impl Region {
    /// Allocates a zeroed region for `capacity` data bytes (capacity already validated).
    pub(crate) fn allocate(capacity: u32) -> Region {
        let layout = Layout::from_size_align(HEADER_LEN + capacity as usize, OWNED_ALIGN)
            .expect("ring region layout");
        // SAFETY: `layout` has a non-zero size (HEADER_LEN > 0).
        let ptr = unsafe { alloc_zeroed(layout) };
        let Some(base) = NonNull::new(ptr) else {
            handle_alloc_error(layout)
        };
        Region {
            base,
            capacity,
            owned: Some(layout),
        }
    }

    /// Wraps memory given from outside without taking ownership.
    ///
    /// # Safety
    /// `base` is non-null, 4-aligned and valid for reads and writes of
    /// `HEADER_LEN + capacity` bytes for as long as the returned `Region` lives.
    pub(crate) unsafe fn external(base: NonNull<u8>, capacity: u32) -> Region {
        Region {
            base,
            capacity,
            owned: None,
        }
    }

    /// Start of the region (the header).
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Data capacity in bytes.
    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The header word at byte offset `off` (4-aligned, inside the header).
    pub(crate) fn header_word(&self, off: usize) -> &AtomicU32 {
        assert!(
            off.is_multiple_of(4) && off < HEADER_LEN,
            "bad header offset {off}"
        );
        // The header is only ever accessed atomically (by us and by the JS side).
        // SAFETY: `off` is 4-aligned and inside the header, within the 4-aligned region;
        // AtomicU32 has u32's size and alignment; the reference lives no longer than `self`.
        unsafe { &*self.base.as_ptr().add(off).cast::<AtomicU32>() }
    }

    /// The consumer position.
    pub(crate) fn head(&self) -> &AtomicU32 {
        self.header_word(OFF_HEAD)
    }

    /// The producer position.
    pub(crate) fn tail(&self) -> &AtomicU32 {
        self.header_word(OFF_TAIL)
    }

    /// The consumer-waiting flag.
    pub(crate) fn consumer_waiting(&self) -> &AtomicU32 {
        self.header_word(OFF_CONSUMER_WAITING)
    }

    /// Pointer to data offset `off` after checking `off..off + len` is in bounds.
    fn data_ptr(&self, off: u32, len: usize) -> *mut u8 {
        check_bounds(self.capacity, off, len);
        // SAFETY: `DATA_OFFSET + off + len <= HEADER_LEN + capacity`, inside the region.
        unsafe { self.base.as_ptr().add(DATA_OFFSET + off as usize) }
    }

    /// Reads the `u32` at data offset `off`.
    ///
    /// # Safety
    /// The caller owns `off..off + 4` under the ring protocol (no concurrent writer).
    pub(crate) unsafe fn read_u32(&self, off: u32) -> u32 {
        let p = self.data_ptr(off, 4);
        // SAFETY: in bounds (checked); no concurrent writer per the caller's contract.
        unsafe { p.cast::<u32>().read_unaligned() }
    }

    /// Writes `v` at data offset `off`.
    ///
    /// # Safety
    /// The caller owns `off..off + 4` under the ring protocol (no concurrent access).
    pub(crate) unsafe fn write_u32(&self, off: u32, v: u32) {
        let p = self.data_ptr(off, 4);
        // SAFETY: in bounds (checked); no concurrent access per the caller's contract.
        unsafe { p.cast::<u32>().write_unaligned(v) }
    }

    /// Copies `src` to data offset `off`.
    ///
    /// # Safety
    /// The caller owns `off..off + src.len()` under the ring protocol.
    pub(crate) unsafe fn write_bytes(&self, off: u32, src: &[u8]) {
        let p = self.data_ptr(off, src.len());
        // SAFETY: destination in bounds (checked) and not accessed concurrently per
        // the caller's contract; `src` is a Rust slice, so it cannot overlap
        // memory the caller owns exclusively.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) }
    }

    /// Shared view of data bytes `off..off + len`.
    ///
    /// # Safety
    /// No one writes `off..off + len` while the returned slice lives.
    pub(crate) unsafe fn bytes(&self, off: u32, len: usize) -> DataRef<'_> {
        let p = self.data_ptr(off, len);
        // SAFETY: in bounds (checked), initialised (owned regions are zeroed, external
        // ones are plain shared memory), and not written meanwhile per the contract.
        DataRef(unsafe { std::slice::from_raw_parts(p, len) })
    }

    /// Exclusive view of data bytes `off..off + len`.
    ///
    /// # Safety
    /// No one else reads or writes `off..off + len` while the returned slice lives.
    pub(crate) unsafe fn bytes_mut(&self, off: u32, len: usize) -> DataMut<'_> {
        let p = self.data_ptr(off, len);
        // SAFETY: in bounds (checked) and exclusively owned per the contract.
        DataMut(unsafe { std::slice::from_raw_parts_mut(p, len) })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Some(layout) = self.owned {
            // SAFETY: allocated in `allocate` with exactly this layout; the halves
            // sharing the region hold it through an `Arc`, so this is the last use.
            unsafe { dealloc(self.base.as_ptr(), layout) }
        }
    }
}

/// Shared view of ring data (same interface as the loom model's copy).
pub(crate) struct DataRef<'a>(&'a [u8]);

impl Deref for DataRef<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0
    }
}

/// Exclusive view of ring data (same interface as the loom model's copy).
pub(crate) struct DataMut<'a>(&'a mut [u8]);

impl Deref for DataMut<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0
    }
}

impl DerefMut for DataMut<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0
    }
}

impl DataMut<'_> {
    /// Ends the write (the loom model copies back here); call before publishing.
    pub(crate) fn finish(self) {}
}
