//! The epoll backend: non-blocking sockets under edge-triggered epoll, reads into large pool
//! buffers (same copy-break as io_uring), sendmsg of up to 64 queued buffers, and the same
//! events and semantics as the io_uring backend. Zerocopy send (MSG_ZEROCOPY) and receive
//! (TCP_ZEROCOPY_RECEIVE) live in the child module `zc`.

#[path = "epoll_zc.rs"]
mod zc;

use crate::buffers::{Buffers, LARGE};
use crate::common::{Kind, State, WriteShut};
use crate::config::EngineConfig;
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use crate::send_side::{self, impl_stream_sock, send_side, sock_mut};
use crate::sendq::{SendQueue, MAX_IOVECS};
use crate::slab::{Slab, SocketId};
use crate::sys::{self, RawAddr};
use crate::zerocopy::recv::RecvWindow;
use crate::zerocopy::tracker::ZcTracker;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};
use zerosock_pool::BufHandle;

/// epoll `data` of the wake-up eventfd.
const WAKE_TOKEN: u64 = u64::MAX;
/// Reads per socket per poll before others get a turn.
const READ_BUDGET: u32 = 16;
/// Accepts per listener per poll.
const ACCEPT_BUDGET: u32 = 128;

struct ESock {
    fd: RawFd,
    kind: Kind,
    state: State,
    readable: bool,
    writable: bool,
    /// The peer's FIN (or an error) was signalled: read until 0 even after short reads.
    rdhup: bool,
    paused: bool,
    eof: bool,
    failed: bool,
    in_ready: bool,
    dirty: bool,
    starved: bool,
    sendq: SendQueue,
    shut: WriteShut,
    /// Zerocopy sends (made on the first `send_zerocopy`).
    zc: Option<Box<ZcTracker>>,
    /// Zerocopy receive: the socket's receive window (id in `windows`).
    zc_window: Option<u32>,
    /// Zerocopy receive was asked for (bytes are counted as mapped / copied).
    zc_recv: bool,
}

impl ESock {
    fn new(fd: RawFd, kind: Kind, state: State) -> Self {
        ESock {
            fd,
            kind,
            state,
            readable: false,
            writable: false,
            rdhup: false,
            paused: false,
            eof: false,
            failed: false,
            in_ready: false,
            dirty: false,
            starved: false,
            sendq: SendQueue::default(),
            shut: WriteShut::Open,
            zc: None,
            zc_window: None,
            zc_recv: false,
        }
    }

    fn can_read(&self) -> bool {
        self.readable && !self.paused && !self.eof && !self.failed && self.state == State::Open
    }
}

impl_stream_sock!(ESock, |s| s.writable);

/// The epoll engine.
pub(crate) struct EpollEngine {
    epfd: RawFd,
    evfd: RawFd,
    bufs: Buffers,
    socks: Slab<ESock>,
    pending: VecDeque<Event>,
    /// Sockets (listeners too) with unread input.
    ready: VecDeque<SocketId>,
    dirty: Vec<SocketId>,
    starved: Vec<SocketId>,
    /// Listeners that hit EMFILE & co., and since when.
    accept_stalled: Vec<(SocketId, Instant)>,
    events: Vec<libc::epoll_event>,
    iov: Box<[libc::iovec; MAX_IOVECS]>,
    stats: EngineStats,
    copy_break: usize,
    nodelay: bool,
    direct_send_min: usize,
    woken: bool,
    /// Zerocopy receive windows, by id.
    windows: Slab<RecvWindow>,
    /// Sockets with finished zerocopy sends to report.
    zc_ready: Vec<SocketId>,
    /// Sockets closed while the kernel still held zerocopy memory: (id, since, aborted).
    zc_closing: Vec<(SocketId, Instant, bool)>,
    /// timerfd for `zc_closing` deadlines (-1 until needed).
    zc_timer: RawFd,
    /// A direct send left a `Sent` in `pending` that nothing has announced yet (SendSide).
    wake_owed: bool,
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

impl EpollEngine {
    pub fn new(cfg: &EngineConfig) -> Result<Self, EngineError> {
        let bufs = Buffers::new(cfg.pool.clone())?;
        // SAFETY: plain epoll_create1 call; the result is checked.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(SysError::last("epoll_create1").into());
        }
        let evfd = match sys::eventfd() {
            Ok(fd) => fd,
            Err(e) => {
                sys::close_fd(epfd);
                return Err(e.into());
            }
        };
        let mut engine = EpollEngine {
            epfd,
            evfd,
            bufs,
            socks: Slab::new(),
            pending: VecDeque::new(),
            ready: VecDeque::new(),
            dirty: Vec::new(),
            starved: Vec::new(),
            accept_stalled: Vec::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 256],
            iov: Box::new(
                [libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                }; MAX_IOVECS],
            ),
            stats: EngineStats::default(),
            copy_break: cfg.copy_break.min(cfg.pool.class_size(0).unwrap_or(0)),
            nodelay: cfg.nodelay,
            direct_send_min: cfg.direct_send_min,
            woken: false,
            wake_owed: false,
            windows: Slab::new(),
            zc_ready: Vec::new(),
            zc_closing: Vec::new(),
            zc_timer: -1,
        };
        engine.ctl(libc::EPOLL_CTL_ADD, evfd, libc::EPOLLIN as u32, WAKE_TOKEN)?;
        Ok(engine)
    }

    fn ctl(&mut self, op: i32, fd: RawFd, events: u32, token: u64) -> Result<(), SysError> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event; `epfd` is ours.
        if unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut ev) } != 0 {
            return Err(SysError::last("epoll_ctl"));
        }
        self.stats.other_syscalls += 1;
        Ok(())
    }

    fn register(&mut self, fd: RawFd, id: SocketId) -> Result<(), SysError> {
        let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, id as u64)
    }

    pub fn notify_fd(&self) -> RawFd {
        self.epfd
    }

    pub fn describe(&self) -> String {
        String::from("epoll (edge-triggered), notify: epoll fd")
    }

    fn wake(&mut self) {
        if !self.woken {
            self.woken = true;
            sys::eventfd_signal(self.evfd);
            self.stats.other_syscalls += 1;
        }
    }

    fn push_pending(&mut self, ev: Event) {
        self.pending.push_back(ev);
        self.wake();
    }

    pub fn listen(
        &mut self,
        addr: SocketAddr,
        backlog: u32,
        reuse_port: bool,
    ) -> Result<SocketId, SysError> {
        let fd = sys::listen_socket(&addr, backlog, reuse_port, true)?;
        let Some(id) = self
            .socks
            .insert_with(|_| ESock::new(fd, Kind::Listener, State::Open))
        else {
            sys::close_fd(fd);
            return Err(SysError::new(libc::EMFILE, "listen"));
        };
        if let Err(e) = self.ctl(
            libc::EPOLL_CTL_ADD,
            fd,
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            id as u64,
        ) {
            self.socks.remove(id);
            sys::close_fd(fd);
            return Err(e);
        }
        Ok(id)
    }

    pub fn connect(&mut self, addr: SocketAddr) -> Result<SocketId, SysError> {
        let fd = sys::tcp_socket(&addr, true)?;
        if self.nodelay {
            let _ = sys::set_nodelay(fd, true);
        }
        let raw = RawAddr::new(&addr);
        // SAFETY: `raw` holds a valid sockaddr of `raw.len` bytes.
        let rc = unsafe { libc::connect(fd, raw.as_ptr(), raw.len) };
        self.stats.other_syscalls += 1;
        let immediate = if rc == 0 {
            Ok(())
        } else {
            match errno() {
                libc::EINPROGRESS => Err(None),
                e => Err(Some(e)),
            }
        };
        let state = if immediate.is_ok() {
            State::Open
        } else {
            State::Connecting
        };
        let Some(id) = self
            .socks
            .insert_with(|_| ESock::new(fd, Kind::Stream, state))
        else {
            sys::close_fd(fd);
            return Err(SysError::new(libc::EMFILE, "connect"));
        };
        if let Err(e) = self.register(fd, id) {
            self.socks.remove(id);
            sys::close_fd(fd);
            return Err(e);
        }
        match immediate {
            Ok(()) => self.push_pending(Event::Connected { socket: id }),
            Err(None) => {}
            Err(Some(e)) => {
                let s = self.socks.get_mut(id).expect("just inserted");
                s.state = State::Open;
                s.failed = true;
                self.push_pending(Event::Error {
                    socket: id,
                    err: SysError::new(e, "connect"),
                });
            }
        }
        Ok(id)
    }

    pub fn local_addr(&self, id: SocketId) -> Result<SocketAddr, EngineError> {
        send_side::address(&self.socks, id, false)
    }

    pub fn peer_addr(&self, id: SocketId) -> Result<SocketAddr, EngineError> {
        send_side::address(&self.socks, id, true)
    }

    fn mark_dirty(&mut self, id: SocketId) {
        send_side!(self).mark_dirty(id);
    }

    pub fn send(
        &mut self,
        id: SocketId,
        buf: BufHandle,
        offset: u32,
        len: u32,
    ) -> Result<(), EngineError> {
        send_side!(self).send(id, buf, offset, len)
    }

    pub fn send_zerocopy(
        &mut self,
        id: SocketId,
        buf: BufHandle,
        offset: u32,
        len: u32,
    ) -> Result<u32, EngineError> {
        let ptr = crate::common::checked_range(&self.bufs, buf, offset, len)?;
        self.send_zerocopy_src(id, Some(buf), ptr, len)
    }

    pub fn send_copy(&mut self, id: SocketId, data: &[u8]) -> Result<(), EngineError> {
        send_side!(self).send_copy(id, data, self.direct_send_min)
    }

    pub fn debt(&mut self) -> crate::SubmitDebt {
        let zerocopy_done = self.zc_ready.len();
        crate::SubmitDebt {
            zerocopy_done,
            ..send_side!(self).debt()
        }
    }

    pub fn queued_bytes(&self, id: SocketId) -> usize {
        self.socks.get(id).map_or(0, |s| s.sendq.bytes())
    }

    pub fn shutdown_write(&mut self, id: SocketId) -> Result<(), EngineError> {
        send_side!(self).shutdown_write(id)
    }

    pub fn close(&mut self, id: SocketId) -> Result<(), EngineError> {
        sock_mut(&mut self.socks, id)?;
        for (window, chunk) in crate::common::forget_pending(&mut self.pending, id, &mut self.bufs)
        {
            let _ = self.release_mapped(window, chunk);
        }
        let s = self.socks.get_mut(id).expect("checked above");
        let dropped = s.sendq.clear(&mut self.bufs);
        if let Some(t) = s.zc.as_mut() {
            t.abort(&dropped, &mut self.bufs);
            if t.kernel_holds() {
                // The kernel still reads zerocopy memory: keep the descriptor (its error queue
                // tells when it is done) and report Closed then.
                s.state = State::Closing;
                self.zc_closing.push((id, Instant::now(), false));
                self.check_zc_closing();
                return Ok(());
            }
        }
        self.finish_close(id);
        Ok(())
    }

    /// Closes the descriptor, releases what is left and reports `Closed`.
    fn finish_close(&mut self, id: SocketId) {
        let Some(mut s) = self.socks.remove(id) else {
            return;
        };
        s.sendq.clear(&mut self.bufs);
        if let Some(mut t) = s.zc.take() {
            if t.kernel_holds() {
                // Gave up waiting (see `check_zc_closing`): leak rather than reuse.
                self.stats.zc_leaked_sends += t.unfinished() as u64;
                t.forget_all();
            } else {
                t.release_all(&mut self.bufs);
            }
        }
        self.shutdown_if_window_lent(s.zc_window, s.fd);
        self.close_window(s.zc_window);
        sys::close_fd(s.fd);
        self.stats.other_syscalls += 1;
        self.push_pending(Event::Closed { socket: id });
        self.retry_stalled_accepts(true);
    }

    /// Puts listeners stalled by EMFILE & co. back on the ready list: all when `fd_freed`,
    /// else those that waited 100 ms.
    fn retry_stalled_accepts(&mut self, fd_freed: bool) {
        if self.accept_stalled.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut keep = Vec::new();
        let mut moved = false;
        for (id, since) in std::mem::take(&mut self.accept_stalled) {
            if fd_freed || now.duration_since(since) >= Duration::from_millis(100) {
                moved = true;
                if let Some(l) = self.socks.get_mut(id) {
                    l.readable = true;
                    if !l.in_ready {
                        l.in_ready = true;
                        self.ready.push_back(id);
                    }
                }
            } else {
                keep.push((id, since));
            }
        }
        self.accept_stalled = keep;
        if moved {
            self.wake();
        }
    }

    pub fn pause_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        sock_mut(&mut self.socks, id)?.paused = true;
        Ok(())
    }

    pub fn resume_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if s.paused {
            s.paused = false;
            if s.readable && !s.in_ready {
                s.in_ready = true;
                self.ready.push_back(id);
                self.wake();
            }
        }
        Ok(())
    }

    pub fn release_recv(&mut self, h: BufHandle) -> Result<(), EngineError> {
        self.bufs.release_checked(h)?;
        self.wake_starved();
        Ok(())
    }

    /// Buffers came back: sockets that stopped reading for want of one go back on the ready
    /// list, and the owner is woken to read them.
    fn wake_starved(&mut self) {
        if self.starved.is_empty() {
            return;
        }
        for id in std::mem::take(&mut self.starved) {
            if let Some(s) = self.socks.get_mut(id) {
                s.starved = false;
                if !s.in_ready {
                    s.in_ready = true;
                    self.ready.push_back(id);
                }
            }
        }
        self.wake();
    }

    pub fn submit(&mut self) -> Result<usize, SysError> {
        if std::mem::take(&mut self.wake_owed) && !self.pending.is_empty() {
            self.wake();
        }
        let mut pending_events = Vec::new();
        let n = self.flush_dirty(&mut pending_events);
        self.emit_zc_done(&mut pending_events);
        if !pending_events.is_empty() {
            self.pending.extend(pending_events);
            self.wake();
        }
        Ok(n)
    }

    pub fn submit_and_collect(&mut self, out: &mut Vec<Event>) -> Result<usize, SysError> {
        self.wake_owed = false;
        out.extend(self.pending.drain(..));
        let n = self.flush_dirty(out);
        self.emit_zc_done(out);
        Ok(n)
    }

    /// Writes every dirty queue; returns the number of write calls.
    fn flush_dirty(&mut self, out: &mut Vec<Event>) -> usize {
        let mut calls = 0;
        for id in std::mem::take(&mut self.dirty) {
            calls += self.write_out(id, out);
        }
        calls
    }

    /// Writes as much of the socket's queue as the kernel takes; FIN when empty and wanted.
    fn write_out(&mut self, id: SocketId, out: &mut Vec<Event>) -> usize {
        let Some(s) = self.socks.get_mut(id) else {
            return 0;
        };
        s.dirty = false;
        if s.state != State::Open || s.failed {
            return 0;
        }
        let mut calls = 0;
        let mut wrote = 0u64;
        let mut force_copy = false;
        while s.writable && !s.sendq.is_empty() {
            let kernel_zc = s.zc.as_ref().is_some_and(|t| !t.fallback);
            let zc_write = kernel_zc && !force_copy && s.sendq.front_is_zc();
            if zc_write && s.zc.as_ref().is_some_and(|t| t.blocked) {
                break;
            }
            let n = s
                .sendq
                .fill_iovecs(&mut self.iov[..], kernel_zc && !force_copy);
            let want: usize = self.iov[..n].iter().map(|v| v.iov_len).sum();
            // SAFETY: msghdr is plain old data; all-zero is valid.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = self.iov.as_mut_ptr();
            msg.msg_iovlen = n as _;
            let mut flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
            if zc_write {
                flags |= libc::MSG_ZEROCOPY;
            }
            // SAFETY: the iovecs point at queued pool buffers we own or at zerocopy memory the
            // caller keeps valid until its notification, valid for their lengths.
            let rc = unsafe { libc::sendmsg(s.fd, &msg, flags) };
            calls += 1;
            self.stats.write_calls += 1;
            if rc >= 0 {
                let k = rc as usize;
                let touched = s.sendq.consume(k, &mut self.bufs);
                if let Some(t) = s.zc.as_mut() {
                    if zc_write {
                        // The kernel numbered this write with the socket's next zerocopy id.
                        self.stats.zc_writes += 1;
                        let key = t.next_key();
                        t.resolve(key, false, touched, true, &mut self.bufs);
                    } else if let Some(touched) = touched {
                        t.written_by_copy(touched, &mut self.bufs);
                    }
                    if t.has_done() && !self.zc_ready.contains(&id) {
                        self.zc_ready.push(id);
                    }
                }
                force_copy = false;
                wrote += k as u64;
                self.stats.bytes_out += k as u64;
                self.stats.send_ops += 1;
                if k < want {
                    // A short write means the send buffer is full; EPOLLOUT tells us when not.
                    s.writable = false;
                }
            } else {
                match errno() {
                    libc::EAGAIN => s.writable = false,
                    libc::EINTR => {}
                    libc::ENOBUFS if zc_write => {
                        // Too much memory pinned (optmem): wait for notifications to free
                        // some, or copy this once when none is outstanding.
                        self.stats.zc_enobufs += 1;
                        let t = s.zc.as_mut().expect("zc_write");
                        if t.kernel_holds() {
                            t.blocked = true;
                            break;
                        }
                        force_copy = true;
                    }
                    e => {
                        if wrote > 0 {
                            out.push(Event::Sent {
                                socket: id,
                                bytes: wrote,
                            });
                        }
                        self.fail(id, SysError::new(e, "write"), out);
                        return calls;
                    }
                }
            }
        }
        if wrote > 0 {
            out.push(Event::Sent {
                socket: id,
                bytes: wrote,
            });
        }
        // Reading the error queue above may have finished a close and removed the socket.
        let Some(s) = self.socks.get_mut(id) else {
            return calls;
        };
        if s.sendq.is_empty() && s.shut == WriteShut::Wanted {
            s.shut = WriteShut::Done;
            // SAFETY: plain shutdown(2) on our socket.
            let rc = unsafe { libc::shutdown(s.fd, libc::SHUT_WR) };
            self.stats.other_syscalls += 1;
            if rc != 0 {
                let e = errno();
                if e != libc::ENOTCONN {
                    self.fail(id, SysError::new(e, "shutdown"), out);
                }
            }
        }
        calls
    }

    fn fail(&mut self, id: SocketId, err: SysError, out: &mut Vec<Event>) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.failed {
            return;
        }
        s.failed = true;
        let dropped = s.sendq.clear(&mut self.bufs);
        if let Some(t) = s.zc.as_mut() {
            t.abort(&dropped, &mut self.bufs);
        }
        out.push(Event::Error { socket: id, err });
    }

    pub fn poll(&mut self, out: &mut Vec<Event>, max: usize) -> usize {
        self.poll_inner(out, max, 0)
    }

    /// Whether a `poll()` now would find something (one poll(2) of the epoll fd).
    pub fn work_visible(&mut self) -> bool {
        !self.pending.is_empty() || sys::readable_now(self.epfd)
    }

    pub fn wait(&mut self, timeout: Duration, out: &mut Vec<Event>) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            let n = self.poll_inner(out, usize::MAX, ms.max(if left.is_zero() { 0 } else { 1 }));
            if n > 0 || Instant::now() >= deadline {
                return n;
            }
        }
    }

    fn poll_inner(&mut self, out: &mut Vec<Event>, max: usize, timeout_ms: i32) -> usize {
        self.wake_owed = false; // `pending` is handed out here (leftovers wake below)
        let start = out.len();
        self.bufs.drain_returns();
        self.retry_stalled_accepts(false);
        self.check_zc_closing();
        while out.len() - start < max {
            let Some(ev) = self.pending.pop_front() else {
                break;
            };
            out.push(ev);
        }
        let mut scratch = Vec::new();
        self.flush_dirty(&mut scratch);
        out.append(&mut scratch);
        let idle = out.len() == start && self.ready.is_empty() && self.pending.is_empty();
        let timeout = if idle { timeout_ms } else { 0 };
        // SAFETY: `events` is a valid, writable array of its length.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd,
                self.events.as_mut_ptr(),
                self.events.len() as i32,
                timeout,
            )
        };
        self.stats.epoll_waits += 1;
        for i in 0..n.max(0) as usize {
            let ev = self.events[i];
            self.on_epoll_event(ev.u64, ev.events, out);
        }
        self.run_ready(out, start, max);
        self.flush_dirty(&mut scratch);
        out.append(&mut scratch);
        self.emit_zc_done(out);
        self.check_zc_closing();
        if out.len() - start > max {
            // Keep the promise of at most `max`: the rest goes first next time.
            for ev in out.drain(start + max..).rev() {
                self.pending.push_front(ev);
            }
        }
        if !self.ready.is_empty() || !self.pending.is_empty() {
            self.wake();
        }
        if out.len() == start {
            self.stats.empty_polls += 1;
        }
        out.len() - start
    }

    fn on_epoll_event(&mut self, token: u64, events: u32, out: &mut Vec<Event>) {
        if token == WAKE_TOKEN {
            sys::eventfd_clear(self.evfd);
            self.stats.other_syscalls += 1;
            self.woken = false;
            return;
        }
        if token == zc::TIMER_TOKEN {
            self.on_zc_timer();
            return;
        }
        let id = token as SocketId;
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        let mut err = events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        if s.zc.is_some() && events & libc::EPOLLERR as u32 != 0 {
            // EPOLLERR also means "zerocopy notifications queued".
            let found = self.drain_errqueue(id);
            // (A closing socket may have finished closing right there.)
            err = events & libc::EPOLLHUP as u32 != 0 || !found;
        }
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.state == State::Closing {
            return;
        }
        if s.state == State::Connecting {
            if events & libc::EPOLLOUT as u32 == 0 && !err {
                return;
            }
            let e = sys::take_so_error(s.fd);
            self.stats.other_syscalls += 1;
            s.state = State::Open;
            if e != 0 {
                self.fail(id, SysError::new(e, "connect"), out);
                return;
            }
            out.push(Event::Connected { socket: id });
            s.writable = true;
            if !s.sendq.is_empty() || s.shut == WriteShut::Wanted {
                self.mark_dirty(id);
            }
            let s = self.socks.get_mut(id).expect("still there");
            if events & libc::EPOLLIN as u32 != 0 || events & libc::EPOLLRDHUP as u32 != 0 {
                s.readable = true;
                s.rdhup |= events & libc::EPOLLRDHUP as u32 != 0;
            }
        } else {
            if events & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 || err {
                s.readable = true;
                s.rdhup |= events & libc::EPOLLRDHUP as u32 != 0 || err;
            }
            if events & libc::EPOLLOUT as u32 != 0 {
                s.writable = true;
                if !s.sendq.is_empty() || s.shut == WriteShut::Wanted {
                    self.mark_dirty(id);
                }
            }
        }
        let s = self.socks.get_mut(id).expect("still there");
        if s.readable && !s.in_ready {
            s.in_ready = true;
            self.ready.push_back(id);
        }
    }

    fn run_ready(&mut self, out: &mut Vec<Event>, start: usize, max: usize) {
        let rounds = self.ready.len();
        for _ in 0..rounds {
            if out.len() - start >= max {
                return;
            }
            let Some(id) = self.ready.pop_front() else {
                return;
            };
            let Some(s) = self.socks.get_mut(id) else {
                continue;
            };
            s.in_ready = false;
            let again = match s.kind {
                Kind::Listener => self.accept_some(id, out, start, max),
                Kind::Stream => self.read_some(id, out, start, max),
            };
            if again {
                if let Some(s) = self.socks.get_mut(id) {
                    if !s.in_ready {
                        s.in_ready = true;
                        self.ready.push_back(id);
                    }
                }
            }
        }
    }

    /// Accepts up to a budget; true if the listener may have more.
    fn accept_some(
        &mut self,
        id: SocketId,
        out: &mut Vec<Event>,
        start: usize,
        max: usize,
    ) -> bool {
        for _ in 0..ACCEPT_BUDGET {
            if out.len() - start >= max {
                return true;
            }
            let Some(l) = self.socks.get_mut(id) else {
                return false;
            };
            let lfd = l.fd;
            // SAFETY: accept4 with null address pointers is allowed.
            let fd = unsafe {
                libc::accept4(
                    lfd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            self.stats.other_syscalls += 1;
            if fd < 0 {
                let e = errno();
                match e {
                    libc::EAGAIN => {
                        l.readable = false;
                        return false;
                    }
                    libc::EINTR | libc::ECONNABORTED => continue,
                    _ => {
                        l.readable = false;
                        if matches!(
                            e,
                            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
                        ) {
                            // The backlog still holds connections but no new edge will come:
                            // retry when a descriptor is freed (close) or after 100 ms.
                            self.accept_stalled.push((id, Instant::now()));
                        }
                        out.push(Event::Error {
                            socket: id,
                            err: SysError::new(e, "accept"),
                        });
                        return false;
                    }
                }
            }
            if self.nodelay {
                let _ = sys::set_nodelay(fd, true);
                self.stats.other_syscalls += 1;
            }
            let Some(new) = self.socks.insert_with(|_| {
                let mut s = ESock::new(fd, Kind::Stream, State::Open);
                s.writable = true;
                s
            }) else {
                sys::close_fd(fd);
                continue;
            };
            if let Err(e) = self.register(fd, new) {
                self.socks.remove(new);
                sys::close_fd(fd);
                out.push(Event::Error { socket: id, err: e });
                continue;
            }
            self.stats.accepted += 1;
            if self.socks.get(id).is_some_and(|l| l.zc_recv) {
                if let Some(s) = self.socks.get_mut(new) {
                    s.zc_recv = true;
                }
                self.open_window(new, fd);
            }
            out.push(Event::Accepted {
                listener: id,
                socket: new,
            });
        }
        true
    }

    /// Reads up to a budget; true if the socket may have more (budget used up).
    fn read_some(&mut self, id: SocketId, out: &mut Vec<Event>, start: usize, max: usize) -> bool {
        if self.socks.get(id).is_some_and(|s| s.zc_window.is_some()) {
            return self.read_some_zc(id, out, start, max);
        }
        for _ in 0..READ_BUDGET {
            if out.len() - start >= max {
                return true;
            }
            let Some(s) = self.socks.get_mut(id) else {
                return false;
            };
            if !s.can_read() {
                return false;
            }
            let fd = s.fd;
            let (h, ptr) = match self.bufs.acquire(LARGE) {
                Ok(b) => b,
                Err(_) => {
                    self.stats.recv_buffer_exhausted += 1;
                    if !s.starved {
                        s.starved = true;
                        self.starved.push(id);
                    }
                    return false;
                }
            };
            let cap = self.bufs.large_size;
            // SAFETY: `ptr` is a buffer of `cap` bytes we own.
            let rc = unsafe { libc::recv(fd, ptr.cast(), cap, 0) };
            self.stats.read_calls += 1;
            if rc > 0 {
                let len = rc as usize;
                self.deliver_copy(id, h, ptr, len, out);
                let s = self.socks.get_mut(id).expect("still there");
                if len < cap && !s.rdhup {
                    s.readable = false;
                    return false;
                }
                continue;
            }
            self.bufs.release(h);
            if rc == 0 {
                s.readable = false;
                s.eof = true;
                out.push(Event::Eof { socket: id });
                return false;
            }
            match errno() {
                libc::EAGAIN => {
                    s.readable = false;
                    return false;
                }
                libc::EINTR => continue,
                e => {
                    s.readable = false;
                    self.fail(id, SysError::new(e, "read"), out);
                    return false;
                }
            }
        }
        true
    }

    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats.clone();
        s.open_sockets = self.socks.len() as u64;
        s
    }
}

impl Drop for EpollEngine {
    fn drop(&mut self) {
        for id in self.socks.ids() {
            if let Some(mut s) = self.socks.remove(id) {
                s.sendq.clear(&mut self.bufs);
                if let Some(mut t) = s.zc.take() {
                    // Buffers the kernel may still read are leaked, never reused.
                    if t.kernel_holds() {
                        t.forget_all();
                    } else {
                        t.release_all(&mut self.bufs);
                    }
                }
                self.shutdown_if_window_lent(s.zc_window, s.fd);
                self.close_window(s.zc_window);
                sys::close_fd(s.fd);
            }
        }
        for ev in self.pending.drain(..) {
            if let Event::Data { buf, .. } = ev {
                self.bufs.release(buf);
            }
        }
        if self.zc_timer >= 0 {
            sys::close_fd(self.zc_timer);
        }
        sys::close_fd(self.evfd);
        sys::close_fd(self.epfd);
    }
}
