//! Counters ([`Counters`], internal) and the [`PoolStats`] snapshot.
//!
//! Counters always use `std` atomics with `Relaxed` ordering: they are
//! bookkeeping, not synchronisation. Each owner ([`LocalPool`](crate::LocalPool)
//! with a return ring) writes its own block, so the hot path touches no
//! cache line shared with other threads except the per-class `in_use`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Event counters of one size class, written by one owner (or, for the
/// pool-wide block, by any thread). One cache line each.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Counters {
    pub acquired: AtomicU64,
    pub released: AtomicU64,
    pub recycled_from_cache: AtomicU64,
    pub misses: AtomicU64,
    pub returned_via_ring: AtomicU64,
    pub drained_from_ring: AtomicU64,
    pub returned_to_shared: AtomicU64,
}

/// One owner's (or the pool-wide) counters, one [`Counters`] per class.
#[derive(Debug)]
pub(crate) struct CounterBlock(pub Box<[Counters]>);

impl CounterBlock {
    pub(crate) fn new(classes: usize) -> CounterBlock {
        CounterBlock((0..classes).map(|_| Counters::default()).collect())
    }
}

/// Adds `n` to a counter that other threads may write too.
#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

/// Adds `n` to a counter only the calling thread writes (an owner's own
/// block): a plain load and store, no locked read-modify-write.
#[inline]
pub(crate) fn bump_owned(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// What happened to buffers, read from the event counters at one moment.
///
/// The same seven counts describe one [`LocalPool`](crate::LocalPool) since it was created
/// ([`LocalPool::stats`](crate::LocalPool::stats)), one size class ([`ClassStats`], summed
/// over every owner) and the whole pool ([`PoolStats`], summed over classes). Counters only
/// grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferEvents {
    /// Successful acquires.
    pub acquired: u64,
    /// Successful releases (every path; for a local: its own and foreign buffers).
    pub released: u64,
    /// Acquires served straight from the local LIFO cache.
    pub recycled_from_cache: u64,
    /// Acquires that found the local cache and return ring empty and went
    /// to the shared free list (or grew the class).
    pub misses: u64,
    /// Releases on a non-owner thread pushed onto the owner's return ring
    /// (deferred releases).
    pub returned_via_ring: u64,
    /// Buffers taken back out of return rings (by the owner, or by its drop).
    pub drained_from_ring: u64,
    /// Non-owner releases that went to the shared free list instead (owner
    /// has no ring, was dropped, or its ring was full).
    pub returned_to_shared: u64,
}

/// One local's counters: [`BufferEvents`] since the local was created. For a local without
/// a return ring (`owner_id() == None`) these are the pool-wide shared counters.
pub type LocalStats = BufferEvents;

impl BufferEvents {
    /// Reads one counter block of one class.
    pub(crate) fn read(c: &Counters) -> BufferEvents {
        BufferEvents {
            acquired: c.acquired.load(Relaxed),
            released: c.released.load(Relaxed),
            recycled_from_cache: c.recycled_from_cache.load(Relaxed),
            misses: c.misses.load(Relaxed),
            returned_via_ring: c.returned_via_ring.load(Relaxed),
            drained_from_ring: c.drained_from_ring.load(Relaxed),
            returned_to_shared: c.returned_to_shared.load(Relaxed),
        }
    }

    /// Reads an owner's block, summed over classes.
    pub(crate) fn read_block(b: &CounterBlock) -> BufferEvents {
        b.0.iter().fold(BufferEvents::default(), |mut sum, c| {
            sum.add(&BufferEvents::read(c));
            sum
        })
    }

    /// Field-wise `self += other`.
    pub(crate) fn add(&mut self, other: &BufferEvents) {
        self.acquired += other.acquired;
        self.released += other.released;
        self.recycled_from_cache += other.recycled_from_cache;
        self.misses += other.misses;
        self.returned_via_ring += other.returned_via_ring;
        self.drained_from_ring += other.drained_from_ring;
        self.returned_to_shared += other.returned_to_shared;
    }

    /// Field-wise `self - base` (counters only grow).
    pub(crate) fn since(self, base: BufferEvents) -> BufferEvents {
        BufferEvents {
            acquired: self.acquired - base.acquired,
            released: self.released - base.released,
            recycled_from_cache: self.recycled_from_cache - base.recycled_from_cache,
            misses: self.misses - base.misses,
            returned_via_ring: self.returned_via_ring - base.returned_via_ring,
            drained_from_ring: self.drained_from_ring - base.drained_from_ring,
            returned_to_shared: self.returned_to_shared - base.returned_to_shared,
        }
    }
}

/// A snapshot of one size class. Its [`BufferEvents`] are read through it
/// (`class.acquired`), as they are one part of what the class reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Bytes per buffer.
    pub size: usize,
    /// Buffers mapped so far.
    pub capacity: u32,
    /// Buffers the class may ever have (`max_count`, or the growth ceiling).
    pub limit: u32,
    /// Regions mapped so far (1 + growth steps).
    pub regions: u32,
    /// The event counters of every owner and of the pool-wide block, summed.
    pub events: BufferEvents,
    /// Growth steps (regions mapped after `Pool::new`).
    pub grows: u64,
    /// Acquires refused with `ERR_ZEROSOCK_POOL_EXHAUSTED`.
    pub exhausted: u64,
    /// Buffers acquired and not yet released (`acquired - released`; exact
    /// once the threads are quiet).
    pub in_use: u64,
    /// Highest number of buffers out at once, sampled at batch boundaries:
    /// each local reports its acquires and releases every `batch` buffers
    /// (and on `drain_returns`, refills and drop), so a short peak can be
    /// under-reported by up to `batch - 1` per local.
    pub high_water: u64,
    /// Free buffers on the shared free list right now.
    pub shared_free: usize,
}

impl std::ops::Deref for ClassStats {
    type Target = BufferEvents;
    fn deref(&self) -> &BufferEvents {
        &self.events
    }
}

/// A snapshot of the whole pool: totals over all classes, and per class. Its summed
/// [`BufferEvents`] are read through it (`pool.stats().acquired`).
///
/// Counters of different threads are read one after another, so a snapshot
/// taken while other threads work is only approximately consistent; once
/// they are quiet, `acquired - released == in_use` holds per class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Per size class, indexed by class number.
    pub classes: Vec<ClassStats>,
    /// Live `LocalPool`s that have a return ring.
    pub owners: usize,
    /// Sum over classes of [`ClassStats::events`].
    pub events: BufferEvents,
    /// Sum over classes of [`ClassStats::grows`].
    pub grows: u64,
    /// Sum over classes of [`ClassStats::exhausted`].
    pub exhausted: u64,
    /// Sum over classes of [`ClassStats::in_use`].
    pub in_use: u64,
    /// Sum over classes of [`ClassStats::high_water`] (peaks of different
    /// classes may have happened at different times).
    pub high_water: u64,
    /// Bytes mapped for buffers (sum of `size * capacity`).
    pub mapped_bytes: u64,
}

impl std::ops::Deref for PoolStats {
    type Target = BufferEvents;
    fn deref(&self) -> &BufferEvents {
        &self.events
    }
}

impl PoolStats {
    pub(crate) fn from_classes(classes: Vec<ClassStats>, owners: usize) -> PoolStats {
        let mut s = PoolStats {
            owners,
            ..PoolStats::default()
        };
        for c in &classes {
            s.events.add(&c.events);
            s.grows += c.grows;
            s.exhausted += c.exhausted;
            s.in_use += c.in_use;
            s.high_water += c.high_water;
            s.mapped_bytes += c.size as u64 * u64::from(c.capacity);
        }
        s.classes = classes;
        s
    }
}
