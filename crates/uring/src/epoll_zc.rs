//! Zerocopy on the epoll backend: MSG_ZEROCOPY sends whose notifications are read from the
//! error queue (EPOLLERR wakes us), closes that wait for the kernel to let go, and
//! TCP_ZEROCOPY_RECEIVE reads into per-socket receive windows.

use super::EpollEngine;
use crate::buffers::LARGE;
use crate::common::{copy_break, Kind, State};
use crate::error::{EngineError, SysError};
use crate::event::Event;
use crate::slab::SocketId;
use crate::sys;
use crate::zerocopy::errqueue::{self, ZcNote};
use crate::zerocopy::recv::{self, MappedMemory, RecvWindow, CHUNK_LEN};
use crate::zerocopy::{disconnect, ZC_CLOSE_ABORT_AFTER, ZC_CLOSE_GIVE_UP_AFTER};
use std::os::fd::RawFd;
use std::time::Instant;
use zerosock_pool::BufHandle;

/// epoll `data` of the zerocopy close timer.
pub(super) const TIMER_TOKEN: u64 = u64::MAX - 1;

impl EpollEngine {
    /// Queues a zerocopy send of `len` bytes at `ptr` (owned by `owner` when it is a pool
    /// buffer) behind everything queued on the socket; returns its send id.
    pub(crate) fn send_zerocopy_src(
        &mut self,
        id: SocketId,
        owner: Option<BufHandle>,
        ptr: *const u8,
        len: u32,
    ) -> Result<u32, EngineError> {
        if len == 0 {
            return Err(EngineError::InvalidArgument("a zerocopy send needs bytes"));
        }
        let s = crate::send_side::writable(&mut self.socks, id)?;
        let t = s.zc.get_or_insert_with(Box::default);
        if !t.configured {
            t.configured = true;
            if errqueue::enable(s.fd).is_err() {
                // No MSG_ZEROCOPY for this socket: sends are written as copies and say so.
                t.fallback = true;
            }
            self.stats.other_syscalls += 1;
        }
        if t.fallback {
            self.stats.zerocopy_fallback_sends += 1;
        }
        let send_id = t.add(owner, len);
        s.sendq.push_zc(ptr, len, send_id);
        self.stats.zerocopy_sends += 1;
        self.stats.zerocopy_bytes += u64::from(len);
        self.mark_dirty(id);
        Ok(send_id)
    }

    /// Reads the socket's zerocopy notifications; true if there was at least one.
    pub(super) fn drain_errqueue(&mut self, id: SocketId) -> bool {
        let Some(s) = self.socks.get_mut(id) else {
            return false;
        };
        let mut notes: Vec<ZcNote> = Vec::new();
        self.stats.other_syscalls += errqueue::drain(s.fd, &mut notes);
        if notes.is_empty() {
            return false;
        }
        self.stats.zc_notifications += notes.len() as u64;
        let Some(t) = s.zc.as_mut() else {
            return true;
        };
        for n in &notes {
            t.notify(n.lo, n.hi, n.copied, &mut self.bufs);
        }
        if t.blocked {
            // ENOBUFS waited for pinned memory to be freed: try again.
            t.blocked = false;
            if !s.sendq.is_empty() {
                self.mark_dirty(id);
            }
        }
        let s = self.socks.get_mut(id).expect("still there");
        let done = s.zc.as_ref().is_some_and(|t| t.has_done());
        if s.state == State::Closing {
            if !s.zc.as_ref().is_some_and(|t| t.kernel_holds()) {
                self.finish_close(id);
                self.zc_closing.retain(|c| c.0 != id);
                self.arm_zc_timer(Instant::now());
            }
        } else if done && !self.zc_ready.contains(&id) {
            self.zc_ready.push(id);
        }
        true
    }

    /// Reports finished zerocopy sends as ranges.
    pub(super) fn emit_zc_done(&mut self, out: &mut Vec<Event>) {
        if self.zc_ready.is_empty() {
            return;
        }
        let mut ranges = Vec::new();
        for id in std::mem::take(&mut self.zc_ready) {
            let Some(t) = self.socks.get_mut(id).and_then(|s| s.zc.as_mut()) else {
                continue;
            };
            ranges.clear();
            t.take_ranges(&mut ranges);
            crate::zerocopy::report_done(id, &ranges, &mut self.stats, out);
        }
    }

    /// Closes sockets whose zerocopy memory the kernel let go of; past the grace period aborts
    /// the connection (which frees what it still sends), past the limit gives up.
    pub(super) fn check_zc_closing(&mut self) {
        if self.zc_closing.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut keep = Vec::new();
        for (id, since, aborted) in std::mem::take(&mut self.zc_closing) {
            let Some(s) = self.socks.get(id) else {
                continue;
            };
            let holds = s.zc.as_ref().is_some_and(|t| t.kernel_holds());
            let waited = now.duration_since(since);
            if !holds || waited >= ZC_CLOSE_GIVE_UP_AFTER {
                self.finish_close(id);
                continue;
            }
            let mut aborted = aborted;
            if !aborted && waited >= ZC_CLOSE_ABORT_AFTER {
                disconnect(s.fd);
                self.stats.other_syscalls += 1;
                aborted = true;
                // Notifications of the purged data come through the error queue.
                self.drain_errqueue(id);
                if self.socks.get(id).is_none() {
                    continue;
                }
            }
            keep.push((id, since, aborted));
        }
        self.zc_closing.extend(keep);
        self.arm_zc_timer(now);
    }

    /// Arms the timer for the next zerocopy close deadline (a timerfd in the epoll set).
    fn arm_zc_timer(&mut self, now: Instant) {
        let next = self
            .zc_closing
            .iter()
            .map(|&(_, since, aborted)| {
                since
                    + if aborted {
                        ZC_CLOSE_GIVE_UP_AFTER
                    } else {
                        ZC_CLOSE_ABORT_AFTER
                    }
            })
            .min();
        let Some(at) = next else {
            if self.zc_timer >= 0 {
                // Nothing waits: give the descriptor back (made again on the next such close).
                sys::close_fd(self.zc_timer);
                self.zc_timer = -1;
                self.stats.other_syscalls += 1;
            }
            return;
        };
        if self.zc_timer < 0 {
            // SAFETY: plain timerfd_create; the result is checked.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return;
            }
            if self
                .ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, TIMER_TOKEN)
                .is_err()
            {
                sys::close_fd(fd);
                return;
            }
            self.zc_timer = fd;
        }
        let left = at
            .saturating_duration_since(now)
            .max(std::time::Duration::from_millis(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
            },
        };
        // SAFETY: `spec` is a valid itimerspec; our timerfd.
        unsafe { libc::timerfd_settime(self.zc_timer, 0, &spec, std::ptr::null_mut()) };
        self.stats.other_syscalls += 1;
    }

    /// The zerocopy timer fired.
    pub(super) fn on_zc_timer(&mut self) {
        let mut ticks = 0u64;
        // SAFETY: reads 8 bytes into a valid u64 (clears the timerfd).
        unsafe { libc::read(self.zc_timer, (&mut ticks as *mut u64).cast(), 8) };
        self.stats.other_syscalls += 1;
        self.check_zc_closing();
    }

    /// Turns zerocopy receive on or off for a socket (or, on a listener, for the connections
    /// it accepts from now on). Returns whether the mapped path is active.
    pub(crate) fn set_zerocopy_receive(
        &mut self,
        id: SocketId,
        on: bool,
    ) -> Result<bool, EngineError> {
        let s = super::sock_mut(&mut self.socks, id)?;
        s.zc_recv = on;
        if s.kind == Kind::Listener {
            return Ok(on);
        }
        if !on {
            let w = s.zc_window.take();
            self.close_window(w);
            return Ok(false);
        }
        if s.zc_window.is_some() {
            return Ok(true);
        }
        let fd = s.fd;
        Ok(self.open_window(id, fd))
    }

    /// Maps a receive window for socket `id`; false (and counted) when the kernel refuses.
    pub(super) fn open_window(&mut self, id: SocketId, fd: RawFd) -> bool {
        self.stats.other_syscalls += 1;
        let Ok(w) = RecvWindow::map(fd) else {
            self.stats.zc_recv_fallbacks += 1;
            return false;
        };
        let Some(wid) = self.windows.insert_with(|_| w) else {
            self.stats.zc_recv_fallbacks += 1;
            return false;
        };
        if let Some(s) = self.socks.get_mut(id) {
            s.zc_window = Some(wid);
        }
        true
    }

    /// The socket of window `w` is gone (or stopped zerocopy receive): retire the window once
    /// nothing of it is lent.
    pub(super) fn close_window(&mut self, w: Option<u32>) {
        let Some(wid) = w else {
            return;
        };
        let Some(win) = self.windows.get_mut(wid) else {
            return;
        };
        win.socket_closed = true;
        if win.retirable() {
            if let Some(win) = self.windows.remove(wid) {
                win.retire();
            }
        }
    }

    /// Before closing a socket whose window outlives the descriptor (a chunk is still lent, so
    /// the mapping holds the socket open): shut it down so the peer sees the close now.
    pub(super) fn shutdown_if_window_lent(&mut self, w: Option<u32>, fd: RawFd) {
        let Some(win) = w.and_then(|wid| self.windows.get(wid)) else {
            return;
        };
        if !win.has_lent() {
            return;
        }
        // SAFETY: plain shutdown(2) on the socket we are about to close.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        self.stats.other_syscalls += 1;
    }

    /// Gives back a chunk reported in `Event::Mapped`.
    /// Errors: `InvalidArgument` for a window or chunk that is not lent.
    pub(crate) fn release_mapped(&mut self, window: u32, chunk: u32) -> Result<(), EngineError> {
        let win = self
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
            if let Some(win) = self.windows.remove(window) {
                win.retire();
            }
        } else {
            self.wake_starved();
        }
        Ok(())
    }

    /// The address of a lent chunk and a handle keeping its range reserved.
    pub(crate) fn mapped_chunk(
        &self,
        window: u32,
        chunk: u32,
    ) -> Option<(*const u8, MappedMemory)> {
        self.windows.get(window)?.lent_chunk(chunk)
    }

    /// `read_some` for a socket with a receive window: TCP_ZEROCOPY_RECEIVE into a free chunk
    /// plus a copy buffer, then a plain read of what neither took. True if more may be there.
    pub(super) fn read_some_zc(
        &mut self,
        id: SocketId,
        out: &mut Vec<Event>,
        start: usize,
        max: usize,
    ) -> bool {
        for _ in 0..super::READ_BUDGET {
            if out.len() - start >= max {
                return true;
            }
            let Some(s) = self.socks.get_mut(id) else {
                return false;
            };
            if !s.can_read() {
                return false;
            }
            let (fd, Some(wid)) = (s.fd, s.zc_window) else {
                return false;
            };
            let Some((h, copybuf)) = self.copy_buffer(id) else {
                return false;
            };
            let chunk = self.windows.get_mut(wid).and_then(|w| w.take_chunk());
            let Some((chunk, addr)) = chunk else {
                // Every chunk is lent: read by copy this time.
                self.bufs.release(h);
                match self.plain_read(id, out, usize::MAX) {
                    ReadOutcome::More => continue,
                    ReadOutcome::Done => return false,
                }
            };
            let cap = self.bufs.large_size;
            // SAFETY: `addr` is a clean chunk of the socket's own window; `copybuf` is a pool
            // buffer of `cap` bytes we own.
            let r = unsafe { recv::receive(fd, addr, CHUNK_LEN, copybuf, cap) };
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
                    match self.plain_read(id, out, usize::MAX) {
                        ReadOutcome::More => continue,
                        ReadOutcome::Done => return false,
                    }
                }
            };
            if r.mapped > 0 {
                if let Some(w) = self.windows.get_mut(wid) {
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
            } else if let Some(w) = self.windows.get_mut(wid) {
                w.untake_chunk(chunk);
            }
            if r.copied > 0 {
                self.deliver_copy(id, h, copybuf, r.copied as usize, out);
            } else {
                self.bufs.release(h);
            }
            if r.skip > 0 && matches!(self.plain_read(id, out, r.skip as usize), ReadOutcome::Done)
            {
                return false;
            }
            let s = self.socks.get_mut(id).expect("still there");
            if r.inq == 0 && r.skip == 0 && !s.rdhup {
                s.readable = false;
                return false;
            }
        }
        true
    }

    /// A large buffer for the copy part, or `None` after marking the socket starved.
    fn copy_buffer(&mut self, id: SocketId) -> Option<(BufHandle, *mut u8)> {
        match self.bufs.acquire(LARGE) {
            Ok(b) => Some(b),
            Err(_) => {
                self.stats.recv_buffer_exhausted += 1;
                let s = self.socks.get_mut(id)?;
                if !s.starved {
                    s.starved = true;
                    self.starved.push(id);
                }
                None
            }
        }
    }

    fn give_back(&mut self, wid: u32, chunk: u32, h: BufHandle) {
        if let Some(w) = self.windows.get_mut(wid) {
            w.untake_chunk(chunk);
        }
        self.bufs.release(h);
    }

    /// Reports `len` bytes the kernel copied into pool buffer `h` (copy-break applies).
    pub(super) fn deliver_copy(
        &mut self,
        id: SocketId,
        h: BufHandle,
        ptr: *mut u8,
        len: usize,
        out: &mut Vec<Event>,
    ) {
        if self.socks.get(id).is_some_and(|s| s.zc_recv) {
            self.stats.recv_copied_bytes += len as u64;
        }
        self.stats.bytes_in += len as u64;
        self.stats.recv_events += 1;
        let buf = match copy_break(&mut self.bufs, ptr, len, self.copy_break) {
            Some(small) => {
                self.stats.copy_breaks += 1;
                self.bufs.release(h);
                small
            }
            None => h,
        };
        out.push(Event::Data {
            socket: id,
            buf,
            offset: 0,
            len: len as u32,
        });
    }

    /// One plain recv of at most `limit` bytes into a large buffer.
    fn plain_read(&mut self, id: SocketId, out: &mut Vec<Event>, limit: usize) -> ReadOutcome {
        let Some((h, ptr)) = self.copy_buffer(id) else {
            return ReadOutcome::Done;
        };
        let Some(s) = self.socks.get_mut(id) else {
            self.bufs.release(h);
            return ReadOutcome::Done;
        };
        let want = self.bufs.large_size.min(limit);
        // SAFETY: `ptr` is a buffer of at least `want` bytes we own.
        let rc = unsafe { libc::recv(s.fd, ptr.cast(), want, 0) };
        self.stats.read_calls += 1;
        if rc > 0 {
            let len = rc as usize;
            self.deliver_copy(id, h, ptr, len, out);
            return ReadOutcome::More;
        }
        self.bufs.release(h);
        let s = self.socks.get_mut(id).expect("still there");
        if rc == 0 {
            s.readable = false;
            s.eof = true;
            out.push(Event::Eof { socket: id });
            return ReadOutcome::Done;
        }
        match super::errno() {
            libc::EAGAIN => {
                s.readable = false;
                ReadOutcome::Done
            }
            libc::EINTR => ReadOutcome::More,
            e => {
                s.readable = false;
                self.fail(id, SysError::new(e, "read"), out);
                ReadOutcome::Done
            }
        }
    }
}

/// What a plain read found.
enum ReadOutcome {
    /// Bytes were delivered (or EINTR): try again.
    More,
    /// EOF, EAGAIN, error, or no buffer: stop.
    Done,
}
