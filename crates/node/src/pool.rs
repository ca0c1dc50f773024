//! `NativeBufferPool`: one JS thread's handle on a `zerosock_pool::Pool` of one size class
//! (DESIGN.md §1, §8). Conversion only — the pool logic is in `zerosock_pool`; the JS-side
//! cache policy is in ts/buffer-pool.ts.
//!
//! - The owner thread makes the pool with the constructor; any other thread (worker_thread)
//!   gets its own handle with `attach(id)` (`id()` is `Pool::share`). Each handle has its own
//!   `LocalPool`, so a buffer released on a thread that does not own it goes onto its owner's
//!   return ring (deferred free), taken back by the owner's next refill or `drain()`.
//! - Pool memory reaches JS as one external `ArrayBuffer` per region (`regionBuffer`); JS makes
//!   `Uint8Array` views by offset. A buffer is named by `(index, generation)`.
//! - JS keeps a LIFO stack of free buffers in the "cache block" (`cacheBuffer`), shared ints
//!   laid out as `[length, 0, 0, 0, index0, generation0, index1, generation1, …]`. Native code
//!   only pushes onto it (`refill`) and takes its oldest entries off (`spill`), so acquire and
//!   release need no native call and no JS object per buffer. Everything left on the stack is
//!   released when the handle is finalized.

use crate::errors::{coded, to_napi};
use crate::shared_mem::SharedInts;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use zerosock_pool::{BufHandle, LocalPool, Pool, PoolConfig, PoolError, SizeClass};

/// The one size class of a `NativeBufferPool`.
const CLASS: usize = 0;
/// Ints before the first `[index, generation]` pair of the cache block.
const CACHE_HEAD: usize = 4;
/// Most `[index, generation]` pairs the cache block holds.
const CACHE_PAIRS: usize = 256;

/// Options of a `NativeBufferPool` (checked by `zerosock_pool`: `ERR_ZEROSOCK_POOL_CONFIG`).
#[napi(object)]
pub struct NativeBufferPoolOptions {
    /// Bytes per buffer: a non-zero multiple of 64.
    pub size: u32,
    /// Buffers mapped up front, and per growth step.
    pub count: u32,
    /// Hard limit on buffers (`>= count`); without it the pool grows by `count` when empty.
    pub max_count: Option<u32>,
    /// Fault every page in when a region is mapped.
    pub populate: Option<bool>,
}

/// Pool-wide counters (`zerosock_pool::ClassStats` of the one class).
#[napi(object)]
pub struct NativeBufferPoolStats {
    /// Bytes per buffer.
    pub size: f64,
    /// Buffers mapped so far.
    pub capacity: f64,
    /// Buffers the pool may ever have.
    pub limit: f64,
    /// Regions mapped so far.
    pub regions: f64,
    /// Native acquires (all threads).
    pub acquired: f64,
    /// Native releases (all threads, every path).
    pub released: f64,
    /// Native acquires served from a thread's native cache.
    pub recycled_from_cache: f64,
    /// Native acquires that went to the shared free list (or grew the pool).
    pub misses: f64,
    /// Releases on a non-owner thread pushed onto the owner's return ring.
    pub returned_via_ring: f64,
    /// Buffers owners took back from their return rings.
    pub drained_from_ring: f64,
    /// Non-owner releases that went to the shared free list instead.
    pub returned_to_shared: f64,
    /// Growth steps.
    pub grows: f64,
    /// Acquires refused with `ERR_ZEROSOCK_POOL_EXHAUSTED`.
    pub exhausted: f64,
    /// Buffers natively out (includes those on JS cache blocks).
    pub in_use: f64,
    /// Highest number of buffers natively out at once (sampled per batch).
    pub high_water: f64,
    /// Free buffers on the shared free list.
    pub shared_free: f64,
    /// Live thread handles (`LocalPool`s) with a return ring.
    pub owners: f64,
}

/// One JS thread's handle on a pool.
#[napi]
pub struct NativeBufferPool {
    pool: Pool,
    local: LocalPool,
    /// The JS cache block (see the module docs).
    cache: SharedInts,
    /// Regions this handle has already handed to JS.
    wrapped: Vec<bool>,
}

fn invalid(msg: impl Into<String>) -> napi::Error {
    coded("ERR_INVALID_ARG_VALUE", msg)
}

fn handle(index: i32, generation: i32) -> BufHandle {
    BufHandle::new(CLASS, index as u32, generation as u32)
}

impl NativeBufferPool {
    fn on_this_thread(pool: Pool) -> NativeBufferPool {
        let local = pool.local();
        NativeBufferPool {
            pool,
            local,
            cache: SharedInts::new(CACHE_HEAD + 2 * CACHE_PAIRS),
            wrapped: Vec::new(),
        }
    }

    /// Entries on the cache stack (JS writes the length; clamped so bad values stay in bounds).
    fn cached_len(&self) -> usize {
        (self.cache.read(0).max(0) as usize).min(CACHE_PAIRS)
    }

    fn pair(&self, i: usize) -> BufHandle {
        let at = CACHE_HEAD + 2 * i;
        handle(self.cache.read(at), self.cache.read(at + 1))
    }
}

impl Drop for NativeBufferPool {
    fn drop(&mut self) {
        // Free buffers still on the JS cache go back to the pool. Values JS corrupted are
        // refused by the pool's checks, which is all we can do with them.
        for i in 0..self.cached_len() {
            let _ = self.local.release(self.pair(i));
        }
    }
}

#[napi]
impl NativeBufferPool {
    /// Maps a new pool of one size class; this thread is its first owner.
    ///
    /// Errors: `ERR_ZEROSOCK_POOL_CONFIG` (bad size, count or maxCount), `ERR_ZEROSOCK_POOL_MMAP`.
    #[napi(constructor)]
    pub fn new(options: NativeBufferPoolOptions) -> Result<Self> {
        let pool = Pool::new(PoolConfig {
            classes: vec![SizeClass {
                size: options.size as usize,
                count: options.count,
                max_count: options.max_count,
            }],
            populate: options.populate.unwrap_or(false),
        })
        .map_err(to_napi)?;
        Ok(NativeBufferPool::on_this_thread(pool))
    }

    /// A handle on the pool with id `id` (from `id()` on any thread) for the calling thread.
    ///
    /// Errors: `ERR_INVALID_ARG_VALUE` when no live pool has that id.
    #[napi(factory)]
    pub fn attach(id: f64) -> Result<Self> {
        let pool = (id.fract() == 0.0 && id >= 1.0 && id < u64::MAX as f64)
            .then(|| Pool::attach(id as u64))
            .flatten()
            .ok_or_else(|| invalid(format!("no live buffer pool has id {id}")))?;
        Ok(NativeBufferPool::on_this_thread(pool))
    }

    /// The pool's process-wide id, for `attach` on another thread.
    #[napi]
    pub fn id(&self) -> f64 {
        self.pool.share() as f64
    }

    /// Bytes per buffer (the distance between buffers in a region).
    #[napi]
    pub fn buffer_size(&self) -> u32 {
        self.pool.class_size(CLASS).unwrap_or(0) as u32
    }

    /// Buffers per region (the `count` option); region `r` holds indices `r * count ..`.
    #[napi]
    pub fn region_buffers(&self) -> u32 {
        self.pool.regions().first().map_or(0, |r| r.buffers)
    }

    /// Most `[index, generation]` pairs the cache block holds.
    #[napi]
    pub fn cache_capacity(&self) -> u32 {
        CACHE_PAIRS as u32
    }

    /// The cache block as an external `ArrayBuffer` (see the module docs). Call once.
    #[napi]
    pub fn cache_buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        self.cache.array_buffer(env)
    }

    /// Region `region` as an external `ArrayBuffer`, at most once per region and handle.
    ///
    /// Errors: `ERR_INVALID_ARG_VALUE` for an unmapped or already handed-out region.
    #[napi]
    pub fn region_buffer<'env>(
        &mut self,
        env: &'env Env,
        region: u32,
    ) -> Result<ArrayBuffer<'env>> {
        let info = self
            .pool
            .regions()
            .into_iter()
            .find(|r| r.class == CLASS && r.region == region)
            .ok_or_else(|| invalid(format!("region {region} is not mapped")))?;
        let at = region as usize;
        if self.wrapped.get(at).copied().unwrap_or(false) {
            return Err(invalid(format!("region {region} was already handed to JS")));
        }
        let keep = self.pool.clone();
        // SAFETY: the region stays mapped while any clone of the pool lives; the finalizer owns
        // `keep`, so the memory outlives the ArrayBuffer. JS touches only buffers it holds.
        let buffer =
            unsafe { ArrayBuffer::from_external(env, info.base, info.len, keep, |_, k| drop(k)) }?;
        if self.wrapped.len() <= at {
            self.wrapped.resize(at + 1, false);
        }
        self.wrapped[at] = true;
        Ok(buffer)
    }

    /// Acquires up to `n` buffers for this thread and pushes them onto the cache stack
    /// (updating its length); returns how many. Fewer than `n` only at the hard limit or when
    /// the stack is full.
    ///
    /// Errors: `ERR_ZEROSOCK_POOL_EXHAUSTED` when not one buffer is free, `ERR_ZEROSOCK_POOL_MMAP`.
    #[napi]
    pub fn refill(&self, n: u32) -> Result<u32> {
        let len = self.cached_len();
        let n = (n as usize).min(CACHE_PAIRS - len);
        let mut got = 0;
        while got < n {
            match self.local.acquire(CLASS) {
                Ok(h) => {
                    let at = CACHE_HEAD + 2 * (len + got);
                    self.cache
                        .write(at, &[h.index() as i32, h.generation() as i32]);
                    got += 1;
                }
                Err(PoolError::Exhausted { .. }) if got > 0 => break,
                Err(e) => return Err(to_napi(e)),
            }
        }
        self.cache.write(0, &[(len + got) as i32]);
        Ok(got as u32)
    }

    /// Releases the `n` oldest entries of the cache stack (moving the rest down, updating its
    /// length); returns how many the pool refused (only if JS corrupted the block).
    #[napi]
    pub fn spill(&self, n: u32) -> u32 {
        let len = self.cached_len();
        let n = (n as usize).min(len);
        let mut refused = 0;
        for i in 0..n {
            if self.local.release(self.pair(i)).is_err() {
                refused += 1;
            }
        }
        for i in n..len {
            let at = CACHE_HEAD + 2 * i;
            let pair = [self.cache.read(at), self.cache.read(at + 1)];
            self.cache.write(at - 2 * n, &pair);
        }
        self.cache.write(0, &[(len - n) as i32]);
        refused
    }

    /// Marks buffer `(index, generation)` as handed to another thread (`Pool::hand_off`): the
    /// next `claim` of it, on any thread, succeeds.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (not in use under that generation),
    /// `ERR_ZEROSOCK_BAD_BUFFER` (no such buffer).
    #[napi]
    pub fn hand_off(&self, index: i32, generation: i32) -> Result<()> {
        self.pool
            .hand_off(handle(index, generation))
            .map_err(to_napi)
    }

    /// Takes a handed-off buffer (`Pool::claim`); exactly one claim per hand-off succeeds.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (released, stale, never handed off or already
    /// claimed), `ERR_ZEROSOCK_BAD_BUFFER` (no such buffer).
    #[napi]
    pub fn claim(&self, index: i32, generation: i32) -> Result<()> {
        self.pool.claim(handle(index, generation)).map_err(to_napi)
    }

    /// Releases buffer `(index, generation)` now: into this thread's cache if this thread owns
    /// it, else onto its owner's return ring (deferred free). Returns whether it was deferred.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (double release, stale), `ERR_ZEROSOCK_BAD_BUFFER`.
    #[napi]
    pub fn release(&self, index: i32, generation: i32) -> Result<bool> {
        let h = handle(index, generation);
        let deferred = !self.local.owns(h);
        self.local.release(h).map_err(to_napi)?;
        Ok(deferred)
    }

    /// Takes back into this thread's native cache every buffer other threads released onto its
    /// return ring; returns how many.
    #[napi]
    pub fn drain(&self) -> u32 {
        self.local.drain_returns() as u32
    }

    /// Free buffers in this thread's native cache (not counting the JS cache block).
    #[napi]
    pub fn native_cached(&self) -> u32 {
        self.local.cached(CLASS) as u32
    }

    /// Pool-wide counters.
    #[napi]
    pub fn stats(&self) -> NativeBufferPoolStats {
        let s = self.pool.stats();
        let c = s.classes.first().cloned().unwrap_or_default();
        NativeBufferPoolStats {
            size: c.size as f64,
            capacity: f64::from(c.capacity),
            limit: f64::from(c.limit),
            regions: f64::from(c.regions),
            acquired: c.acquired as f64,
            released: c.released as f64,
            recycled_from_cache: c.recycled_from_cache as f64,
            misses: c.misses as f64,
            returned_via_ring: c.returned_via_ring as f64,
            drained_from_ring: c.drained_from_ring as f64,
            returned_to_shared: c.returned_to_shared as f64,
            grows: c.grows as f64,
            exhausted: c.exhausted as f64,
            in_use: c.in_use as f64,
            high_water: c.high_water as f64,
            shared_free: c.shared_free as f64,
            owners: s.owners as f64,
        }
    }
}
