//! [`LocalPool`]: a thread's owner handle — LIFO caches in front of the
//! shared free lists, and the consumer side of its return ring.

use crate::class::ClassState;
use crate::meta::Meta;
use crate::owner::{OwnerId, OwnerSlot};
use crate::pool::PoolInner;
use crate::stats::{bump, bump_owned, CounterBlock, Counters, LocalStats};
use crate::{BufHandle, Pool, PoolError};
use std::cell::RefCell;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::Arc;

/// Most handles popped from the return ring per batch.
const RETURN_BATCH: usize = 64;

/// A thread's owner handle (`Send`, not `Sync`). Buffers it acquires are
/// owned by it: releasing them here puts them on its LIFO cache, releasing
/// them anywhere else puts them on its return ring, which it drains on its
/// next acquire with an empty cache or on [`drain_returns`](Self::drain_returns).
///
/// Steady state, `acquire` and `release` neither allocate nor take a lock:
/// caches are refilled from and spilled to the shared free list in batches.
/// The only atomic read-modify-write on the owner path is the buffer's own
/// state word (compare-and-swap on release, so double releases are caught).
///
/// Dropping it puts every cached and returned buffer on the shared free
/// list; buffers it still has out stay valid. Their later release goes to
/// the shared free list — or, if a new local has taken over this owner id
/// meanwhile (ids are reused), to that local.
#[derive(Debug)]
pub struct LocalPool {
    inner: Arc<PoolInner>,
    slot: Option<Arc<OwnerSlot>>,
    state: RefCell<LocalState>,
    /// Counter values when this local took its slot (slots are reused).
    baseline: LocalStats,
}

#[derive(Debug)]
struct LocalState {
    /// Free indices per class; capacity fixed at `cache_cap`.
    caches: Box<[Vec<u32>]>,
    /// Acquires minus releases per class not yet reported to the class's
    /// live count (reported every `batch`).
    live_delta: Box<[i64]>,
    /// Scratch for draining the return ring; capacity fixed.
    scratch: Vec<u64>,
}

impl LocalPool {
    pub(crate) fn new(inner: Arc<PoolInner>) -> LocalPool {
        let caches = inner
            .classes
            .iter()
            .map(|c| Vec::with_capacity(c.plan.cache_cap))
            .collect();
        let live_delta = vec![0; inner.classes.len()].into_boxed_slice();
        let slot = inner.owners.register();
        let mut local = LocalPool {
            inner,
            slot,
            state: RefCell::new(LocalState {
                caches,
                live_delta,
                scratch: Vec::with_capacity(RETURN_BATCH),
            }),
            baseline: LocalStats::default(),
        };
        local.baseline = LocalStats::read_block(local.block());
        local
    }

    fn block(&self) -> &CounterBlock {
        match &self.slot {
            Some(slot) => &slot.counters,
            None => &self.inner.shared_counters,
        }
    }

    /// This local's counters and how to add to them: its own block is
    /// written only by this thread; without a slot it shares the pool's.
    #[inline]
    fn counters(&self, class: usize) -> (&Counters, fn(&AtomicU64, u64)) {
        match &self.slot {
            Some(slot) => (&slot.counters.0[class], bump_owned),
            None => (&self.inner.shared_counters.0[class], bump),
        }
    }

    /// This local's counters since it was created (see [`LocalStats`]).
    pub fn stats(&self) -> LocalStats {
        LocalStats::read_block(self.block()).since(self.baseline)
    }

    pub(crate) fn inner(&self) -> &PoolInner {
        &self.inner
    }

    /// The pool this local belongs to.
    pub fn pool(&self) -> Pool {
        Pool {
            inner: Arc::clone(&self.inner),
        }
    }

    /// This owner's id, as [`Pool::owner_of`] reports it; `None` when it has
    /// no return ring (too many live locals).
    pub fn owner_id(&self) -> Option<OwnerId> {
        self.slot.as_ref().map(|s| s.owner_id())
    }

    /// Whether in-use buffer `h` is owned by this local (`false` for an
    /// invalid or released handle).
    pub fn owns(&self, h: BufHandle) -> bool {
        match (&self.slot, self.inner.check_in_use(h)) {
            (Some(slot), Ok(m)) => m.owner() == slot.id,
            _ => false,
        }
    }

    /// Free buffers of `class` in this local's cache.
    pub fn cached(&self, class: usize) -> usize {
        let st = self.state.borrow();
        st.caches.get(class).map_or(0, Vec::len)
    }

    /// Hands out a free buffer of `class`, owned by this local.
    ///
    /// Order: the local cache; if empty, the return ring; then a batch from
    /// the shared free list; then a new region if the class may grow.
    ///
    /// Errors: `ERR_ZEROSOCK_BAD_BUFFER` (unknown class),
    /// `ERR_ZEROSOCK_POOL_EXHAUSTED` (hard limit reached, every buffer out or
    /// cached by other threads), `ERR_ZEROSOCK_POOL_MMAP` (growth failed).
    pub fn acquire(&self, class: usize) -> Result<BufHandle, PoolError> {
        let cs = self.inner.classes.get(class).ok_or(PoolError::BadBuffer {
            reason: "unknown size class",
        })?;
        let mut st = self.state.borrow_mut();
        let hit = !st.caches[class].is_empty();
        if !hit {
            self.drain_into(&mut st);
        }
        let index = match st.caches[class].pop() {
            Some(i) => i,
            None => self.refill(cs, &mut st)?,
        };
        self.add_live(cs, &mut st.live_delta[class], 1);
        drop(st);
        let (c, add) = self.counters(class);
        if hit {
            add(&c.recycled_from_cache, 1);
        }
        add(&c.acquired, 1);
        Ok(self.hand_out(cs, index))
    }

    /// Adds to this local's unreported live count, reporting it to the class
    /// once it reaches a batch.
    #[inline]
    fn add_live(&self, cs: &ClassState, delta: &mut i64, n: i64) {
        *delta += n;
        if delta.unsigned_abs() >= cs.plan.batch as u64 {
            cs.note_live(std::mem::take(delta));
        }
    }

    /// Cache and ring were empty: take a batch from the shared list, growing
    /// the class when that is empty too. Returns one index.
    #[cold]
    fn refill(&self, cs: &ClassState, st: &mut LocalState) -> Result<u32, PoolError> {
        let class = cs.plan.class;
        let (c, add) = self.counters(class);
        add(&c.misses, 1);
        cs.note_live(std::mem::take(&mut st.live_delta[class]));
        let cache = &mut st.caches[class];
        loop {
            if cs.take(cache, cs.plan.batch) > 0 {
                if let Some(i) = cache.pop() {
                    return Ok(i);
                }
            }
            self.inner.grow(class)?;
        }
    }

    /// Marks free buffer `index` in use by this owner and makes its handle.
    #[inline]
    fn hand_out(&self, cs: &ClassState, index: u32) -> BufHandle {
        let owner = self.slot.as_ref().map_or(0, |s| s.id);
        let generation = match cs.meta(index) {
            Some(meta) => {
                // The index came from our cache, the ring or the shared list,
                // so it is free and nobody else may change its word now.
                let m = Meta(meta.load(Relaxed));
                debug_assert!(!m.is_in_use(), "free list held an in-use buffer");
                meta.store(Meta::in_use(m.generation(), owner).0, Release);
                m.generation()
            }
            None => {
                debug_assert!(false, "free list held an unmapped index");
                0
            }
        };
        BufHandle::new(cs.plan.class, index, generation)
    }

    /// Releases `h`. If this local owns it, it goes on the LIFO cache (a
    /// batch spills to the shared list when the cache is full); otherwise it
    /// is a deferred release onto the owner's return ring, as
    /// [`Pool::release_foreign`].
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (double release / stale
    /// handle), `ERR_ZEROSOCK_BAD_BUFFER` (no such buffer). On error nothing
    /// changes.
    pub fn release(&self, h: BufHandle) -> Result<(), PoolError> {
        let (m, again) = self.inner.mark_released(h)?;
        let class = h.class();
        let cs = &self.inner.classes[class];
        let (c, add) = self.counters(class);
        add(&c.released, 1);
        let mut st = self.state.borrow_mut();
        self.add_live(cs, &mut st.live_delta[class], -1);
        match &self.slot {
            Some(slot) if slot.id == m.owner() => {
                self.cache_push(&mut st.caches[class], class, again.index());
            }
            _ => {
                drop(st);
                self.inner.route_to_owner(m.owner(), again, c, add);
            }
        }
        Ok(())
    }

    /// Pushes a free index onto the class cache, spilling the oldest batch to
    /// the shared list first when the cache is full.
    #[inline]
    fn cache_push(&self, cache: &mut Vec<u32>, class: usize, index: u32) {
        if cache.len() == cache.capacity() {
            self.spill(cache, class);
        }
        cache.push(index);
    }

    #[cold]
    fn spill(&self, cache: &mut Vec<u32>, class: usize) {
        let cs = &self.inner.classes[class];
        let n = cs.plan.batch.min(cache.len());
        cs.put(&cache[..n]);
        cache.copy_within(n.., 0);
        cache.truncate(cache.len() - n);
    }

    /// Recycles every buffer other threads released onto this owner's ring
    /// into the local caches, and reports this local's live counts for the
    /// high-water mark. Call it on every tick so returns don't pile up.
    /// Returns how many buffers came back.
    pub fn drain_returns(&self) -> usize {
        let mut st = self.state.borrow_mut();
        for (cs, delta) in self.inner.classes.iter().zip(st.live_delta.iter_mut()) {
            cs.note_live(std::mem::take(delta));
        }
        self.drain_into(&mut st)
    }

    fn drain_into(&self, st: &mut LocalState) -> usize {
        let Some(slot) = &self.slot else { return 0 };
        let mut total = 0;
        // Bounded: at most one ring's worth per call.
        while total < slot.ring_capacity {
            st.scratch.clear();
            let n = slot.ring.pop_many(&mut st.scratch, RETURN_BATCH);
            if n == 0 {
                break;
            }
            for &raw in &st.scratch {
                let h = BufHandle::from_u64(raw);
                let class = h.class();
                self.cache_push(&mut st.caches[class], class, h.index());
                bump_owned(&slot.counters.0[class].drained_from_ring, 1);
            }
            total += n;
        }
        total
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        let st = self.state.get_mut();
        for ((cs, cache), delta) in self
            .inner
            .classes
            .iter()
            .zip(st.caches.iter_mut())
            .zip(st.live_delta.iter_mut())
        {
            cs.note_live(std::mem::take(delta));
            cs.put(cache);
            cache.clear();
        }
        if let Some(slot) = self.slot.take() {
            // No pusher can reach the ring after `retire`; empty it.
            slot.retire();
            while let Some(raw) = slot.ring.pop() {
                let h = BufHandle::from_u64(raw);
                self.inner.classes[h.class()].put(&[h.index()]);
                bump_owned(&slot.counters.0[h.class()].drained_from_ring, 1);
            }
            self.inner.owners.unregister(&slot);
        }
    }
}
