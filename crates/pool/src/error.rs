//! [`PoolError`]: everything that can go wrong, with stable `code()`s.

use crate::BufHandle;
use std::fmt;

/// An error from the pool. A failed call never changes the pool's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// The handle's buffer is not in use under this generation: it was
    /// already released (double release) or the handle is stale.
    /// Code `ERR_ZEROSOCK_BUFFER_RELEASED`.
    BufferReleased {
        /// The rejected handle.
        handle: BufHandle,
    },
    /// The handle or pointer names no buffer of this pool (unknown class,
    /// index beyond the mapped buffers, foreign pointer).
    /// Code `ERR_ZEROSOCK_BAD_BUFFER`.
    BadBuffer {
        /// What was wrong.
        reason: &'static str,
    },
    /// The class reached its hard limit (`max_count`) and every buffer is out.
    /// Code `ERR_ZEROSOCK_POOL_EXHAUSTED`.
    Exhausted {
        /// The class asked for.
        class: usize,
        /// Buffers the class may have at most.
        limit: u32,
    },
    /// The configuration is unusable. Code `ERR_ZEROSOCK_POOL_CONFIG`.
    Config {
        /// What is wrong with it.
        reason: String,
    },
    /// `mmap` failed. Code `ERR_ZEROSOCK_POOL_MMAP`.
    Mmap {
        /// The OS error number.
        errno: i32,
        /// Bytes asked for.
        len: usize,
    },
}

impl PoolError {
    /// The stable error code (also used by the Node binding's `err.code`).
    pub fn code(&self) -> &'static str {
        match self {
            PoolError::BufferReleased { .. } => "ERR_ZEROSOCK_BUFFER_RELEASED",
            PoolError::BadBuffer { .. } => "ERR_ZEROSOCK_BAD_BUFFER",
            PoolError::Exhausted { .. } => "ERR_ZEROSOCK_POOL_EXHAUSTED",
            PoolError::Config { .. } => "ERR_ZEROSOCK_POOL_CONFIG",
            PoolError::Mmap { .. } => "ERR_ZEROSOCK_POOL_MMAP",
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> PoolError {
        PoolError::Config {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::BufferReleased { handle } => write!(
                f,
                "{}: buffer {}/{} generation {} was already released",
                self.code(),
                handle.class(),
                handle.index(),
                handle.generation()
            ),
            PoolError::BadBuffer { reason } => write!(f, "{}: {reason}", self.code()),
            PoolError::Exhausted { class, limit } => write!(
                f,
                "{}: size class {class} has all of its {limit} buffers in use",
                self.code()
            ),
            PoolError::Config { reason } => write!(f, "{}: {reason}", self.code()),
            PoolError::Mmap { errno, len } => write!(
                f,
                "{}: mmap of {len} bytes failed: {}",
                self.code(),
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for PoolError {}
