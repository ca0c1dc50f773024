//! [`Pool`]: the shared part — size classes, owners, validation and release
//! routing; plus [`PoolReturner`] and [`RegionInfo`].

use crate::class::ClassState;
use crate::config::{PoolConfig, MAX_OWNERS};
use crate::meta::Meta;
use crate::owner::{OwnerId, OwnerSlot, Pushed, Registry};
use crate::stats::{bump, BufferEvents, ClassStats, CounterBlock, Counters, PoolStats};
use crate::{BufHandle, LocalPool, PoolError};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::{Arc, Mutex};

/// The shared page pool. Cheap to clone (an `Arc`); `Send + Sync`.
///
/// Memory is mapped per size class in regions of `count` buffers and is only
/// unmapped when the last clone (and every [`LocalPool`] / [`PoolReturner`])
/// is dropped; pointers from [`Pool::ptr`] are valid until then.
#[derive(Clone, Debug)]
pub struct Pool {
    pub(crate) inner: Arc<PoolInner>,
}

#[derive(Debug)]
pub(crate) struct PoolInner {
    pub classes: Box<[ClassState]>,
    pub owners: Registry,
    /// Counters of threads without a ring (foreign releases, returners,
    /// locals without a slot).
    pub shared_counters: CounterBlock,
    pub populate: bool,
    /// Every region as (class, growth step), in the order they were mapped.
    /// Append-only: a region's position here is its id for the engine and
    /// JS (a cached view of region `i` must stay region `i`).
    pub mapped: Mutex<Vec<(usize, u32)>>,
}

impl PoolInner {
    /// Maps another region of `class` (see [`ClassState::grow`]) and gives it
    /// the next position in the mapping order.
    pub(crate) fn grow(&self, class: usize) -> Result<(), PoolError> {
        self.classes[class].grow(self.populate, |step| {
            self.mapped
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((class, step));
        })
    }
}

/// One mapped region (the engine registers each with io_uring; the binding
/// exposes each as one external `ArrayBuffer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// Size class of its buffers.
    pub class: usize,
    /// Growth step within the class (0 = mapped by `Pool::new`).
    pub region: u32,
    /// First byte (2 MiB aligned when `len >= 2 MiB`).
    pub base: *mut u8,
    /// Bytes of buffers in it (`buffers * buffer_size`).
    pub len: usize,
    /// Index of its first buffer within the class.
    pub first_index: u32,
    /// Buffers in it.
    pub buffers: u32,
    /// Bytes per buffer.
    pub buffer_size: usize,
}

// SAFETY: `base` is only an address of pool memory that lives as long as the
// pool; `RegionInfo` itself never dereferences it.
unsafe impl Send for RegionInfo {}
// SAFETY: as above; the struct is plain data.
unsafe impl Sync for RegionInfo {}

/// Where a buffer lives: region and byte offset (for views into a region's
/// external `ArrayBuffer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufPosition {
    /// Size class.
    pub class: usize,
    /// Growth step within the class ([`RegionInfo::region`]).
    pub region: u32,
    /// Byte offset of the buffer inside that region.
    pub offset: usize,
    /// Bytes in the buffer.
    pub len: usize,
}

/// Releases buffers from threads without a [`LocalPool`]. `Clone + Send + Sync`.
#[derive(Clone, Debug)]
pub struct PoolReturner {
    inner: Arc<PoolInner>,
}

impl PoolReturner {
    /// Same as [`Pool::release_foreign`].
    pub fn release(&self, h: BufHandle) -> Result<(), PoolError> {
        self.inner.release_foreign(h)
    }
}

fn ring_capacity(cfg: &PoolConfig) -> usize {
    let total: u64 = cfg.classes.iter().map(|c| u64::from(c.count)).sum();
    (total.min(1 << 16) as usize)
        .next_power_of_two()
        .clamp(64, 1 << 16)
}

impl Pool {
    /// Maps the first region of every class.
    ///
    /// Errors: `ERR_ZEROSOCK_POOL_CONFIG` for an unusable configuration,
    /// `ERR_ZEROSOCK_POOL_MMAP` when mapping fails.
    pub fn new(cfg: PoolConfig) -> Result<Pool, PoolError> {
        let plans = cfg.plan()?;
        let classes = plans
            .iter()
            .map(|&p| ClassState::new(p, cfg.populate))
            .collect::<Result<Box<[_]>, _>>()?;
        let n = classes.len();
        let mapped = Mutex::new((0..n).map(|c| (c, 0)).collect());
        Ok(Pool {
            inner: Arc::new(PoolInner {
                classes,
                owners: Registry::new(MAX_OWNERS, ring_capacity(&cfg), n),
                shared_counters: CounterBlock::new(n),
                populate: cfg.populate,
                mapped,
            }),
        })
    }

    /// A new owner for the calling thread: a LIFO cache per class in front of
    /// the shared free list, plus its own return ring. When
    /// [`MAX_OWNERS`](crate::MAX_OWNERS) locals are alive at once, the new one
    /// has no ring (`owner_id()` is `None`) and other threads' releases of
    /// its buffers go to the shared free list; it works otherwise the same.
    pub fn local(&self) -> LocalPool {
        LocalPool::new(Arc::clone(&self.inner))
    }

    /// A handle for threads without a `LocalPool` to release buffers.
    pub fn returner(&self) -> PoolReturner {
        PoolReturner {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Releases `h` from a thread that has no `LocalPool`: the buffer goes
    /// onto its owner's return ring (the owner recycles it on its next
    /// acquire or [`LocalPool::drain_returns`]), or to the shared free list
    /// if the owner is gone or its ring is full. Never into a local cache of
    /// this thread.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (double release / stale
    /// handle), `ERR_ZEROSOCK_BAD_BUFFER` (no such buffer). On error nothing
    /// changes.
    pub fn release_foreign(&self, h: BufHandle) -> Result<(), PoolError> {
        self.inner.release_foreign(h)
    }

    /// Address of the buffer `h` names, valid until the pool drops. Only the
    /// current holder of `h` may access the bytes, and only until it
    /// releases `h`.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` if `h` is not in use under its
    /// generation, `ERR_ZEROSOCK_BAD_BUFFER` if it names no buffer.
    pub fn ptr(&self, h: BufHandle) -> Result<*mut u8, PoolError> {
        self.inner.check_in_use(h)?;
        self.inner.classes[h.class()]
            .buffer_ptr(h.index())
            .ok_or(BAD_INDEX)
    }

    /// The buffer of `h` as a mutable slice.
    ///
    /// Errors as [`Pool::ptr`].
    ///
    /// # Safety
    /// The caller must hold `h` (acquired and not released), must not create
    /// another live reference to the same buffer, and must not use the slice
    /// after releasing `h`.
    // The exclusivity that `&mut` needs is the caller's promise, not `&self`'s.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut(&self, h: BufHandle) -> Result<&mut [u8], PoolError> {
        let p = self.ptr(h)?;
        let len = self.inner.classes[h.class()].plan.size;
        // SAFETY: `p` starts a mapped buffer of `len` bytes that lives as long
        // as `self`; exclusivity is the caller's promise.
        Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
    }

    /// Where `h`'s buffer lives (region and offset). Errors as [`Pool::ptr`].
    pub fn position(&self, h: BufHandle) -> Result<BufPosition, PoolError> {
        self.inner.check_in_use(h)?;
        let class = &self.inner.classes[h.class()];
        let region = class.region_of(h.index()).ok_or(BAD_INDEX)?;
        Ok(BufPosition {
            class: h.class(),
            region: h.index() / class.plan.step,
            offset: (h.index() - region.first_index) as usize * class.plan.size,
            len: class.plan.size,
        })
    }

    /// The owner (the `LocalPool` that acquired it) of in-use buffer `h`;
    /// `None` if that local has no return ring. Errors as [`Pool::ptr`].
    pub fn owner_of(&self, h: BufHandle) -> Result<Option<OwnerId>, PoolError> {
        let m = self.inner.check_in_use(h)?;
        Ok(self.inner.owners.get(m.owner()).map(OwnerSlot::owner_id))
    }

    /// Bytes per buffer of `class`, or `None` for an unknown class.
    pub fn class_size(&self, class: usize) -> Option<usize> {
        self.inner.classes.get(class).map(|c| c.plan.size)
    }

    /// Number of size classes.
    pub fn class_count(&self) -> usize {
        self.inner.classes.len()
    }

    /// The smallest class whose buffers hold `len` bytes.
    pub fn class_for_len(&self, len: usize) -> Option<usize> {
        self.inner.classes.iter().position(|c| c.plan.size >= len)
    }

    /// `(class, index)` of the buffer containing `addr`, or `None` if `addr`
    /// is not inside any buffer of this pool. Says nothing about whether the
    /// buffer is in use.
    pub fn locate(&self, addr: *const u8) -> Option<(usize, u32)> {
        let a = addr as usize;
        for (ci, class) in self.inner.classes.iter().enumerate() {
            for r in class.regions() {
                let base = r.mapping.base() as usize;
                let len = r.buffers as usize * class.plan.size;
                if a >= base && a - base < len {
                    return Some((ci, r.first_index + ((a - base) / class.plan.size) as u32));
                }
            }
        }
        None
    }

    /// Every region mapped so far, in the order it was mapped: the first
    /// region of each class (by class), then growth steps as they happened.
    /// The list only grows: a region's position never changes, so it can
    /// name the region for good (the engine's region ids, JS's cached views).
    pub fn regions(&self) -> Vec<RegionInfo> {
        let mapped = self.inner.mapped.lock().unwrap_or_else(|e| e.into_inner());
        mapped
            .iter()
            .filter_map(|&(ci, step)| {
                let class = &self.inner.classes[ci];
                let r = class.region(step)?;
                Some(RegionInfo {
                    class: ci,
                    region: step,
                    base: r.mapping.base(),
                    len: r.buffers as usize * class.plan.size,
                    first_index: r.first_index,
                    buffers: r.buffers,
                    buffer_size: class.plan.size,
                })
            })
            .collect()
    }

    /// Regions mapped so far over all classes (the length of
    /// [`Pool::regions`]); grows when a class grows, so a changed value tells
    /// the engine to look at [`Pool::regions`] again.
    pub fn region_count(&self) -> usize {
        self.inner
            .mapped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// A snapshot of the counters (see [`PoolStats`]).
    pub fn stats(&self) -> PoolStats {
        let inner = &self.inner;
        let classes = inner
            .classes
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let mut s = ClassStats {
                    size: c.plan.size,
                    capacity: c.capacity(),
                    limit: c.plan.limit,
                    regions: c.region_count(),
                    grows: c.grows.load(Relaxed),
                    exhausted: c.exhausted.load(Relaxed),
                    high_water: c.high_water.load(Relaxed),
                    shared_free: c.shared_free_len(),
                    ..ClassStats::default()
                };
                s.events = BufferEvents::read(&inner.shared_counters.0[ci]);
                for slot in inner.owners.all() {
                    s.events.add(&BufferEvents::read(&slot.counters.0[ci]));
                }
                s.in_use = s.events.acquired.saturating_sub(s.events.released);
                s
            })
            .collect();
        PoolStats::from_classes(classes, inner.owners.live())
    }
}

const BAD_CLASS: PoolError = PoolError::BadBuffer {
    reason: "unknown size class",
};
const BAD_INDEX: PoolError = PoolError::BadBuffer {
    reason: "buffer index beyond the mapped buffers of its class",
};

impl PoolInner {
    fn class(&self, h: BufHandle) -> Result<&ClassState, PoolError> {
        self.classes.get(h.class()).ok_or(BAD_CLASS)
    }

    /// The state word of `h` if it is in use under `h`'s generation.
    pub(crate) fn check_in_use(&self, h: BufHandle) -> Result<Meta, PoolError> {
        let meta = self.class(h)?.meta(h.index()).ok_or(BAD_INDEX)?;
        let m = Meta(meta.load(Acquire));
        if m.is_in_use() && m.generation() == h.generation() {
            Ok(m)
        } else {
            Err(PoolError::BufferReleased { handle: h })
        }
    }

    /// Flips `h` from in use to free (next generation) with one CAS, so of
    /// racing releases exactly one succeeds. Returns the in-use word and the
    /// handle under which the buffer will be handed out next.
    pub(crate) fn mark_released(&self, h: BufHandle) -> Result<(Meta, BufHandle), PoolError> {
        let class = self.class(h)?;
        let meta = class.meta(h.index()).ok_or(BAD_INDEX)?;
        let mut cur = meta.load(Acquire);
        loop {
            let m = Meta(cur);
            if !m.is_in_use() || m.generation() != h.generation() {
                return Err(PoolError::BufferReleased { handle: h });
            }
            let next = m.released();
            match meta.compare_exchange_weak(cur, next.0, AcqRel, Acquire) {
                Ok(_) => {
                    let again = BufHandle::new(h.class(), h.index(), next.generation());
                    return Ok((m, again));
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Release by a thread without a `LocalPool`: mark released, then hand
    /// the buffer to its owner's ring.
    pub(crate) fn release_foreign(&self, h: BufHandle) -> Result<(), PoolError> {
        let (m, again) = self.mark_released(h)?;
        let c = &self.shared_counters.0[h.class()];
        bump(&c.released, 1);
        self.classes[h.class()].note_live(-1);
        self.route_to_owner(m.owner(), again, c, bump);
        Ok(())
    }

    /// Sends a freshly released buffer to owner `owner`'s ring, or to the
    /// shared free list if there is no live owner with room.
    /// `add` is [`bump`] or, for an owner's own counters, `bump_owned`.
    pub(crate) fn route_to_owner(
        &self,
        owner: u32,
        again: BufHandle,
        c: &Counters,
        add: fn(&std::sync::atomic::AtomicU64, u64),
    ) {
        if let Some(slot) = self.owners.get(owner) {
            if slot.push(again.to_u64()) == Pushed::Ring {
                add(&c.returned_via_ring, 1);
                return;
            }
        }
        add(&c.returned_to_shared, 1);
        self.classes[again.class()].put(&[again.index()]);
    }
}
