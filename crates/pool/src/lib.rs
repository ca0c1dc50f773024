//! zerosock-pool: the page-pool recycler where every received and corked
//! byte lives.
//!
//! The idea is XDP's page_pool: after warm-up, buffers never go back to the
//! allocator. Memory is mapped per size class in regions (anonymous,
//! private, 2 MiB aligned when large enough) of fixed-size buffers. Each
//! thread acquires and releases through its [`LocalPool`], a LIFO cache in
//! front of the class's shared free list (refilled and spilled in batches).
//! A buffer released on a thread that does not own it is never recycled
//! there: it goes onto its owner's MPSC return ring and the owner takes it
//! back on its next acquire or tick ([`LocalPool::drain_returns`]).
//!
//! Buffers are named by [`BufHandle`]s (class, index, generation in a
//! `u64`); every release bumps the generation, so stale handles and double
//! releases are refused with `ERR_ZEROSOCK_BUFFER_RELEASED` and never
//! corrupt the pool.
//!
//! [`Pool::share`] gives a pool a process-wide id that other threads turn
//! back into the pool with [`Pool::attach`] (used for JS worker_threads);
//! [`Pool::hand_off`] / [`Pool::claim`] pass one buffer to another thread
//! with exactly-once pickup.
//!
//! ```
//! use zerosock_pool::{Pool, PoolConfig, SMALL_CLASS};
//! let pool = Pool::new(PoolConfig::default())?;
//! let local = pool.local();
//! let h = local.acquire(SMALL_CLASS)?;
//! // SAFETY: we hold `h` and make no other reference to its bytes.
//! unsafe { pool.slice_mut(h)?[..5].copy_from_slice(b"hello") };
//! local.release(h)?;
//! assert!(local.release(h).is_err()); // double release is refused
//! # Ok::<(), zerosock_pool::PoolError>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod class;
mod config;
mod copy_break;
mod error;
mod handle;
mod handoff;
mod lent;
mod local;
mod meta;
mod owner;
mod pool;
mod region;
mod registry;
mod stats;
mod sync;

pub use config::{
    PoolConfig, SizeClass, BUFFER_ALIGN, LARGE_CLASS, MAX_BUFFER_SIZE, MAX_CLASSES, MAX_OWNERS,
    MAX_REGIONS_PER_CLASS, SMALL_CLASS,
};
pub use copy_break::{copy_break, CopyBreak};
pub use error::PoolError;
pub use handle::{BufHandle, MAX_BUFFERS_PER_CLASS};
pub use lent::LentHandles;
pub use local::LocalPool;
pub use owner::OwnerId;
pub use pool::{BufPosition, Pool, PoolReturner, RegionInfo};
pub use stats::{BufferEvents, ClassStats, LocalStats, PoolStats};
