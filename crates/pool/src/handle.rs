//! [`BufHandle`]: a pool buffer's name (class, index, generation) packed in a `u64`.

use std::fmt;

/// Bits of the buffer index inside its class.
pub(crate) const INDEX_BITS: u32 = 24;
/// Bits of the size-class number.
pub(crate) const CLASS_BITS: u32 = 8;
/// Largest number of buffers a class can ever have (indices `0..MAX_BUFFERS_PER_CLASS`).
pub const MAX_BUFFERS_PER_CLASS: u32 = 1 << INDEX_BITS;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const CLASS_MASK: u64 = (1 << CLASS_BITS) - 1;
const GEN_SHIFT: u32 = INDEX_BITS + CLASS_BITS;

/// Names one acquisition of one pool buffer.
///
/// Layout of [`to_u64`](Self::to_u64) (stable, may be stored in io_uring
/// `user_data` or shared memory): bits 0..24 index, 24..32 class, 32..64
/// generation. Generations start at 1 and skip 0 on wrap-around, so a valid
/// handle is never `0`.
///
/// Every release bumps the buffer's generation, so a handle kept after its
/// release is *stale*: the pool rejects it with
/// [`PoolError::BufferReleased`](crate::PoolError::BufferReleased) instead of
/// touching the buffer's next user.
#[derive(Copy, Clone, Eq, PartialEq, Hash)]
pub struct BufHandle(u64);

impl BufHandle {
    /// Packs the three parts (the index is truncated to 24 bits, the class to 8).
    pub const fn new(class: usize, index: u32, generation: u32) -> BufHandle {
        BufHandle(
            (index as u64 & INDEX_MASK)
                | ((class as u64 & CLASS_MASK) << INDEX_BITS)
                | ((generation as u64) << GEN_SHIFT),
        )
    }

    /// The packed form. `from_u64(h.to_u64()) == h`.
    pub const fn to_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds a handle from its packed form. Any value is accepted here;
    /// the pool validates class, index and generation on every use.
    pub const fn from_u64(raw: u64) -> BufHandle {
        BufHandle(raw)
    }

    /// The size class (index into [`PoolConfig::classes`](crate::PoolConfig::classes)).
    pub const fn class(self) -> usize {
        ((self.0 >> INDEX_BITS) & CLASS_MASK) as usize
    }

    /// The buffer's index inside its class.
    pub const fn index(self) -> u32 {
        (self.0 & INDEX_MASK) as u32
    }

    /// The generation this handle was issued with.
    pub const fn generation(self) -> u32 {
        (self.0 >> GEN_SHIFT) as u32
    }
}

impl fmt::Debug for BufHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufHandle")
            .field("class", &self.class())
            .field("index", &self.index())
            .field("generation", &self.generation())
            .finish()
    }
}

/// The generation that follows `generation` (skips 0).
pub(crate) const fn next_generation(generation: u32) -> u32 {
    match generation.wrapping_add(1) {
        0 => 1,
        g => g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let h = BufHandle::new(3, 0x00AB_CDEF, 0xDEAD_BEEF);
        assert_eq!(h.class(), 3);
        assert_eq!(h.index(), 0x00AB_CDEF);
        assert_eq!(h.generation(), 0xDEAD_BEEF);
        assert_eq!(BufHandle::from_u64(h.to_u64()), h);
        assert_eq!(h.to_u64(), 0xDEAD_BEEF_03AB_CDEF);
    }

    #[test]
    fn generation_skips_zero() {
        assert_eq!(next_generation(1), 2);
        assert_eq!(next_generation(u32::MAX), 1);
    }
}
