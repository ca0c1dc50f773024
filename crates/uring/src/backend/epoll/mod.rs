//! The epoll backend: non-blocking sockets under edge-triggered epoll, reads into large pool
//! buffers (same copy-break as io_uring), sendmsg of up to 64 queued buffers, and the same
//! events and semantics as the io_uring backend.
//!
//! - `mod.rs`: the backend state, its socket part and the [`Backend`] implementation.
//! - `poll.rs`: submit and poll (the turn).
//! - `events.rs`: what readiness reports: connects, accepts, reads.
//! - `sockets.rs`: the epoll set, the ready list, finishing a close, starved sockets.
//! - `write.rs`: dirty queues turned into sendmsg calls, FINs.
//! - `zerocopy.rs`: MSG_ZEROCOPY sends, their error-queue notifications, the close timer.
//! - `zc_recv.rs`, `recv_window.rs`: TCP_ZEROCOPY_RECEIVE into mapped receive windows.
//! - `errqueue.rs`: SO_ZEROCOPY and reading the error queue.

pub(crate) mod errqueue;
mod events;
mod poll;
pub(crate) mod recv_window;
mod sockets;
mod write;
mod zc_recv;
mod zerocopy;

use crate::addr::SockAddr;
use crate::config::EngineConfig;
use crate::core::buffers::Buffers;
use crate::core::sendq::MAX_IOVECS;
use crate::core::slab::{Slab, SocketId};
use crate::core::{Backend, Core, Sock, State};
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use crate::sys::{self, RawAddr};
use recv_window::{MappedMemory, RecvWindow};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// epoll `data` of the wake-up eventfd.
const WAKE_TOKEN: u64 = u64::MAX;
/// epoll `data` of the zerocopy close timer.
const TIMER_TOKEN: u64 = u64::MAX - 1;

/// What the epoll backend keeps of a socket.
#[derive(Default)]
pub(crate) struct EpollSock {
    /// Edge-triggered readiness seen and not used up yet.
    readable: bool,
    writable: bool,
    /// The peer's FIN (or an error) was signalled: read until 0 even after short reads.
    rdhup: bool,
    /// Queued in `ready`.
    in_ready: bool,
    /// Zerocopy receive: the socket's receive window (id in `windows`).
    zc_window: Option<u32>,
}

impl Sock<EpollSock> {
    fn can_read(&self) -> bool {
        self.be.readable && !self.paused && !self.eof && !self.failed && self.state == State::Open
    }
}

/// The epoll backend's state.
pub(crate) struct EpollBackend {
    epfd: RawFd,
    evfd: RawFd,
    /// Sockets (listeners too) with unread input.
    ready: VecDeque<SocketId>,
    events: Vec<libc::epoll_event>,
    iov: Box<[libc::iovec; MAX_IOVECS]>,
    /// The eventfd was signalled and not cleared yet.
    woken: bool,
    /// Zerocopy receive windows, by id.
    windows: Slab<RecvWindow>,
    /// timerfd for zerocopy close deadlines (-1 until needed).
    zc_timer: RawFd,
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

impl EpollBackend {
    /// One epoll_ctl on our epoll fd.
    fn ctl(&mut self, op: i32, fd: RawFd, events: u32, token: u64) -> Result<(), SysError> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event; `epfd` is ours.
        if unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut ev) } != 0 {
            return Err(SysError::last("epoll_ctl"));
        }
        Ok(())
    }
}

impl Backend for EpollBackend {
    type Sock = EpollSock;
    const NONBLOCKING: bool = true;
    const ZC_CLOSE_GIVE_UP_AFTER: Option<Duration> = Some(Duration::from_secs(3));

    fn new(
        _cfg: &EngineConfig,
        _bufs: &mut Buffers,
        stats: &mut EngineStats,
    ) -> Result<Self, EngineError> {
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
        let mut be = EpollBackend {
            epfd,
            evfd,
            ready: VecDeque::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 256],
            iov: Box::new(
                [libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                }; MAX_IOVECS],
            ),
            woken: false,
            windows: Slab::new(),
            zc_timer: -1,
        };
        stats.other_syscalls += 1;
        if let Err(e) = be.ctl(libc::EPOLL_CTL_ADD, evfd, libc::EPOLLIN as u32, WAKE_TOKEN) {
            sys::close_fd(evfd);
            sys::close_fd(epfd);
            return Err(e.into());
        }
        Ok(be)
    }

    fn notify_fd(&self) -> RawFd {
        self.epfd
    }

    fn describe(&self) -> String {
        String::from("epoll (edge-triggered), notify: epoll fd")
    }

    fn add_stats(&self, _s: &mut EngineStats) {}

    fn start_accepting(core: &mut Core<Self>, id: SocketId) -> Result<(), SysError> {
        let fd = core.socks.get(id).map_or(-1, |s| s.fd);
        core.watch(fd, (libc::EPOLLIN | libc::EPOLLET) as u32, id as u64)
    }

    fn start_connect(core: &mut Core<Self>, id: SocketId, addr: &SockAddr) -> Result<(), SysError> {
        let fd = core.socks.get(id).map_or(-1, |s| s.fd);
        let raw = RawAddr::new(addr);
        // SAFETY: `raw` holds a valid sockaddr of `raw.len` bytes.
        let rc = unsafe { libc::connect(fd, raw.as_ptr(), raw.len) };
        core.stats.other_syscalls += 1;
        let outcome = if rc == 0 { 0 } else { errno() };
        if outcome != libc::EINPROGRESS {
            if let Some(s) = core.socks.get_mut(id) {
                s.state = State::Open;
                s.failed = outcome != 0;
            }
        }
        core.register(id)?;
        match outcome {
            0 => core.push_pending(Event::Connected { socket: id }),
            libc::EINPROGRESS => {}
            e => core.push_pending(Event::Error {
                socket: id,
                err: SysError::new(e, "connect"),
            }),
        }
        Ok(())
    }

    fn adopt(core: &mut Core<Self>, id: SocketId) -> Result<(), SysError> {
        if let Some(s) = core.socks.get_mut(id) {
            s.be.writable = true;
        }
        core.register(id)
    }

    fn retry_accept(core: &mut Core<Self>, id: SocketId) {
        if let Some(l) = core.socks.get_mut(id) {
            l.be.readable = true;
            core.make_ready(id);
            Self::wake(core);
        }
    }

    fn close(core: &mut Core<Self>, id: SocketId) {
        let Some(s) = core.socks.get_mut(id) else {
            return;
        };
        let dropped = s.sendq.clear(&mut core.bufs);
        if let Some(t) = s.zc.as_mut() {
            t.abort(&dropped, &mut core.bufs);
            if t.kernel_holds() {
                // The kernel still reads zerocopy memory: keep the descriptor (its error queue
                // tells when it is done) and report Closed then.
                s.state = State::Closing;
                core.close_after_zerocopy(id);
                return;
            }
        }
        core.finish_close(id);
    }

    fn idle_writer(sock: &EpollSock) -> bool {
        sock.writable
    }

    fn recv_paused(_core: &mut Core<Self>, _id: SocketId) {}

    fn recv_resumed(core: &mut Core<Self>, id: SocketId) {
        if core
            .socks
            .get(id)
            .is_some_and(|s| s.be.readable && !s.be.in_ready)
        {
            core.make_ready(id);
            Self::wake(core);
        }
    }

    fn buffers_returned(core: &mut Core<Self>) {
        core.wake_starved();
    }

    fn emit_recv(_core: &mut Core<Self>, _id: SocketId, ev: Event, out: &mut Vec<Event>) {
        out.push(ev);
    }

    fn zerocopy_available(&mut self, fd: RawFd, stats: &mut EngineStats) -> bool {
        stats.other_syscalls += 1;
        errqueue::enable(fd).is_ok()
    }

    fn set_zerocopy_receive(
        core: &mut Core<Self>,
        id: SocketId,
        on: bool,
    ) -> Result<bool, EngineError> {
        core.switch_mapped_receive(id, on)
    }

    fn release_mapped(core: &mut Core<Self>, window: u32, chunk: u32) -> Result<(), EngineError> {
        core.release_chunk(window, chunk)
    }

    fn mapped_chunk(
        core: &Core<Self>,
        window: u32,
        chunk: u32,
    ) -> Option<(*const u8, MappedMemory)> {
        core.be.windows.get(window)?.lent_chunk(chunk)
    }

    fn zc_close_settled(core: &mut Core<Self>, id: SocketId) {
        core.finish_close(id);
    }

    fn zc_aborted(core: &mut Core<Self>, id: SocketId) {
        // Notifications of the purged data come through the error queue.
        core.drain_errqueue(id);
    }

    fn arm_zc_timer(core: &mut Core<Self>, now: Instant) {
        core.arm_close_timer(now);
    }

    fn wake(core: &mut Core<Self>) {
        if !core.be.woken {
            core.be.woken = true;
            sys::eventfd_signal(core.be.evfd);
            core.stats.other_syscalls += 1;
        }
    }

    fn submit(core: &mut Core<Self>) -> Result<usize, SysError> {
        core.settle_owed_wake();
        let mut evs = Vec::new();
        let n = core.flush_dirty(&mut evs);
        core.emit_zc_done(&mut evs);
        core.queue_for_poll(evs);
        Ok(n)
    }

    fn submit_and_collect(core: &mut Core<Self>, out: &mut Vec<Event>) -> Result<usize, SysError> {
        core.hand_out_pending(out, usize::MAX);
        let n = core.flush_dirty(out);
        core.emit_zc_done(out);
        Ok(n)
    }

    fn poll(core: &mut Core<Self>, out: &mut Vec<Event>, max: usize) -> usize {
        core.poll_inner(out, max, 0)
    }

    /// One poll whose epoll_wait blocks (when idle) up to the time left, in ms.
    fn poll_until(core: &mut Core<Self>, out: &mut Vec<Event>, deadline: Instant) -> usize {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        core.poll_inner(out, usize::MAX, ms.max(if left.is_zero() { 0 } else { 1 }))
    }

    /// One poll(2) of the epoll fd.
    fn work_visible(core: &mut Core<Self>) -> bool {
        !core.pending.is_empty() || sys::readable_now(core.be.epfd)
    }

    fn unsubmitted(_core: &mut Core<Self>) -> usize {
        0
    }

    fn quiesce(_core: &mut Core<Self>) -> bool {
        true
    }

    fn drop_sock(core: &mut Core<Self>, s: &mut Sock<EpollSock>, _clean: bool) {
        core.close_descriptor(s);
    }

    fn teardown(core: &mut Core<Self>, _clean: bool) {
        if core.be.zc_timer >= 0 {
            sys::close_fd(core.be.zc_timer);
        }
        sys::close_fd(core.be.evfd);
        sys::close_fd(core.be.epfd);
    }
}
