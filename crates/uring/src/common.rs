//! Pieces both backends share: copy-break and the shutdown state.

use crate::buffers::{Buffers, SMALL};
use crate::event::Event;
use crate::slab::SocketId;
use std::collections::VecDeque;
use zerosock_pool::BufHandle;

/// What `close()` promises: no event of the socket follows but `Closed`. Drops the socket's
/// events not handed out yet (e.g. the `Sent` of a direct write, or `Data` a full poll kept
/// back), gives back the buffers they held and returns the mapped chunks `(window, chunk)` they
/// named, for the caller to release.
pub(crate) fn forget_pending(
    pending: &mut VecDeque<Event>,
    id: SocketId,
    bufs: &mut Buffers,
) -> Vec<(u32, u32)> {
    let mut mapped = Vec::new();
    pending.retain(|ev| {
        if ev.connection() != Some(id) {
            return true;
        }
        match *ev {
            Event::Data { buf, .. } => bufs.release(buf),
            Event::Mapped { window, chunk, .. } => mapped.push((window, chunk)),
            _ => {}
        }
        false
    });
    mapped
}

/// If `len < threshold`, copies the `len` bytes at `src` into a fresh small buffer and
/// returns it; `None` means "deliver the large buffer itself" (long read or no small buffer).
pub(crate) fn copy_break(
    bufs: &mut Buffers,
    src: *const u8,
    len: usize,
    threshold: usize,
) -> Option<BufHandle> {
    if len >= threshold || len > bufs.small_size {
        return None;
    }
    let (h, dst) = bufs.acquire(SMALL).ok()?;
    // SAFETY: `src` holds `len` received bytes in a buffer we own; `dst` is a fresh small buffer
    // of at least `len` bytes; they are different buffers.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
    Some(h)
}

/// Where a socket's write side is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum WriteShut {
    /// Open.
    Open,
    /// `shutdown_write` called; FIN goes out once the queue is empty.
    Wanted,
    /// FIN issued.
    Done,
}

/// Socket role.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Listener,
    Stream,
}

/// Lifecycle of a socket.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Connecting,
    Open,
    Closing,
}

/// One non-blocking send(2) of `data` (MSG_DONTWAIT | MSG_NOSIGNAL); returns the bytes the
/// kernel took (0 when it took none or failed: the caller queues the rest and the normal
/// path reports errors).
pub(crate) fn direct_send(fd: std::os::fd::RawFd, data: &[u8]) -> usize {
    // SAFETY: `data` is valid for reads of its length.
    let rc = unsafe {
        libc::send(
            fd,
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    rc.max(0) as usize
}

/// The address of `offset` in pool buffer `buf`, checking that `offset + len` fits.
/// Errors: `Pool` (stale handle), `InvalidArgument` (past the end).
pub(crate) fn checked_range(
    bufs: &Buffers,
    buf: BufHandle,
    offset: u32,
    len: u32,
) -> Result<*const u8, crate::EngineError> {
    let cap = bufs.size_of_class(buf.class());
    let base = bufs.ptr(buf)?;
    if offset as usize + len as usize > cap {
        return Err(crate::EngineError::InvalidArgument(
            "offset + len is past the buffer's end",
        ));
    }
    // SAFETY: offset + len <= the buffer's size, checked above.
    Ok(unsafe { base.add(offset as usize) })
}
