//! [`LentHandles`]: the buffers lent to a party that names them back through untrusted records
//! (JS, through shared-memory submission records). Only a handle that was lent may come back,
//! and only once: a forged handle — say the next generation of a buffer the engine has posted
//! to the kernel for receiving — is refused instead of freeing memory the kernel still writes.

use crate::BufHandle;
use std::collections::HashSet;

/// The set of handles currently lent out.
#[derive(Debug, Default)]
pub struct LentHandles {
    lent: HashSet<u64>,
}

impl LentHandles {
    /// An empty set.
    pub fn new() -> LentHandles {
        LentHandles::default()
    }

    /// Records that `h` was handed out.
    pub fn lend(&mut self, h: BufHandle) {
        self.lent.insert(h.to_u64());
    }

    /// Takes `h` back: true if it was lent (it is not any more), false for a handle that was
    /// never lent, was already taken back, or names another generation of a lent buffer.
    #[must_use]
    pub fn take_back(&mut self, h: BufHandle) -> bool {
        self.lent.remove(&h.to_u64())
    }

    /// Whether `h` is lent right now.
    pub fn is_lent(&self, h: BufHandle) -> bool {
        self.lent.contains(&h.to_u64())
    }

    /// How many handles are lent.
    pub fn len(&self) -> usize {
        self.lent.len()
    }

    /// Whether nothing is lent.
    pub fn is_empty(&self) -> bool {
        self.lent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Pool, PoolConfig, LARGE_CLASS};

    #[test]
    fn only_lent_handles_come_back_once() {
        let pool = Pool::new(PoolConfig::default()).unwrap();
        let local = pool.local();
        let a = local.acquire(LARGE_CLASS).unwrap();
        let b = local.acquire(LARGE_CLASS).unwrap();
        let mut lent = LentHandles::new();
        lent.lend(a);
        assert!(lent.is_lent(a) && !lent.is_lent(b));
        assert_eq!(lent.len(), 1);
        // Same index, next generation: what a forger would guess for a recycled buffer.
        let next = BufHandle::new(a.class(), a.index(), a.generation() + 1);
        assert!(!lent.take_back(next));
        assert!(!lent.take_back(b), "never lent");
        assert!(lent.take_back(a));
        assert!(!lent.take_back(a), "taken back twice");
        assert!(lent.is_empty());
        local.release(a).unwrap();
        local.release(b).unwrap();
    }
}
