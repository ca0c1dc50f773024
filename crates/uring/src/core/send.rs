//! The send side: checking that a socket may send, queueing pool buffers and copies, the
//! direct `send(2)` shortcut, shutdown, and the dirty list that the backend turns into writes
//! (epoll) or SEND SQEs (io_uring) at submit time.

use super::{Backend, Core, Kind, Sock, State, WriteShut};
use crate::core::buffers::Buffers;
use crate::core::slab::{Slab, SocketId};
use crate::error::EngineError;
use crate::event::Event;
use std::os::fd::{FromRawFd, RawFd};
use zerosock_pool::BufHandle;

/// A send of at least this many times `direct_send_min` is written directly even when the
/// socket already had a direct write since the last submit.
pub(crate) const DIRECT_ALWAYS_FACTOR: usize = 4;

/// A socket that is not closing. Errors: `BadSocket` (stale id), `SocketClosed`.
pub(crate) fn sock_mut<X>(
    socks: &mut Slab<Sock<X>>,
    id: SocketId,
) -> Result<&mut Sock<X>, EngineError> {
    let s = socks.get_mut(id).ok_or(EngineError::BadSocket)?;
    if s.state == State::Closing {
        return Err(EngineError::SocketClosed);
    }
    Ok(s)
}

/// A stream socket whose write side is open. Errors: `BadSocket`, `SocketClosed`,
/// `WrongSocketKind`.
pub(crate) fn writable<X>(
    socks: &mut Slab<Sock<X>>,
    id: SocketId,
) -> Result<&mut Sock<X>, EngineError> {
    let s = sock_mut(socks, id)?;
    if s.kind != Kind::Stream {
        return Err(EngineError::WrongSocketKind);
    }
    if s.shut != WriteShut::Open || s.failed {
        return Err(EngineError::SocketClosed);
    }
    Ok(s)
}

/// `len` bytes at `offset` of pool buffer `buf`: what `send` and `send_zerocopy` take.
#[derive(Copy, Clone, Debug)]
pub(crate) struct BufRange {
    pub buf: BufHandle,
    pub offset: u32,
    pub len: u32,
}

impl BufRange {
    /// The address of the range's first byte, checking that the range fits the buffer.
    /// Errors: `Pool` (stale handle), `InvalidArgument` (past the end).
    pub fn start(&self, bufs: &Buffers) -> Result<*const u8, EngineError> {
        let cap = bufs.size_of_class(self.buf.class());
        let base = bufs.ptr(self.buf)?;
        if self.offset as usize + self.len as usize > cap {
            return Err(EngineError::InvalidArgument(
                "offset + len is past the buffer's end",
            ));
        }
        // SAFETY: offset + len <= the buffer's size, checked above.
        Ok(unsafe { base.add(self.offset as usize) })
    }
}

/// One non-blocking send(2) of `data` (MSG_DONTWAIT | MSG_NOSIGNAL); returns the bytes the
/// kernel took (0 when it took none or failed: the caller queues the rest and the normal
/// path reports errors).
fn direct_send(fd: RawFd, data: &[u8]) -> usize {
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

impl<B: Backend> Core<B> {
    /// Puts the socket on the dirty list (once) for the next submit.
    pub fn mark_dirty(&mut self, id: SocketId) {
        if let Some(s) = self.socks.get_mut(id) {
            if !s.dirty {
                s.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Queues the bytes of `range`. On success the engine owns its buffer (an empty send
    /// releases it at once); on error the caller still does.
    pub fn send(&mut self, id: SocketId, range: BufRange) -> Result<(), EngineError> {
        let ptr = range.start(&self.bufs)?;
        if self.is_tls(id) {
            // SAFETY: `start` checked that the range lies inside the live buffer we now own.
            let data = unsafe { std::slice::from_raw_parts(ptr, range.len as usize) };
            return self.tls_send_buf(id, range.buf, data);
        }
        let s = writable(&mut self.socks, id)?;
        if range.len == 0 {
            self.bufs.release(range.buf);
            return Ok(());
        }
        s.sendq.push(range.buf, ptr.cast_mut(), range.len);
        self.mark_dirty(id);
        Ok(())
    }

    /// Sends a copy of `data`: when nothing is queued or being written and `data` is at least
    /// `direct_send_min` bytes (0: never), one `send(2)` right now takes what the kernel
    /// accepts and a `Sent` event in `pending` reports it (see `wake_owed`); the rest is
    /// copied into pool buffers and queued.
    ///
    /// One direct write per socket per submit, unless `data` is at least
    /// [`DIRECT_ALWAYS_FACTOR`] × `direct_send_min`: further sends until the next submit are
    /// copied and go out together in one gathered write. The kernel's cost of a TCP write
    /// grows little with its size (loopback, measured: 16 × 64 KiB in one `sendmsg` cost the
    /// sender 0.17 CPU-s/GB, one `send` each 0.56–0.68, and the receiver 0.11 vs 0.17–0.20),
    /// much more than the copy saves.
    pub fn send_copy(&mut self, id: SocketId, mut data: &[u8]) -> Result<(), EngineError> {
        if self.is_tls(id) {
            return self.tls_send(id, data);
        }
        let direct_min = self.direct_send_min;
        let s = writable(&mut self.socks, id)?;
        if direct_min > 0
            && data.len() >= direct_min
            && s.state == State::Open
            && B::idle_writer(&s.be)
            && s.sendq.is_empty()
            && (!s.dirty || data.len() >= direct_min * DIRECT_ALWAYS_FACTOR)
        {
            let n = direct_send(s.fd, data);
            self.stats.write_calls += 1;
            if n > 0 {
                self.stats.bytes_out += n as u64;
                self.pending.push_back(Event::Sent {
                    socket: id,
                    bytes: n as u64,
                });
                // The next submit wakes the owner for it, unless a poll hands it out first (an
                // eventfd write per direct send would cost a 64 KiB stream a syscall a chunk).
                self.wake_owed = true;
                data = &data[n..];
                if data.is_empty() {
                    // Sends that follow before the next submit are gathered (see above); a
                    // remainder marks the socket dirty below.
                    self.mark_dirty(id);
                    return Ok(());
                }
            }
        }
        let r = s.sendq.push_copy(&mut self.bufs, data);
        if !data.is_empty() {
            self.mark_dirty(id);
        }
        r.map(|_| ()).map_err(|(_, e)| EngineError::Pool(e))
    }

    /// Queues `len` bytes of file `fd` from `offset` behind what is queued (sends after it wait
    /// for it). The engine sends from a duplicate of `fd` and closes that duplicate; the
    /// caller keeps `fd`. [`Event::FileSent`] reports the end. On a TLS socket the file is
    /// read and encrypted (core/tls_file.rs).
    pub fn send_file(
        &mut self,
        id: SocketId,
        fd: RawFd,
        offset: u64,
        len: u64,
    ) -> Result<(), EngineError> {
        writable(&mut self.socks, id)?;
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor number; fails cleanly if it is not open.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        self.stats.other_syscalls += 1;
        if dup < 0 {
            // Reported in order like any end of a file send (JS waits for it).
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EBADF);
            self.pending.push_back(Event::FileSent {
                socket: id,
                bytes: 0,
                errno,
            });
            self.wake_owed = true;
            return Ok(());
        }
        if self.is_tls(id) {
            // SAFETY: `dup` was just opened by us and is owned by nothing else.
            let dup = unsafe { std::os::fd::OwnedFd::from_raw_fd(dup) };
            return self.tls_send_file(id, dup, offset, len);
        }
        let s = writable(&mut self.socks, id)?;
        s.sendq.push_file(dup, offset, len);
        self.mark_dirty(id);
        Ok(())
    }

    /// Asks for a FIN once everything queued is written.
    pub fn shutdown_write(&mut self, id: SocketId) -> Result<(), EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if s.kind != Kind::Stream {
            return Err(EngineError::WrongSocketKind);
        }
        if s.shut == WriteShut::Open {
            if self.is_tls(id) && self.tls_end(id) {
                return Ok(()); // the FIN waits for the handshake (core/tls.rs)
            }
            let s = sock_mut(&mut self.socks, id)?;
            s.shut = WriteShut::Wanted;
            self.mark_dirty(id);
        }
        Ok(())
    }
}
