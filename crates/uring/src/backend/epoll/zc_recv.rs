//! Zerocopy receive on the epoll backend: TCP_ZEROCOPY_RECEIVE into a free chunk of the
//! socket's receive window plus a copy buffer, then a plain read of what neither took; the
//! windows' lifetimes (open, lend, release, retire with the socket).

use super::recv_window::{self, RecvWindow, CHUNK_LEN};
use super::{EpollBackend, EpollSock};
use crate::core::buffers::LARGE;
use crate::core::slab::SocketId;
use crate::core::{sock_mut, Core, Kind, Sock};
use crate::error::{EngineError, SysError};
use crate::event::Event;
use crate::sys;
use std::os::fd::RawFd;
use zerosock_pool::BufHandle;

impl Core<EpollBackend> {
    /// Turns zerocopy receive on or off for a socket (or, on a listener, for the connections
    /// it accepts from now on). Returns whether the mapped path is active.
    pub(super) fn switch_mapped_receive(
        &mut self,
        id: SocketId,
        on: bool,
    ) -> Result<bool, EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        s.zc_recv = on;
        if s.kind == Kind::Listener {
            return Ok(on);
        }
        if !on {
            let w = s.be.zc_window.take();
            self.close_window(w);
            return Ok(false);
        }
        if s.be.zc_window.is_some() {
            return Ok(true);
        }
        let fd = s.fd;
        Ok(self.open_window(id, fd))
    }

    /// Maps a receive window for socket `id`; false (and counted) when the kernel refuses.
    fn open_window(&mut self, id: SocketId, fd: RawFd) -> bool {
        self.stats.other_syscalls += 1;
        let Ok(w) = RecvWindow::map(fd) else {
            self.stats.zc_recv_fallbacks += 1;
            return false;
        };
        let Some(wid) = self.be.windows.insert_with(|_| w) else {
            self.stats.zc_recv_fallbacks += 1;
            return false;
        };
        if let Some(s) = self.socks.get_mut(id) {
            s.be.zc_window = Some(wid);
        }
        true
    }

    /// The socket of window `w` is gone (or stopped zerocopy receive): retire the window once
    /// nothing of it is lent.
    fn close_window(&mut self, w: Option<u32>) {
        let Some(wid) = w else {
            return;
        };
        let Some(win) = self.be.windows.get_mut(wid) else {
            return;
        };
        win.socket_closed = true;
        if win.retirable() {
            if let Some(win) = self.be.windows.remove(wid) {
                win.retire();
            }
        }
    }

    /// Closes the socket's descriptor; a receive window with a chunk still lent outlives it
    /// (the mapping holds the socket open), so the socket is shut down first for the peer to
    /// see the close now, and the window retires once nothing of it is lent.
    pub(super) fn close_descriptor(&mut self, s: &Sock<EpollSock>) {
        let lent =
            s.be.zc_window
                .and_then(|wid| self.be.windows.get(wid))
                .is_some_and(|w| w.has_lent());
        if lent {
            // SAFETY: plain shutdown(2) on the socket we are about to close.
            unsafe { libc::shutdown(s.fd, libc::SHUT_RDWR) };
            self.stats.other_syscalls += 1;
        }
        self.close_window(s.be.zc_window);
        sys::close_fd(s.fd);
    }

    /// Gives back a chunk reported in `Event::Mapped`.
    /// Errors: `InvalidArgument` for a window or chunk that is not lent.
    pub(super) fn release_chunk(&mut self, window: u32, chunk: u32) -> Result<(), EngineError> {
        let win = self
            .be
            .windows
            .get_mut(window)
            .ok_or(EngineError::InvalidArgument("no such receive window"))?;
        if !win.release(chunk) {
            return Err(EngineError::InvalidArgument(
                "that receive chunk is not lent (released already?)",
            ));
        }
        self.stats.other_syscalls += 1;
        if win.retirable() {
            if let Some(win) = self.be.windows.remove(window) {
                win.retire();
            }
        } else {
            self.wake_starved();
        }
        Ok(())
    }

    /// One read of a socket with a receive window: TCP_ZEROCOPY_RECEIVE into a free chunk
    /// plus a copy buffer, then a plain read of what neither took. True if more may be there.
    pub(super) fn read_mapped(&mut self, id: SocketId, out: &mut Vec<Event>) -> bool {
        let Some(s) = self.socks.get(id) else {
            return false;
        };
        let (fd, Some(wid)) = (s.fd, s.be.zc_window) else {
            return false;
        };
        let Some((h, copybuf)) = self.copy_buffer(id) else {
            return false;
        };
        let chunk = self.be.windows.get_mut(wid).and_then(|w| w.take_chunk());
        let Some((chunk, addr)) = chunk else {
            // Every chunk is lent: read by copy this time.
            self.bufs.release(h);
            return self.plain_read(id, out, usize::MAX).is_some();
        };
        let cap = self.bufs.large_size;
        // SAFETY: `addr` is a clean chunk of the socket's own window; `copybuf` is a pool
        // buffer of `cap` bytes we own.
        let r = unsafe { recv_window::receive(fd, addr, CHUNK_LEN, copybuf, cap) };
        self.stats.zc_recv_calls += 1;
        self.stats.other_syscalls += 1;
        let r = match r {
            Ok(r) if r.err != 0 => {
                self.give_back(wid, chunk, h);
                self.fail(id, SysError::new(r.err, "read"), out);
                return false;
            }
            Ok(r) if r.mapped + r.copied + r.skip > 0 => r,
            _ => {
                // Nothing (or EIO: the peer finished): a plain read settles it — EOF,
                // EAGAIN, an error, or bytes that raced in.
                self.give_back(wid, chunk, h);
                return self.plain_read(id, out, usize::MAX).is_some();
            }
        };
        if r.mapped > 0 {
            if let Some(w) = self.be.windows.get_mut(wid) {
                w.lend(chunk);
            }
            self.stats.recv_mapped_bytes += u64::from(r.mapped);
            self.stats.bytes_in += u64::from(r.mapped);
            self.stats.recv_events += 1;
            out.push(Event::Mapped {
                socket: id,
                window: wid,
                chunk,
                len: r.mapped,
            });
        } else if let Some(w) = self.be.windows.get_mut(wid) {
            w.untake_chunk(chunk);
        }
        if r.copied > 0 {
            if !self.deliver_data(id, (h, copybuf), r.copied as usize, out) {
                self.bufs.release(h);
            }
        } else {
            self.bufs.release(h);
        }
        if r.skip > 0 && self.plain_read(id, out, r.skip as usize).is_none() {
            return false;
        }
        let s = self.socks.get_mut(id).expect("still there");
        if r.inq == 0 && r.skip == 0 && !s.be.rdhup {
            s.be.readable = false;
            return false;
        }
        true
    }

    /// A large buffer for the copy part, or `None` after marking the socket starved.
    fn copy_buffer(&mut self, id: SocketId) -> Option<(BufHandle, *mut u8)> {
        let b = self.bufs.acquire(LARGE).ok();
        if b.is_none() {
            self.starve(id);
        }
        b
    }

    fn give_back(&mut self, wid: u32, chunk: u32, h: BufHandle) {
        if let Some(w) = self.be.windows.get_mut(wid) {
            w.untake_chunk(chunk);
        }
        self.bufs.release(h);
    }
}
