//! Owners: each [`LocalPool`](crate::LocalPool) with a return ring has an
//! [`OwnerSlot`]; the [`Registry`] hands slots out and takes them back.
//!
//! Handoff protocol (the part the loom test models): a non-owner that
//! releases a buffer pushes it onto the owner's MPSC ring, but only while the
//! owner is alive. The slot's `word` holds a DEAD bit and a count of pushers
//! in flight; all of it changes by read-modify-writes of that one word, so
//! they are totally ordered:
//! - pusher: `fetch_add(1)`; if DEAD was set, undo and report `Dead` (the
//!   caller frees to the shared list); else push, then `fetch_sub(1)`.
//! - owner drop: `fetch_or(DEAD)`, wait until the count is 0, then pop
//!   everything left. After that no pusher can push any more, and the
//!   acquire load of count 0 makes every earlier push visible to the pops.

use crate::stats::CounterBlock;
use crate::sync::{spin_wait, AtomicU32};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::{Arc, Mutex, OnceLock};
use zerosock_ring::MpscRing;

const DEAD: u32 = 1 << 31;
const PUSHERS: u32 = DEAD - 1;

/// Identifies the owner of a buffer: the [`LocalPool`](crate::LocalPool)
/// that acquired it. Ids of dropped locals are reused by later ones.
#[derive(Copy, Clone, Eq, PartialEq, Hash, Debug)]
pub struct OwnerId(u32);

impl OwnerId {
    /// The id as a number (`>= 1`).
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// What became of a deferred release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// On the owner's ring; the owner recycles it.
    Ring,
    /// The owner is gone or its ring is full: the caller must free it elsewhere.
    Refused,
}

/// One owner's return ring, liveness word and counters.
#[derive(Debug)]
pub(crate) struct OwnerSlot {
    /// 1-based id, stored in buffer state words.
    pub id: u32,
    pub ring: MpscRing,
    /// Capacity of `ring`.
    pub ring_capacity: usize,
    word: AtomicU32,
    pub counters: CounterBlock,
}

impl OwnerSlot {
    pub(crate) fn owner_id(&self) -> OwnerId {
        OwnerId(self.id)
    }

    /// Pushes `raw` onto this owner's ring if the owner is alive and the
    /// ring has room.
    pub(crate) fn push(&self, raw: u64) -> Pushed {
        let prev = self.word.fetch_add(1, Acquire);
        let pushed = if prev & DEAD != 0 {
            Pushed::Refused
        } else if self.ring.push(raw).is_ok() {
            Pushed::Ring
        } else {
            Pushed::Refused
        };
        self.word.fetch_sub(1, Release);
        pushed
    }

    /// Marks the owner gone and waits for pushers in flight; afterwards the
    /// caller may pop the ring (as its only consumer) and will see every
    /// push that succeeded.
    pub(crate) fn retire(&self) {
        self.word.fetch_or(DEAD, AcqRel);
        let mut attempt = 0;
        while self.word.load(Acquire) & PUSHERS != 0 {
            spin_wait(attempt);
            attempt = attempt.saturating_add(1);
        }
    }

    /// Makes a retired slot alive again for a new owner.
    fn revive(&self) {
        self.word.fetch_and(!DEAD, AcqRel);
    }
}

/// All owner slots. Slots are created on first use and kept (with their
/// rings) until the pool drops, so a pusher holding a stale owner id always
/// finds a valid slot.
#[derive(Debug)]
pub(crate) struct Registry {
    slots: Box<[OnceLock<Arc<OwnerSlot>>]>,
    /// Unused slot numbers (0-based), lowest on top.
    free: Mutex<Vec<u32>>,
    ring_capacity: usize,
    classes: usize,
}

impl Registry {
    pub(crate) fn new(max_owners: usize, ring_capacity: usize, classes: usize) -> Registry {
        Registry {
            slots: (0..max_owners).map(|_| OnceLock::new()).collect(),
            free: Mutex::new((0..max_owners as u32).rev().collect()),
            ring_capacity,
            classes,
        }
    }

    /// A live slot for a new owner, or `None` when all are taken (or a ring
    /// cannot be made).
    pub(crate) fn register(&self) -> Option<Arc<OwnerSlot>> {
        let n = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
        let cell = &self.slots[n as usize];
        if let Some(slot) = cell.get() {
            slot.revive();
            return Some(Arc::clone(slot));
        }
        let Ok(ring) = MpscRing::new(self.ring_capacity) else {
            self.unregister_no(n);
            return None;
        };
        let slot = Arc::new(OwnerSlot {
            id: n + 1,
            ring,
            ring_capacity: self.ring_capacity,
            word: AtomicU32::new(0),
            counters: CounterBlock::new(self.classes),
        });
        // Slot `n` came off the free list, so only this thread sets it.
        let _ = cell.set(Arc::clone(&slot));
        Some(slot)
    }

    /// Gives a retired, drained slot back for reuse.
    pub(crate) fn unregister(&self, slot: &OwnerSlot) {
        self.unregister_no(slot.id - 1);
    }

    fn unregister_no(&self, n: u32) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(n);
    }

    /// The slot of owner `id` (1-based), if it was ever created.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&OwnerSlot> {
        let n = id.checked_sub(1)? as usize;
        self.slots.get(n)?.get().map(|s| &**s)
    }

    /// Every slot ever created (for statistics).
    pub(crate) fn all(&self) -> impl Iterator<Item = &OwnerSlot> {
        self.slots.iter().filter_map(|c| c.get().map(|s| &**s))
    }

    /// Slots currently registered to a live owner.
    pub(crate) fn live(&self) -> usize {
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner()).len();
        self.slots.len() - free
    }
}
