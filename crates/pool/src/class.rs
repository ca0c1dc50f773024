//! [`ClassState`]: one size class — its regions, per-buffer state words and
//! shared free list, and how it grows.

use crate::config::ClassPlan;
use crate::meta::Meta;
use crate::region::Mapping;
use crate::sync::AtomicU64;
use crate::PoolError;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64 as StdAtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// One growth step of a class: a mapping of `buffers` buffers.
#[derive(Debug)]
pub(crate) struct Region {
    pub mapping: Mapping,
    /// State word per buffer of this region.
    pub meta: Box<[AtomicU64]>,
    pub first_index: u32,
    pub buffers: u32,
}

/// A size class. Regions are never unmapped before the pool drops, so a
/// region reference stays valid for the pool's lifetime.
#[derive(Debug)]
pub(crate) struct ClassState {
    pub plan: ClassPlan,
    regions: Box<[OnceLock<Region>]>,
    /// Regions published so far.
    region_count: AtomicU32,
    /// Buffers mapped so far.
    capacity: AtomicU32,
    /// Shared free list (LIFO). Its capacity always covers every mapped
    /// buffer, so pushes never allocate.
    free: Mutex<Vec<u32>>,
    grow_lock: Mutex<()>,
    /// Buffers out, as reported by locals in batches (see `note_live`).
    live: AtomicI64,
    /// Highest `live` seen.
    pub high_water: StdAtomicU64,
    pub grows: StdAtomicU64,
    pub exhausted: StdAtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the data inconsistent
    // (pushes/pops of plain indices), so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClassState {
    /// Creates the class and maps its first region.
    pub(crate) fn new(plan: ClassPlan, populate: bool) -> Result<ClassState, PoolError> {
        let class = ClassState {
            plan,
            regions: (0..plan.max_regions).map(|_| OnceLock::new()).collect(),
            region_count: AtomicU32::new(0),
            capacity: AtomicU32::new(0),
            free: Mutex::new(Vec::new()),
            grow_lock: Mutex::new(()),
            live: AtomicI64::new(0),
            high_water: StdAtomicU64::new(0),
            grows: StdAtomicU64::new(0),
            exhausted: StdAtomicU64::new(0),
        };
        class.map_region(populate)?;
        Ok(class)
    }

    /// Growth step that holds `index`.
    #[inline]
    pub(crate) fn region_no(&self, index: u32) -> u32 {
        match self.plan.step_shift {
            Some(shift) => index >> shift,
            None => index / self.plan.step,
        }
    }

    /// The region holding `index`, if mapped.
    #[inline]
    pub(crate) fn region_of(&self, index: u32) -> Option<&Region> {
        self.regions
            .get(self.region_no(index) as usize)?
            .get()
            .filter(|r| index - r.first_index < r.buffers)
    }

    /// The state word of buffer `index`, if mapped.
    #[inline]
    pub(crate) fn meta(&self, index: u32) -> Option<&AtomicU64> {
        let r = self.region_of(index)?;
        r.meta.get((index - r.first_index) as usize)
    }

    /// Address of buffer `index`, if mapped.
    #[inline]
    pub(crate) fn buffer_ptr(&self, index: u32) -> Option<*mut u8> {
        let r = self.region_of(index)?;
        let offset = (index - r.first_index) as usize * self.plan.size;
        // SAFETY: `index - first_index < buffers`, so `offset + size` lies
        // inside the region's mapping.
        Some(unsafe { r.mapping.base().add(offset) })
    }

    /// The published regions, in growth order.
    pub(crate) fn regions(&self) -> impl Iterator<Item = &Region> {
        let n = self.region_count.load(Ordering::Acquire) as usize;
        self.regions[..n].iter().filter_map(OnceLock::get)
    }

    pub(crate) fn region_count(&self) -> u32 {
        self.region_count.load(Ordering::Acquire)
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.capacity.load(Ordering::Acquire)
    }

    /// Adds `delta` buffers to the live count and raises the high-water
    /// mark. Locals call it once per batch, not per buffer.
    pub(crate) fn note_live(&self, delta: i64) {
        if delta == 0 {
            return;
        }
        let now = self.live.fetch_add(delta, Ordering::Relaxed) + delta;
        if now > 0 && now as u64 > self.high_water.load(Ordering::Relaxed) {
            self.high_water.fetch_max(now as u64, Ordering::Relaxed);
        }
    }

    pub(crate) fn shared_free_len(&self) -> usize {
        lock(&self.free).len()
    }

    /// Moves up to `n` free indices from the shared list onto `cache`
    /// (which must have room). Returns how many moved.
    pub(crate) fn take(&self, cache: &mut Vec<u32>, n: usize) -> usize {
        let mut free = lock(&self.free);
        let n = n.min(free.len()).min(cache.capacity() - cache.len());
        let start = free.len() - n;
        cache.extend_from_slice(&free[start..]);
        free.truncate(start);
        n
    }

    /// Puts free indices back on the shared list (never allocates).
    pub(crate) fn put(&self, indices: &[u32]) {
        let mut free = lock(&self.free);
        debug_assert!(free.len() + indices.len() <= free.capacity());
        free.extend_from_slice(indices);
    }

    /// Maps another region unless another thread refilled the shared list
    /// meanwhile. `Ok(())` means: try the shared list again. `mapped` is
    /// told the new region's growth step once it is published, before any
    /// other region of this class can be (the pool's mapping order).
    pub(crate) fn grow(&self, populate: bool, mapped: impl FnOnce(u32)) -> Result<(), PoolError> {
        let _g = lock(&self.grow_lock);
        if self.shared_free_len() > 0 {
            return Ok(());
        }
        self.map_region(populate)?;
        mapped(self.region_count() - 1);
        Ok(())
    }

    /// Published region `step` of this class.
    pub(crate) fn region(&self, step: u32) -> Option<&Region> {
        self.regions.get(step as usize)?.get()
    }

    /// Maps, publishes and frees the next region. Caller holds `grow_lock`
    /// (or is the constructor).
    fn map_region(&self, populate: bool) -> Result<(), PoolError> {
        let r = self.region_count.load(Ordering::Acquire);
        let first_index = r * self.plan.step;
        if r >= self.plan.max_regions || first_index >= self.plan.limit {
            bump_std(&self.exhausted);
            return Err(PoolError::Exhausted {
                class: self.class_no(),
                limit: self.plan.limit,
            });
        }
        let buffers = self.plan.step.min(self.plan.limit - first_index);
        let mapping = Mapping::new(buffers as usize * self.plan.size, populate)?;
        let meta = (0..buffers)
            .map(|_| AtomicU64::new(Meta::free(1).0))
            .collect();
        let region = Region {
            mapping,
            meta,
            first_index,
            buffers,
        };
        // `map_region` runs under `grow_lock` (or in the constructor) and
        // counts regions itself, so slot `r` is always empty here.
        let published = self.regions[r as usize].set(region);
        debug_assert!(published.is_ok(), "region slot {r} mapped twice");
        self.region_count.store(r + 1, Ordering::Release);
        self.capacity.fetch_add(buffers, Ordering::AcqRel);
        if r > 0 {
            bump_std(&self.grows);
        }
        let total = (first_index + buffers) as usize;
        let mut free = lock(&self.free);
        // Room for every mapped buffer, so `put` never allocates.
        let len = free.len();
        free.reserve_exact(total - len);
        // Highest index first, so the lowest pops first (LIFO).
        free.extend((first_index..first_index + buffers).rev());
        Ok(())
    }

    fn class_no(&self) -> usize {
        self.plan.class
    }
}

fn bump_std(c: &StdAtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}
