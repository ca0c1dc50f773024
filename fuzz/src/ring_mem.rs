//! Memory for a ring under test, playing the part of a hostile peer: a heap block the ring is
//! attached to, written through raw pointers only (the ring holds a raw pointer into it too).

use std::sync::atomic::{AtomicU32, Ordering};
use zerosock_ring::layout;

/// An 8-aligned heap block of `len` bytes (valgrind sees its exact bounds: a read past the
/// end is reported, not hidden by an oversized allocation).
pub struct RingMem {
    base: *mut u8,
    len: usize,
    words: usize,
}

impl RingMem {
    /// `len` zeroed bytes (rounded up to whole `u64`s internally; only `len` are handed out).
    pub fn new(len: usize) -> RingMem {
        let words = len.div_ceil(8).max(1);
        let block: Box<[u64]> = vec![0u64; words].into_boxed_slice();
        RingMem {
            base: Box::into_raw(block).cast::<u8>(),
            len,
            words,
        }
    }

    /// Start of the block (8-aligned).
    pub fn ptr(&self) -> *mut u8 {
        self.base
    }

    /// Usable length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block has no usable bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `bytes` to the start of the block (truncated to its length).
    pub fn fill(&self, bytes: &[u8]) {
        let n = bytes.len().min(self.len);
        // SAFETY: `n <= len` bytes from `base`, which we own; no reference into the block
        // exists (the ring only holds a raw pointer and is not inside a call).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base, n) };
    }

    /// Stores a header word atomically, as a JS peer's `Atomics.store` would.
    ///
    /// # Panics
    /// If `off` is not a 4-aligned offset inside the header.
    pub fn store_header(&self, off: usize, value: u32) {
        assert!(off.is_multiple_of(4) && off + 4 <= layout::HEADER_LEN.min(self.len));
        // SAFETY: 4-aligned (base is 8-aligned, off a multiple of 4) and inside the block;
        // header words are only ever accessed atomically, by the ring and by us.
        let word = unsafe { AtomicU32::from_ptr(self.base.add(off).cast::<u32>()) };
        word.store(value, Ordering::SeqCst);
    }

    /// Loads a header word atomically.
    ///
    /// # Panics
    /// If `off` is not a 4-aligned offset inside the header.
    pub fn load_header(&self, off: usize) -> u32 {
        assert!(off.is_multiple_of(4) && off + 4 <= layout::HEADER_LEN.min(self.len));
        // SAFETY: as in `store_header`.
        let word = unsafe { AtomicU32::from_ptr(self.base.add(off).cast::<u32>()) };
        word.load(Ordering::SeqCst)
    }

    /// Writes 4 bytes of the data area at data offset `off` (clamped into the block), like a
    /// peer scribbling over length words. Call only between ring operations.
    pub fn scribble_data(&self, off: usize, value: u32) {
        let start = layout::HEADER_LEN + off;
        if start + 4 > self.len {
            return;
        }
        // SAFETY: `start + 4 <= len`; no reference into the data area is alive between ring
        // calls (slices lent by pop/peek/reserve end with the call or the guard).
        unsafe { std::ptr::write_unaligned(self.base.add(start).cast::<u32>(), value) };
    }
}

impl Drop for RingMem {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.base.cast::<u64>(), self.words);
        // SAFETY: made by `Box::into_raw` of a boxed slice of `words` u64s in `new`, freed once.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Header offsets a peer may write, and a few it may not.
pub const HEADER_TARGETS: [usize; 8] = [
    layout::OFF_HEAD,
    layout::OFF_TAIL,
    layout::OFF_CONSUMER_WAITING,
    layout::OFF_MAGIC,
    layout::OFF_VERSION,
    layout::OFF_KIND,
    layout::OFF_CAPACITY,
    layout::OFF_RECORD_SIZE,
];
