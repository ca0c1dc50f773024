//! A socket's send queue: pool buffers waiting to be written, in order, gathered into iovecs.
//! Zerocopy sends ride in the same queue (so their order with plain sends is kept) as segments
//! the queue does not own: their memory belongs to the zerocopy tracker until the kernel's
//! notification. A file (`sendFile`) rides the queue as a third kind of segment: bytes of a
//! descriptor the queue owns, written by the backend (sendfile(2) / splice) when it reaches the
//! front; iovec gathering stops at it.

use crate::core::buffers::{Buffers, LARGE, SMALL};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use zerosock_pool::{BufHandle, PoolError};

/// Most iovecs one writev / sendmsg carries.
pub const MAX_IOVECS: usize = 64;

/// One queued range of one pool buffer (or of zerocopy memory).
struct Segment {
    /// The pool buffer the queue owns and releases once sent; `None` for zerocopy segments.
    buf: Option<BufHandle>,
    /// Address of byte `off` of the buffer.
    ptr: *mut u8,
    len: u32,
    /// Bytes free after the range that `push_copy` may append to (engine-owned buffers only).
    spare: u32,
    /// The zerocopy send id of a zerocopy segment.
    zc: Option<u32>,
    /// The file of a file segment (`buf`, `ptr`, `len` unused).
    file: Option<FileSeg>,
}

/// A queued file range: the queue owns `fd` (a duplicate of the caller's) and closes it.
#[derive(Debug)]
pub(crate) struct FileSeg {
    /// The file (owned).
    pub fd: RawFd,
    /// File offset of the next byte to send.
    pub offset: u64,
    /// Bytes still to send.
    pub left: u64,
    /// Bytes sent so far (reported when the segment finishes).
    pub sent: u64,
    /// io_uring: the pipe (read end, write end) the bytes pass through, and the bytes in it.
    pub pipe: Option<(RawFd, RawFd)>,
    pub pipe_cap: u32,
    pub in_pipe: u32,
}

impl Drop for FileSeg {
    fn drop(&mut self) {
        crate::sys::close_fd(self.fd);
        if let Some((r, w)) = self.pipe.take() {
            crate::sys::close_fd(r);
            crate::sys::close_fd(w);
        }
    }
}

/// What [`SendQueue::consume`] did to zerocopy segments: the first and last send id it touched
/// (ids are consecutive in queue order) and whether the last one was written completely.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ZcTouched {
    pub first: u32,
    pub last: u32,
    pub last_complete: bool,
}

/// Pool buffers waiting to be sent; the front is sent first.
#[derive(Default)]
pub(crate) struct SendQueue {
    segs: VecDeque<Segment>,
    bytes: usize,
    /// File segments dropped by [`SendQueue::clear`]: their descriptors are closed with the
    /// queue (when the socket is removed, after the kernel's last completion for it), so an
    /// io_uring splice still queued never meets a reused descriptor number.
    retired: Vec<FileSeg>,
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
            buf: Some(buf),
            ptr,
            len,
            spare: 0,
            zc: None,
            file: None,
        });
        self.bytes += len as usize;
    }

    /// Queues `len` bytes of file `fd` from `offset`; the queue owns `fd` from now on.
    pub fn push_file(&mut self, fd: RawFd, offset: u64, len: u64) {
        self.segs.push_back(Segment {
            buf: None,
            ptr: std::ptr::null_mut(),
            len: 0,
            spare: 0,
            zc: None,
            file: Some(FileSeg {
                fd,
                offset,
                left: len,
                sent: 0,
                pipe: None,
                pipe_cap: 0,
                in_pipe: 0,
            }),
        });
    }

    /// The front segment if it is a file.
    pub fn front_file(&mut self) -> Option<&mut FileSeg> {
        self.segs.front_mut().and_then(|s| s.file.as_mut())
    }

    /// Removes the front file segment (finished or failed); the caller drops it (closing the
    /// file) or takes its pipe first.
    pub fn pop_file(&mut self) -> Option<FileSeg> {
        if self.segs.front().is_some_and(|s| s.file.is_some()) {
            return self.segs.pop_front().and_then(|mut s| s.file.take());
        }
        None
    }

    /// Queues `len` bytes at `ptr` as zerocopy send `id`; the queue does not own the memory.
    pub fn push_zc(&mut self, ptr: *const u8, len: u32, id: u32) {
        self.segs.push_back(Segment {
            buf: None,
            ptr: ptr as *mut u8,
            len,
            spare: 0,
            zc: Some(id),
            file: None,
        });
        self.bytes += len as usize;
    }

    /// Whether the front segment is a zerocopy one.
    pub fn front_is_zc(&self) -> bool {
        self.segs.front().is_some_and(|s| s.zc.is_some())
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
        if let Some(last) = self.segs.back_mut().filter(|l| l.file.is_none()) {
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
                buf: Some(h),
                ptr,
                len: n as u32,
                spare: (cap - n) as u32,
                zc: None,
                file: None,
            });
            self.bytes += n;
            data = &data[n..];
        }
        Ok(())
    }

    /// Fills `iov` from the front of the queue; returns how many entries were used. With
    /// `split_zc`, one call gathers either only zerocopy segments or only plain ones (the kind
    /// of the front), so a zerocopy write never pins plain buffers and vice versa.
    pub fn fill_iovecs(&self, iov: &mut [libc::iovec], split_zc: bool) -> usize {
        let mut n = 0;
        let front_zc = self.front_is_zc();
        for (slot, seg) in iov.iter_mut().zip(self.segs.iter()) {
            if seg.file.is_some() {
                break;
            }
            if split_zc && seg.zc.is_some() != front_zc {
                break;
            }
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

    /// Drops `n` sent bytes from the front, releasing fully sent buffers. Reports the zerocopy
    /// segments it touched (their memory is the tracker's to release).
    pub fn consume(&mut self, mut n: usize, bufs: &mut Buffers) -> Option<ZcTouched> {
        self.bytes -= n.min(self.bytes);
        let mut touched: Option<ZcTouched> = None;
        let mut note = |id: Option<u32>, complete: bool| {
            if let Some(id) = id {
                let t = touched.get_or_insert(ZcTouched {
                    first: id,
                    last: id,
                    last_complete: complete,
                });
                t.last = id;
                t.last_complete = complete;
            }
        };
        while n > 0 {
            let Some(front) = self.segs.front_mut().filter(|f| f.file.is_none()) else {
                break;
            };
            if n < front.len as usize {
                // SAFETY: `n < len`, so the new pointer stays inside the buffer.
                front.ptr = unsafe { front.ptr.add(n) };
                front.len -= n as u32;
                note(front.zc, false);
                break;
            }
            n -= front.len as usize;
            let seg = self.segs.pop_front().expect("front exists");
            note(seg.zc, true);
            if let Some(b) = seg.buf {
                bufs.release(b);
            }
        }
        touched
    }

    /// Releases every queued buffer and closes every queued file (close / error); returns the zerocopy send ids dropped
    /// (their memory is the tracker's to release).
    pub fn clear(&mut self, bufs: &mut Buffers) -> Vec<u32> {
        let mut dropped = Vec::new();
        for seg in self.segs.drain(..) {
            if let Some(b) = seg.buf {
                bufs.release(b);
            }
            if let Some(id) = seg.zc {
                dropped.push(id);
            }
            if let Some(f) = seg.file {
                self.retired.push(f);
            }
        }
        self.bytes = 0;
        dropped
    }
}
