//! The engine's view of the buffer pool: this thread's owner handle plus cached class sizes.
//! Every pool call of the engine goes through here.

use zerosock_pool::{BufHandle, LocalPool, Pool, PoolError};

/// Class of the small (copy-break) buffers.
pub const SMALL: usize = zerosock_pool::SMALL_CLASS;
/// Class of the large (receive) buffers.
pub const LARGE: usize = zerosock_pool::LARGE_CLASS;

/// Pool access for one engine (one thread).
pub(crate) struct Buffers {
    pub pool: Pool,
    local: LocalPool,
    pub small_size: usize,
    pub large_size: usize,
    /// A buffer came back since [`take_returned`](Self::take_returned) last looked.
    returned: bool,
}

impl Buffers {
    /// Wraps `pool`; it needs at least two classes (small, large).
    pub fn new(pool: Pool) -> Result<Self, crate::EngineError> {
        let (Some(small_size), Some(large_size)) = (pool.class_size(SMALL), pool.class_size(LARGE))
        else {
            return Err(crate::EngineError::InvalidArgument(
                "the pool needs a small class 0 and a large class 1",
            ));
        };
        if large_size > u32::MAX as usize {
            return Err(crate::EngineError::InvalidArgument(
                "large buffers must be smaller than 4 GiB",
            ));
        }
        let local = pool.local();
        Ok(Buffers {
            pool,
            local,
            small_size,
            large_size,
            returned: false,
        })
    }

    /// Takes a buffer of `class` and its address.
    pub fn acquire(&mut self, class: usize) -> Result<(BufHandle, *mut u8), PoolError> {
        let h = self.local.acquire(class)?;
        match self.pool.ptr(h) {
            Ok(p) => Ok((h, p)),
            Err(e) => {
                self.release(h);
                Err(e)
            }
        }
    }

    /// Gives back a buffer the engine owns (its own, or one a caller handed over). The engine
    /// holds each such handle once, so the pool has no reason to refuse it.
    pub fn release(&mut self, h: BufHandle) {
        self.returned |= self.local.release(h).is_ok();
    }

    /// Gives back a buffer a caller returns; errors for stale / double releases.
    pub fn release_checked(&mut self, h: BufHandle) -> Result<(), PoolError> {
        self.local.release(h)?;
        self.returned = true;
        Ok(())
    }

    /// Whether any buffer came back since the last call (the send side frees buffers too: a
    /// flushed cork buffer, a forwarded receive buffer).
    pub fn take_returned(&mut self) -> bool {
        std::mem::take(&mut self.returned)
    }

    /// The address of a live buffer.
    pub fn ptr(&self, h: BufHandle) -> Result<*mut u8, PoolError> {
        self.pool.ptr(h)
    }

    /// Bytes per buffer of `class` (0 for an unknown class).
    pub fn size_of_class(&self, class: usize) -> usize {
        match class {
            SMALL => self.small_size,
            LARGE => self.large_size,
            c => self.pool.class_size(c).unwrap_or(0),
        }
    }

    /// Recycles buffers other threads released to us.
    pub fn drain_returns(&mut self) {
        self.local.drain_returns();
    }
}
