//! Handing an in-use buffer to another thread with exactly-once pickup:
//! [`Pool::hand_off`] flags it, [`Pool::claim`] takes the flag off again.
//!
//! The flag lives in the buffer's state word, so it is cleared by every
//! release and never set on a free buffer. A receiver that claims before
//! using a handle it got from elsewhere (e.g. a token posted to a JS worker)
//! can only get buffers their holder really handed off — not, say, a buffer
//! the owner keeps in a cache of its own that a guessed handle happens to
//! name — and of two receivers of the same handle only one succeeds.

use crate::meta::Meta;
use crate::{BufHandle, Pool, PoolError};
use std::sync::atomic::Ordering::{AcqRel, Acquire};

/// What a compare-and-swap of an in-use word should do.
enum Flag {
    Set,
    Take,
}

impl Pool {
    /// Marks in-use buffer `h` as handed off: the next [`claim`](Self::claim)
    /// of `h` (from any thread) succeeds. Idempotent until claimed. The holder
    /// can still release `h`, which cancels the hand-off.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` if `h` is not in use under its
    /// generation, `ERR_ZEROSOCK_BAD_BUFFER` if it names no buffer.
    pub fn hand_off(&self, h: BufHandle) -> Result<(), PoolError> {
        self.swap_flag(h, Flag::Set)
    }

    /// Takes a handed-off buffer: succeeds for exactly one caller per
    /// [`hand_off`](Self::hand_off); the claimer then holds `h` (and releases
    /// it as usual, which is a deferred free when it does not own it).
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` if `h` is not in use under its
    /// generation or was not handed off (never, or already claimed),
    /// `ERR_ZEROSOCK_BAD_BUFFER` if it names no buffer.
    pub fn claim(&self, h: BufHandle) -> Result<(), PoolError> {
        self.swap_flag(h, Flag::Take)
    }

    fn swap_flag(&self, h: BufHandle, flag: Flag) -> Result<(), PoolError> {
        let class = self
            .inner
            .classes
            .get(h.class())
            .ok_or(PoolError::BadBuffer {
                reason: "unknown size class",
            })?;
        let word = class.meta(h.index()).ok_or(PoolError::BadBuffer {
            reason: "buffer index beyond the mapped buffers of its class",
        })?;
        let mut cur = word.load(Acquire);
        loop {
            let m = Meta(cur);
            if !m.is_in_use() || m.generation() != h.generation() {
                return Err(PoolError::BufferReleased { handle: h });
            }
            let next = match flag {
                Flag::Set if m.is_handed_off() => return Ok(()),
                Flag::Set => m.with_handed_off(true),
                Flag::Take if !m.is_handed_off() => {
                    return Err(PoolError::BufferReleased { handle: h })
                }
                Flag::Take => m.with_handed_off(false),
            };
            match word.compare_exchange_weak(cur, next.0, AcqRel, Acquire) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }
}
