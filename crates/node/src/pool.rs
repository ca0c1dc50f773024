//! `NativeBufferPool`: one JS thread's handle on a `zerosock_pool::Pool` of one size class
//! (DESIGN.md §1, §8). Conversion only — the pool logic is in `zerosock_pool`; the JS-side
//! cache policy is in ts/mem/buffer-pool.ts.
//!
//! - The owner thread makes the pool with the constructor; any other thread (worker_thread)
//!   gets its own handle with `attach(id)` (`id()` is `Pool::share`). Each handle has its own
//!   `LocalPool`, so a buffer released on a thread that does not own it goes onto its owner's
//!   return ring (deferred free), taken back by the owner's next refill or `drain()`.
//! - Pool memory reaches JS as one external `ArrayBuffer` per region (`regionBuffer`); JS makes
//!   `Uint8Array` views by offset. A buffer is named by `(index, generation)`.
//! - JS keeps a LIFO stack of free buffers in the "cache block" (`cacheBuffer`, see
//!   `zerosock_wire::cache_block`), so acquire and release need no native call and no JS
//!   object per buffer.

use crate::errors::{coded, to_napi, Result};
use crate::shared_mem::array_buffer;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::collections::BTreeMap;
use zerosock_wire::cache_block::{handle, PoolHandle, CACHE_PAIRS, CLASS};
use zerosock_wire::stats::{values, POOL_STATS};

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

/// One JS thread's handle on a pool.
#[napi]
pub struct NativeBufferPool {
    handle: PoolHandle,
}

fn invalid(msg: impl Into<String>) -> napi::Error<crate::errors::Code> {
    coded("ERR_INVALID_ARG_VALUE", msg)
}

#[napi]
impl NativeBufferPool {
    /// Maps a new pool of one size class; this thread is its first owner.
    ///
    /// Errors: `ERR_ZEROSOCK_POOL_CONFIG` (bad size, count or maxCount), `ERR_ZEROSOCK_POOL_MMAP`.
    #[napi(constructor)]
    pub fn new(options: NativeBufferPoolOptions) -> Result<Self> {
        let o = options;
        let populate = o.populate.unwrap_or(false);
        let handle = PoolHandle::one_class(o.size as usize, o.count, o.max_count, populate);
        Ok(NativeBufferPool {
            handle: handle.map_err(to_napi)?,
        })
    }

    /// A handle on the pool with id `id` (from `id()` on any thread) for the calling thread.
    ///
    /// Errors: `ERR_INVALID_ARG_VALUE` when no live pool has that id.
    #[napi(factory)]
    pub fn attach(id: f64) -> Result<Self> {
        let handle = PoolHandle::attach(id);
        let handle = handle.ok_or_else(|| invalid(format!("no live buffer pool has id {id}")))?;
        Ok(NativeBufferPool { handle })
    }

    /// The pool's process-wide id, for `attach` on another thread.
    #[napi]
    pub fn id(&self) -> f64 {
        self.handle.pool().share() as f64
    }

    /// Bytes per buffer (the distance between buffers in a region).
    #[napi]
    pub fn buffer_size(&self) -> u32 {
        self.handle.pool().class_size(CLASS).unwrap_or(0) as u32
    }

    /// Buffers per region (the `count` option); region `r` holds indices `r * count ..`.
    #[napi]
    pub fn region_buffers(&self) -> u32 {
        self.handle
            .pool()
            .regions()
            .first()
            .map_or(0, |r| r.buffers)
    }

    /// Most `[index, generation]` pairs the cache block holds.
    #[napi]
    pub fn cache_capacity(&self) -> u32 {
        CACHE_PAIRS as u32
    }

    /// The cache block as an external `ArrayBuffer` (see the module docs). Call once.
    #[napi]
    pub fn cache_buffer<'env>(&self, env: &'env Env) -> napi::Result<ArrayBuffer<'env>> {
        array_buffer(env, self.handle.cache())
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
        let info = self.handle.take_region(region).map_err(invalid)?;
        let pool = self.handle.pool().clone();
        // SAFETY: the region stays mapped while any clone of the pool lives; the finalizer owns
        // `pool`, so the memory outlives the ArrayBuffer. JS touches only buffers it holds.
        unsafe { ArrayBuffer::from_external(env, info.base, info.len, pool, |_, k| drop(k)) }
            .map_err(to_napi)
    }

    /// Acquires up to `n` buffers for this thread and pushes them onto the cache stack
    /// (updating its length); returns how many. Fewer than `n` only at the hard limit or when
    /// the stack is full.
    ///
    /// Errors: `ERR_ZEROSOCK_POOL_EXHAUSTED` when not one buffer is free, `ERR_ZEROSOCK_POOL_MMAP`.
    #[napi]
    pub fn refill(&self, n: u32) -> Result<u32> {
        Ok(self.handle.refill(n as usize).map_err(to_napi)? as u32)
    }

    /// Releases the `n` oldest entries of the cache stack (moving the rest down, updating its
    /// length); returns how many the pool refused (only if JS corrupted the block).
    #[napi]
    pub fn spill(&self, n: u32) -> u32 {
        self.handle.spill(n as usize) as u32
    }

    /// Marks buffer `(index, generation)` as handed to another thread (`Pool::hand_off`): the
    /// next `claim` of it, on any thread, succeeds.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (not in use under that generation),
    /// `ERR_ZEROSOCK_BAD_BUFFER` (no such buffer).
    #[napi]
    pub fn hand_off(&self, index: i32, generation: i32) -> Result<()> {
        let h = handle(index, generation);
        self.handle.pool().hand_off(h).map_err(to_napi)
    }

    /// Takes a handed-off buffer (`Pool::claim`); exactly one claim per hand-off succeeds.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (released, stale, never handed off or already
    /// claimed), `ERR_ZEROSOCK_BAD_BUFFER` (no such buffer).
    #[napi]
    pub fn claim(&self, index: i32, generation: i32) -> Result<()> {
        let h = handle(index, generation);
        self.handle.pool().claim(h).map_err(to_napi)
    }

    /// Releases buffer `(index, generation)` now: into this thread's cache if this thread owns
    /// it, else onto its owner's return ring (deferred free). Returns whether it was deferred.
    ///
    /// Errors: `ERR_ZEROSOCK_BUFFER_RELEASED` (double release, stale), `ERR_ZEROSOCK_BAD_BUFFER`.
    #[napi]
    pub fn release(&self, index: i32, generation: i32) -> Result<bool> {
        let h = handle(index, generation);
        self.handle.release(h).map_err(to_napi)
    }

    /// Takes back into this thread's native cache every buffer other threads released onto its
    /// return ring; returns how many.
    #[napi]
    pub fn drain(&self) -> u32 {
        self.handle.local().drain_returns() as u32
    }

    /// Free buffers in this thread's native cache (not counting the JS cache block).
    #[napi]
    pub fn native_cached(&self) -> u32 {
        self.handle.local().cached(CLASS) as u32
    }

    /// Pool-wide counters.
    #[napi(ts_return_type = "import('./records.generated').NativeBufferPoolStats")]
    pub fn stats(&self) -> BTreeMap<&'static str, f64> {
        values(POOL_STATS, &self.handle.stats_source()).collect()
    }
}
