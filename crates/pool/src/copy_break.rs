//! Copy-break for the receive path: small reads move into a small buffer so
//! the large receive buffer can go straight back to the kernel.

use crate::{BufHandle, LocalPool, PoolError};

/// What [`copy_break`] did with the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyBreak {
    /// The bytes were copied to the start of `handle` (a buffer of the
    /// smallest class that holds them, owned by the local); the caller may
    /// recycle the receive buffer now and deliver `handle[..len]` instead.
    Copied {
        /// The new small buffer.
        handle: BufHandle,
        /// Bytes copied (`data.len()`).
        len: usize,
    },
    /// Nothing was copied: the data is at least `threshold` long, no class
    /// smaller than the threshold holds it, or the small class is exhausted.
    /// Deliver the receive buffer itself.
    Keep,
}

/// Receive-path copy-break: if `data.len() < threshold`, copy `data` into a
/// fresh buffer of the smallest class that holds it and return
/// [`CopyBreak::Copied`]; otherwise (or when that class is at its hard
/// limit) return [`CopyBreak::Keep`].
///
/// `data` is usually the filled part of a large receive buffer. A typical
/// threshold is the small class's size (2 KiB by default).
///
/// Errors: only `ERR_ZEROSOCK_POOL_MMAP` (the small class failed to grow).
pub fn copy_break(
    local: &LocalPool,
    data: &[u8],
    threshold: usize,
) -> Result<CopyBreak, PoolError> {
    if data.len() >= threshold {
        return Ok(CopyBreak::Keep);
    }
    let inner = local.inner();
    let Some(class) = inner.classes.iter().position(|c| c.plan.size >= data.len()) else {
        return Ok(CopyBreak::Keep);
    };
    let handle = match local.acquire(class) {
        Ok(h) => h,
        Err(PoolError::Exhausted { .. }) => return Ok(CopyBreak::Keep),
        Err(e) => return Err(e),
    };
    let dst = inner.classes[class]
        .buffer_ptr(handle.index())
        .ok_or(PoolError::BadBuffer {
            reason: "buffer index beyond the mapped buffers of its class",
        })?;
    // SAFETY: `dst` starts a buffer of at least `data.len()` bytes that we
    // just acquired, so nothing else writes it; `copy` tolerates overlap in
    // case the caller passed bytes of a buffer it no longer held.
    unsafe { std::ptr::copy(data.as_ptr(), dst, data.len()) };
    Ok(CopyBreak::Copied {
        handle,
        len: data.len(),
    })
}
