//! [`PoolHandle`]: one JS thread's handle on a one-class `zerosock_pool::Pool`
//! (`NativeBufferPool`), with the "cache block" JS keeps its free buffers in.
//!
//! The cache block is shared ints laid out as `[length, 0, 0, 0, index0, generation0, index1,
//! generation1, …]`: a LIFO stack of free buffers that JS pops and pushes without a native
//! call. Native code only pushes onto it ([`PoolHandle::refill`]) and takes its oldest entries
//! off ([`PoolHandle::spill`]); what is left on it is released when the handle is dropped.
//! JS may corrupt the block: lengths are clamped and the pool refuses bad handles.

use crate::shared_ints::SharedInts;
use crate::stats::PoolClassSources;
use zerosock_pool::{BufHandle, LocalPool, Pool, PoolConfig, PoolError, RegionInfo, SizeClass};

/// The one size class of a JS buffer pool.
pub const CLASS: usize = 0;
/// Ints before the first `[index, generation]` pair of the cache block.
pub const CACHE_HEAD: usize = 4;
/// Most `[index, generation]` pairs the cache block holds.
pub const CACHE_PAIRS: usize = 256;

/// The buffer `(index, generation)` of the one class.
pub fn handle(index: i32, generation: i32) -> BufHandle {
    BufHandle::new(CLASS, index as u32, generation as u32)
}

/// One thread's handle on a pool: its own `LocalPool` (a buffer released on a thread that does
/// not own it goes onto its owner's return ring) and its cache block.
pub struct PoolHandle {
    pool: Pool,
    local: LocalPool,
    cache: SharedInts,
    /// Regions this handle has already handed to JS.
    wrapped: Vec<bool>,
}

impl PoolHandle {
    /// A handle on `pool` for the calling thread, with an empty cache block.
    pub fn new(pool: Pool) -> PoolHandle {
        PoolHandle {
            local: pool.local(),
            pool,
            cache: SharedInts::new(CACHE_HEAD + 2 * CACHE_PAIRS),
            wrapped: Vec::new(),
        }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// This thread's owner handle.
    pub fn local(&self) -> &LocalPool {
        &self.local
    }

    /// The cache block.
    pub fn cache(&self) -> &SharedInts {
        &self.cache
    }

    /// Entries on the cache stack (JS writes the length; clamped so bad values stay in bounds).
    fn cached_len(&self) -> usize {
        (self.cache.read(0).max(0) as usize).min(CACHE_PAIRS)
    }

    fn pair(&self, i: usize) -> BufHandle {
        let at = CACHE_HEAD + 2 * i;
        handle(self.cache.read(at), self.cache.read(at + 1))
    }

    /// Maps a new pool of one class of `size`-byte buffers (`count` up front and per growth
    /// step, at most `max_count`); the calling thread is its first owner. Errors: the pool's
    /// (`ERR_ZEROSOCK_POOL_CONFIG`, `ERR_ZEROSOCK_POOL_MMAP`).
    pub fn one_class(
        size: usize,
        count: u32,
        max_count: Option<u32>,
        populate: bool,
    ) -> Result<PoolHandle, PoolError> {
        let classes = vec![SizeClass {
            size,
            count,
            max_count,
        }];
        Ok(Self::new(Pool::new(PoolConfig { classes, populate })?))
    }

    /// A handle on the live pool with process-wide id `id` (a JS number: `Pool::share`), for
    /// the calling thread; None when no live pool has that id.
    pub fn attach(id: f64) -> Option<PoolHandle> {
        let whole = id.fract() == 0.0 && id >= 1.0 && id < u64::MAX as f64;
        whole
            .then(|| Pool::attach(id as u64))
            .flatten()
            .map(Self::new)
    }

    /// Region `region` of the pool, to hand to JS: once per handle. Errors say why not (not
    /// mapped, or handed out already).
    pub fn take_region(&mut self, region: u32) -> Result<RegionInfo, String> {
        let info = self
            .pool
            .regions()
            .into_iter()
            .find(|r| r.class == CLASS && r.region == region);
        let info = info.ok_or_else(|| format!("region {region} is not mapped"))?;
        let at = region as usize;
        if self.wrapped.get(at).copied().unwrap_or(false) {
            return Err(format!("region {region} was already handed to JS"));
        }
        if self.wrapped.len() <= at {
            self.wrapped.resize(at + 1, false);
        }
        self.wrapped[at] = true;
        Ok(info)
    }

    /// What `stats()` is read from ([`crate::stats::POOL_STATS`]).
    pub fn stats_source(&self) -> PoolClassSources {
        let s = self.pool.stats();
        PoolClassSources {
            class: s.classes.first().cloned().unwrap_or_default(),
            owners: s.owners,
        }
    }

    /// Acquires up to `n` buffers and pushes them onto the cache stack (updating its length);
    /// returns how many. Fewer than `n` only at the hard limit or when the stack is full; an
    /// error only when not one buffer could be had.
    pub fn refill(&self, n: usize) -> Result<usize, PoolError> {
        let len = self.cached_len();
        let n = n.min(CACHE_PAIRS - len);
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
                Err(e) => return Err(e),
            }
        }
        self.cache.write(0, &[(len + got) as i32]);
        Ok(got)
    }

    /// Releases the `n` oldest entries of the cache stack (moving the rest down, updating its
    /// length); returns how many the pool refused (only if JS corrupted the block).
    pub fn spill(&self, n: usize) -> usize {
        let len = self.cached_len();
        let n = n.min(len);
        let refused = (0..n)
            .filter(|&i| self.local.release(self.pair(i)).is_err())
            .count();
        for i in n..len {
            let at = CACHE_HEAD + 2 * i;
            let pair = [self.cache.read(at), self.cache.read(at + 1)];
            self.cache.write(at - 2 * n, &pair);
        }
        self.cache.write(0, &[(len - n) as i32]);
        refused
    }

    /// Releases buffer `h` now: into this thread's cache if this thread owns it, else onto its
    /// owner's return ring. Returns whether it was deferred (not this thread's).
    pub fn release(&self, h: BufHandle) -> Result<bool, PoolError> {
        let deferred = !self.local.owns(h);
        self.local.release(h)?;
        Ok(deferred)
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        // Free buffers still on the JS cache go back to the pool. Values JS corrupted are
        // refused by the pool's checks, which is all we can do with them.
        for i in 0..self.cached_len() {
            let _ = self.local.release(self.pair(i));
        }
    }
}
