//! Per-buffer state word: generation, state and owner in one atomic `u64`.
//!
//! Bits 0..32 generation, 32..56 owner id (0 = no owner ring), 56..63 state,
//! bit 63 the hand-off flag (an in-use buffer handed to another thread and
//! not yet claimed, see `handoff.rs`).
//! A release is one compare-and-swap `InUse(gen, owner) -> Free(gen + 1)`,
//! so of two racing releases of the same handle exactly one wins.

use crate::handle::next_generation;

const GEN_MASK: u64 = 0xFFFF_FFFF;
const OWNER_SHIFT: u32 = 32;
const OWNER_MASK: u64 = 0x00FF_FFFF;
const STATE_SHIFT: u32 = 56;
const STATE_MASK: u64 = 0x7F;
const HANDED_OFF: u64 = 1 << 63;
const STATE_FREE: u64 = 0;
const STATE_IN_USE: u64 = 1;

/// A decoded state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta(pub u64);

impl Meta {
    /// A free buffer that will be handed out next with `generation`.
    pub(crate) const fn free(generation: u32) -> Meta {
        Meta(generation as u64 | (STATE_FREE << STATE_SHIFT))
    }

    /// The buffer handed out as `generation` by owner `owner` (0 = none).
    pub(crate) const fn in_use(generation: u32, owner: u32) -> Meta {
        Meta(
            generation as u64
                | ((owner as u64 & OWNER_MASK) << OWNER_SHIFT)
                | (STATE_IN_USE << STATE_SHIFT),
        )
    }

    pub(crate) const fn generation(self) -> u32 {
        (self.0 & GEN_MASK) as u32
    }

    pub(crate) const fn owner(self) -> u32 {
        ((self.0 >> OWNER_SHIFT) & OWNER_MASK) as u32
    }

    pub(crate) const fn is_in_use(self) -> bool {
        (self.0 >> STATE_SHIFT) & STATE_MASK == STATE_IN_USE
    }

    /// Whether this in-use word carries the hand-off flag.
    pub(crate) const fn is_handed_off(self) -> bool {
        self.0 & HANDED_OFF != 0
    }

    /// The same word with the hand-off flag set or cleared.
    pub(crate) const fn with_handed_off(self, on: bool) -> Meta {
        if on {
            Meta(self.0 | HANDED_OFF)
        } else {
            Meta(self.0 & !HANDED_OFF)
        }
    }

    /// The word after releasing this in-use word: free, next generation.
    pub(crate) const fn released(self) -> Meta {
        Meta::free(next_generation(self.generation()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let m = Meta::in_use(0xFFFF_FFFF, 0x00AB_CDEF);
        assert!(m.is_in_use());
        assert_eq!(m.generation(), 0xFFFF_FFFF);
        assert_eq!(m.owner(), 0x00AB_CDEF);
        let f = m.released();
        assert!(!f.is_in_use());
        assert_eq!(f.generation(), 1);
        assert_eq!(f.owner(), 0);
    }

    #[test]
    fn hand_off_flag_keeps_the_rest() {
        let m = Meta::in_use(7, 1023);
        let h = m.with_handed_off(true);
        assert!(h.is_in_use() && h.is_handed_off());
        assert_eq!((h.generation(), h.owner()), (7, 1023));
        assert_eq!(h.with_handed_off(false), m);
        assert!(!h.released().is_handed_off());
        assert!(!h.released().is_in_use());
    }
}
