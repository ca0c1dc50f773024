//! A socket's send queue: pool buffers waiting to be written, in order, gathered into iovecs.

use crate::buffers::{Buffers, LARGE, SMALL};
use std::collections::VecDeque;
use zerosock_pool::{BufHandle, PoolError};

/// Most iovecs one writev / sendmsg carries.
pub const MAX_IOVECS: usize = 64;

/// One queued range of one pool buffer.
struct Segment {
    buf: BufHandle,
    /// Address of byte `off` of the buffer.
    ptr: *mut u8,
    len: u32,
    /// Bytes free after the range that `push_copy` may append to (engine-owned buffers only).
    spare: u32,
}

/// Pool buffers waiting to be sent; the front is sent first.
#[derive(Default)]
pub(crate) struct SendQueue {
    segs: VecDeque<Segment>,
    bytes: usize,
}

impl SendQueue {
    /// Bytes not yet sent.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Nothing left to send.
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Queues `len` bytes at `off` of `buf` (the queue now owns `buf`).
    pub fn push(&mut self, buf: BufHandle, ptr: *mut u8, len: u32) {
        self.segs.push_back(Segment {
            buf,
            ptr,
            len,
            spare: 0,
        });
        self.bytes += len as usize;
    }

    /// Copies `data` into pool buffers: first into the spare room of the last engine-owned
    /// buffer, then into new ones (small class for short tails, large otherwise).
    ///
    /// Appending behind a range that is being sent is fine: the kernel only reads the bytes
    /// of the iovecs it was given, and we only write past them.
    ///
    /// On a pool error the bytes copied so far stay queued and the count is returned in the
    /// error's tuple so the caller can report a partial send.
    pub fn push_copy(
        &mut self,
        bufs: &mut Buffers,
        mut data: &[u8],
    ) -> Result<(), (usize, PoolError)> {
        let total = data.len();
        if let Some(last) = self.segs.back_mut() {
            let n = data.len().min(last.spare as usize);
            if n > 0 {
                // SAFETY: the buffer has `spare` writable bytes after `ptr + len`, owned by
                // this queue and not part of any in-flight iovec.
                unsafe {
                    std::ptr::copy_nonoverlapping(data.as_ptr(), last.ptr.add(last.len as usize), n)
                };
                last.len += n as u32;
                last.spare -= n as u32;
                self.bytes += n;
                data = &data[n..];
            }
        }
        while !data.is_empty() {
            let class = if data.len() <= bufs.small_size {
                SMALL
            } else {
                LARGE
            };
            let (h, ptr) = bufs.acquire(class).map_err(|e| (total - data.len(), e))?;
            let cap = bufs.size_of_class(class);
            let n = data.len().min(cap);
            // SAFETY: `ptr` is a fresh pool buffer of `cap >= n` bytes, owned by us.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, n) };
            self.segs.push_back(Segment {
                buf: h,
                ptr,
                len: n as u32,
                spare: (cap - n) as u32,
            });
            self.bytes += n;
            data = &data[n..];
        }
        Ok(())
    }

    /// Fills `iov` from the front of the queue; returns how many entries were used.
    pub fn fill_iovecs(&self, iov: &mut [libc::iovec]) -> usize {
        let mut n = 0;
        for (slot, seg) in iov.iter_mut().zip(self.segs.iter()) {
            slot.iov_base = seg.ptr.cast();
            slot.iov_len = seg.len as usize;
            n += 1;
        }
        n
    }

    /// The front range (for a single-buffer send).
    pub fn front(&self) -> Option<(*const u8, u32)> {
        self.segs.front().map(|s| (s.ptr as *const u8, s.len))
    }

    /// Drops `n` sent bytes from the front, releasing fully sent buffers.
    pub fn consume(&mut self, mut n: usize, bufs: &mut Buffers) {
        self.bytes -= n.min(self.bytes);
        while n > 0 {
            let Some(front) = self.segs.front_mut() else {
                return;
            };
            if n < front.len as usize {
                // SAFETY: `n < len`, so the new pointer stays inside the buffer.
                front.ptr = unsafe { front.ptr.add(n) };
                front.len -= n as u32;
                return;
            }
            n -= front.len as usize;
            let seg = self.segs.pop_front().expect("front exists");
            bufs.release(seg.buf);
        }
    }

    /// Releases every queued buffer (close / error).
    pub fn clear(&mut self, bufs: &mut Buffers) {
        for seg in self.segs.drain(..) {
            bufs.release(seg.buf);
        }
        self.bytes = 0;
    }
}
