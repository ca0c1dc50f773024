//! The io_uring backend: multishot accept, multishot recv into a ring-mapped provided-buffer
//! ring of large pool buffers, one coalesced send/sendmsg in flight per socket, connect,
//! shutdown, and close as cancel-then-close.

mod bufring;
mod complete;
mod sq;
mod userdata;
mod zc;

use crate::buffers::Buffers;
use crate::common::{Kind, State, WriteShut};
use crate::config::EngineConfig;
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use crate::send_side::{self, impl_stream_sock, send_side, sock_mut};
use crate::sendq::{SendQueue, MAX_IOVECS};
use crate::slab::{Slab, SocketId};
use crate::sys::{self, RawAddr};
use crate::zerocopy::tracker::ZcTracker;
use bufring::{BufRing, BGID};
use io_uring::{opcode, types};
use sq::Ring;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};
use userdata::{encode, Op};
use zerosock_pool::BufHandle;

/// One socket of the io_uring backend.
pub(crate) struct USock {
    fd: RawFd,
    kind: Kind,
    state: State,
    /// Operations whose final CQE has not arrived yet.
    inflight: u32,
    recv_armed: bool,
    paused: bool,
    eof: bool,
    failed: bool,
    /// Waiting in `starved` for receive buffers.
    starved: bool,
    /// Waiting in `dirty` for its queue to be turned into a send.
    dirty: bool,
    /// Receive events that arrived while paused, replayed on resume.
    held: VecDeque<Event>,
    sendq: SendQueue,
    send_inflight: bool,
    iov: Box<[libc::iovec; MAX_IOVECS]>,
    msg: Box<libc::msghdr>,
    shut: WriteShut,
    connect_addr: Option<Box<RawAddr>>,
    close_sent: bool,
    /// Zerocopy sends (made on the first `send_zerocopy`).
    zc: Option<Box<ZcTracker>>,
    /// The piece key of the SEND_ZC in flight (its data CQE not seen yet).
    zc_key_inflight: Option<u32>,
    /// Zerocopy receive was asked for (served by the plain path here; bytes counted copied).
    zc_recv: bool,
}

impl USock {
    fn new(fd: RawFd, kind: Kind, state: State) -> Self {
        // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value.
        let msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        USock {
            fd,
            kind,
            state,
            inflight: 0,
            recv_armed: false,
            paused: false,
            eof: false,
            failed: false,
            starved: false,
            dirty: false,
            held: VecDeque::new(),
            sendq: SendQueue::default(),
            send_inflight: false,
            iov: Box::new(
                [libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                }; MAX_IOVECS],
            ),
            msg,
            shut: WriteShut::Open,
            connect_addr: None,
            close_sent: false,
            zc: None,
            zc_key_inflight: None,
            zc_recv: false,
        }
    }

    fn wants_recv(&self) -> bool {
        self.kind == Kind::Stream
            && self.state == State::Open
            && !self.paused
            && !self.eof
            && !self.failed
    }
}

impl_stream_sock!(USock, |s| !s.send_inflight);

/// The io_uring engine.
pub(crate) struct UringEngine {
    ring: Ring,
    bring: BufRing,
    bufs: Buffers,
    socks: Slab<USock>,
    pending: VecDeque<Event>,
    dirty: Vec<SocketId>,
    starved: Vec<SocketId>,
    /// Listeners whose multishot accept ended with EMFILE & co., and since when.
    accept_stalled: Vec<(SocketId, Instant)>,
    stats: EngineStats,
    copy_break: usize,
    nodelay: bool,
    direct_send_min: usize,
    /// A registered eventfd used as the notify fd, or -1 when the ring fd itself is.
    evfd: RawFd,
    /// The kernel has SEND_ZC and SENDMSG_ZC.
    zc_supported: bool,
    /// Sockets with finished zerocopy sends to report.
    zc_ready: Vec<SocketId>,
    /// Sockets closed while the kernel still held zerocopy memory: (id, since, aborted).
    zc_closing: Vec<(SocketId, Instant, bool)>,
    /// The timespec of the armed zerocopy close timer (read by the kernel at submission).
    zc_timer: Option<Box<types::Timespec>>,
    /// A direct send left a `Sent` in `pending` that nothing has announced yet (SendSide).
    wake_owed: bool,
}

/// Whether the ring fd itself can be the notify fd. Without DEFER_TASKRUN, posted CQEs wake
/// pollers of the ring fd. With it, completions wait as task work and adding task work does
/// not wake an epoll waiter on the ring fd (seen on 6.18: libuv's epoll slept while a poll(2)
/// of the same fd would have reported it readable), so a registered eventfd is used — the
/// kernel signals it when task work is queued (one extra read per `poll()`).
fn ring_fd_notifies(defer_taskrun: bool) -> bool {
    if std::env::var_os("ZEROSOCK_URING_EVENTFD").is_some() {
        return false;
    }
    !defer_taskrun
}

impl UringEngine {
    pub fn new(cfg: &EngineConfig) -> Result<Self, EngineError> {
        let bufs = Buffers::new(cfg.pool.clone())?;
        let ring = Ring::new(cfg.ring_entries).map_err(|e| {
            EngineError::BackendUnavailable(format!("io_uring_setup failed: {}", e.code()))
        })?;
        let entries = cfg.recv_buffers.clamp(1, 32768).next_power_of_two() as u16;
        let mut bring =
            BufRing::register(&ring.ring, entries, bufs.large_size as u32).map_err(|e| {
                EngineError::BackendUnavailable(format!(
                    "provided-buffer ring registration failed: {}",
                    e.code()
                ))
            })?;
        let mut evfd = -1;
        if !ring_fd_notifies(ring.defer_taskrun) {
            evfd = sys::eventfd()?;
            if let Err(e) = ring.ring.submitter().register_eventfd(evfd) {
                sys::close_fd(evfd);
                return Err(EngineError::Sys(SysError::new(
                    e.raw_os_error().unwrap_or(libc::EINVAL),
                    "io_uring_register",
                )));
            }
        }
        let mut bufs = bufs;
        bring.refill(&mut bufs);
        bring.publish();
        let mut probe = io_uring::Probe::new();
        let zc_supported = ring.ring.submitter().register_probe(&mut probe).is_ok()
            && probe.is_supported(opcode::SendZc::CODE)
            && probe.is_supported(opcode::SendMsgZc::CODE);
        Ok(UringEngine {
            ring,
            bring,
            bufs,
            socks: Slab::new(),
            pending: VecDeque::new(),
            dirty: Vec::new(),
            starved: Vec::new(),
            accept_stalled: Vec::new(),
            stats: EngineStats::default(),
            copy_break: cfg.copy_break.min(cfg.pool.class_size(0).unwrap_or(0)),
            nodelay: cfg.nodelay,
            direct_send_min: cfg.direct_send_min,
            evfd,
            zc_supported,
            zc_ready: Vec::new(),
            zc_closing: Vec::new(),
            zc_timer: None,
            wake_owed: false,
        })
    }

    pub fn notify_fd(&self) -> RawFd {
        if self.evfd >= 0 {
            self.evfd
        } else {
            self.ring.ring.as_raw_fd()
        }
    }

    /// How the ring was set up, e.g. "single_issuer+defer_taskrun+taskrun_flag, notify: ring fd".
    pub fn describe(&self) -> String {
        let setup = match (self.ring.defer_taskrun, self.ring.taskrun_flag) {
            (true, _) => "single_issuer+defer_taskrun+taskrun_flag",
            (false, true) => "coop_taskrun+taskrun_flag",
            (false, false) => "plain",
        };
        let notify = if self.evfd >= 0 { "eventfd" } else { "ring fd" };
        format!("io_uring {setup}, notify: {notify}")
    }

    pub fn listen(
        &mut self,
        addr: SocketAddr,
        backlog: u32,
        reuse_port: bool,
    ) -> Result<SocketId, SysError> {
        let fd = sys::listen_socket(&addr, backlog, reuse_port, false)?;
        let Some(id) = self
            .socks
            .insert_with(|_| USock::new(fd, Kind::Listener, State::Open))
        else {
            sys::close_fd(fd);
            return Err(SysError::new(libc::EMFILE, "listen"));
        };
        self.arm_accept(id);
        Ok(id)
    }

    pub fn connect(&mut self, addr: SocketAddr) -> Result<SocketId, SysError> {
        let fd = sys::tcp_socket(&addr, false)?;
        if self.nodelay {
            let _ = sys::set_nodelay(fd, true);
        }
        let raw = Box::new(RawAddr::new(&addr));
        let sqe = opcode::Connect::new(types::Fd(fd), raw.as_ptr(), raw.len).build();
        let Some(id) = self.socks.insert_with(|_| {
            let mut s = USock::new(fd, Kind::Stream, State::Connecting);
            s.connect_addr = Some(raw);
            s.inflight = 1;
            s
        }) else {
            sys::close_fd(fd);
            return Err(SysError::new(libc::EMFILE, "connect"));
        };
        self.ring.push(sqe.user_data(encode(Op::Connect, id)));
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

    pub fn send_copy(&mut self, id: SocketId, data: &[u8]) -> Result<(), EngineError> {
        send_side!(self).send_copy(id, data, self.direct_send_min)
    }

    pub fn debt(&mut self) -> crate::SubmitDebt {
        let zerocopy_done = self.zc_ready.len();
        let sqes = self.ring.unsubmitted();
        crate::SubmitDebt {
            zerocopy_done,
            sqes,
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
        let s = sock_mut(&mut self.socks, id)?;
        s.state = State::Closing;
        // No mapped chunks here: zerocopy receive falls back to the normal path on io_uring.
        let _ = crate::common::forget_pending(&mut self.pending, id, &mut self.bufs);
        let s = self.socks.get_mut(id).expect("checked above");
        if s.zc.as_ref().is_some_and(|t| t.kernel_holds()) {
            self.zc_closing.push((id, Instant::now(), false));
            self.arm_zc_timer(Instant::now());
        }
        let s = self.socks.get_mut(id).expect("checked above");
        for ev in s.held.drain(..) {
            if let Event::Data { buf, .. } = ev {
                self.bufs.release(buf);
            }
        }
        if s.inflight > 0 {
            let fd = s.fd;
            s.inflight += 1;
            let sqe = opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
                .build()
                .user_data(encode(Op::CancelAll, id));
            self.ring.push(sqe);
        } else {
            self.push_close(id);
        }
        Ok(())
    }

    /// Everything on the socket completed: free its queue and close the descriptor.
    fn push_close(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.close_sent {
            return;
        }
        s.close_sent = true;
        let dropped = s.sendq.clear(&mut self.bufs);
        if let Some(t) = s.zc.as_mut() {
            t.abort(&dropped, &mut self.bufs);
        }
        s.inflight += 1;
        let sqe = opcode::Close::new(types::Fd(s.fd))
            .build()
            .user_data(encode(Op::Close, id));
        self.ring.push(sqe);
    }

    pub fn pause_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if s.paused || s.kind != Kind::Stream {
            return Ok(());
        }
        s.paused = true;
        if s.recv_armed {
            s.inflight += 1;
            let sqe = opcode::AsyncCancel::new(encode(Op::Recv, id))
                .build()
                .user_data(encode(Op::CancelRecv, id));
            self.ring.push(sqe);
        }
        Ok(())
    }

    pub fn resume_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if !s.paused {
            return Ok(());
        }
        s.paused = false;
        let had_held = !s.held.is_empty();
        self.pending.extend(s.held.drain(..));
        if had_held {
            self.wake();
        }
        self.arm_recv(id);
        Ok(())
    }

    pub fn release_recv(&mut self, h: BufHandle) -> Result<(), EngineError> {
        self.bufs.release_checked(h)?;
        if !self.starved.is_empty() && self.bring.empty_slots() > 0 {
            self.refill_and_rearm();
        }
        Ok(())
    }

    /// Makes the notify fd readable so the owner calls `poll()` again.
    fn wake(&mut self) {
        if self.evfd >= 0 {
            sys::eventfd_signal(self.evfd);
            self.stats.other_syscalls += 1;
        } else {
            // A NOP completes inline and leaves a CQE, which makes the ring fd readable.
            self.ring
                .push(opcode::Nop::new().build().user_data(encode(Op::Wake, 0)));
            let _ = self.ring.enter(0, None, false);
        }
    }

    fn arm_accept(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.state != State::Open || s.recv_armed {
            return;
        }
        s.inflight += 1;
        s.recv_armed = true;
        let sqe = opcode::AcceptMulti::new(types::Fd(s.fd))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(encode(Op::Accept, id));
        self.ring.push(sqe);
    }

    fn arm_recv(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.recv_armed || !s.wants_recv() {
            return;
        }
        s.recv_armed = true;
        s.inflight += 1;
        let sqe = opcode::RecvMulti::new(types::Fd(s.fd), BGID)
            .build()
            .user_data(encode(Op::Recv, id));
        self.ring.push(sqe);
    }

    /// Refills the buffer ring from the pool; re-arms receives that ran out of buffers.
    fn refill_and_rearm(&mut self) {
        if self.bring.empty_slots() > 0 && self.bring.refill(&mut self.bufs) > 0 {
            self.bring.publish();
        }
        if self.bring.fresh > 0 && !self.starved.is_empty() {
            self.bring.fresh = 0;
            for id in std::mem::take(&mut self.starved) {
                if let Some(s) = self.socks.get_mut(id) {
                    s.starved = false;
                }
                self.arm_recv(id);
            }
        }
    }

    /// Turns dirty queues into send SQEs (one in flight per socket) and FINs.
    fn flush_dirty(&mut self) {
        for id in std::mem::take(&mut self.dirty) {
            if let Some(s) = self.socks.get_mut(id) {
                s.dirty = false;
            }
            self.kick_send(id);
        }
    }

    fn kick_send(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.send_inflight || s.state != State::Open || s.failed {
            return;
        }
        if s.sendq.is_empty() {
            if s.shut == WriteShut::Wanted {
                s.shut = WriteShut::Done;
                s.inflight += 1;
                let sqe = opcode::Shutdown::new(types::Fd(s.fd), libc::SHUT_WR)
                    .build()
                    .user_data(encode(Op::Shutdown, id));
                self.ring.push(sqe);
            }
            return;
        }
        let zc = self.zc_supported;
        if zc && s.sendq.front_is_zc() {
            self.kick_send_zc(id);
            return;
        }
        let s = self.socks.get_mut(id).expect("checked above");
        let n = s.sendq.fill_iovecs(&mut s.iov[..], zc);
        let sqe = if n == 1 {
            let (ptr, len) = s.sendq.front().expect("queue not empty");
            opcode::Send::new(types::Fd(s.fd), ptr, len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        } else {
            s.msg.msg_iov = s.iov.as_mut_ptr();
            s.msg.msg_iovlen = n as _;
            opcode::SendMsg::new(types::Fd(s.fd), &*s.msg)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
        };
        s.send_inflight = true;
        s.inflight += 1;
        self.ring.push(sqe.user_data(encode(Op::Send, id)));
    }

    pub fn submit(&mut self) -> Result<usize, SysError> {
        if std::mem::take(&mut self.wake_owed) && !self.pending.is_empty() {
            self.wake();
        }
        self.flush_dirty();
        if !self.zc_ready.is_empty() {
            let mut evs = Vec::new();
            self.emit_zc_done(&mut evs);
            self.pending.extend(evs);
            self.wake();
        }
        if self.ring.unsubmitted() == 0 {
            return Ok(0);
        }
        self.ring.enter(0, None, false)
    }

    pub fn submit_and_collect(&mut self, out: &mut Vec<Event>) -> Result<usize, SysError> {
        self.mute_notify();
        let result = self.submit_and_collect_muted(out);
        self.unmute_notify();
        self.wake_if_work_left();
        result
    }

    fn submit_and_collect_muted(&mut self, out: &mut Vec<Event>) -> Result<usize, SysError> {
        self.wake_owed = false; // `pending` is handed out here
        let start = out.len();
        out.extend(self.pending.drain(..));
        let mut submitted = 0;
        for _ in 0..4 {
            self.refill_and_rearm();
            self.flush_dirty();
            if self.ring.needs_enter() {
                submitted += self.ring.enter(0, None, true)?;
            }
            self.ring.drain_cq();
            self.process_cqes(out, start, usize::MAX);
            self.refill_and_rearm();
            self.flush_dirty();
            if self.ring.unsubmitted() == 0 {
                break;
            }
        }
        self.emit_zc_done(out);
        Ok(submitted)
    }

    /// While the engine reaps completions itself (`poll`, `submit_and_collect`), the kernel
    /// need not signal the eventfd for them: each signal cost the loop a wake-up, an eventfd
    /// read and an empty poll (2 of the 7 syscalls of a ping-pong round trip). The ring fd as
    /// notify fd (no eventfd) needs nothing.
    fn mute_notify(&mut self) {
        if self.evfd >= 0 {
            self.ring.mute_eventfd();
        }
    }

    /// Ends [`mute_notify`](Self::mute_notify); the caller then runs `wake_if_work_left`,
    /// which announces whatever the kernel queued meanwhile without signalling.
    fn unmute_notify(&mut self) {
        if self.evfd >= 0 {
            self.ring.unmute_eventfd();
        }
    }

    /// Makes the notify fd readable when work is left that nothing else would announce:
    /// reaped CQEs or events not handed out yet, posted CQEs (the eventfd was cleared by
    /// `poll`), or work still in the kernel — deferred task work (IORING_SQ_TASKRUN: the kernel
    /// does not signal the eventfd again for work it already queued), an overflowed CQ, or
    /// SQEs not submitted yet. Without this a burst of completions stalls until unrelated
    /// traffic comes (seen: a storm of 10 000 connects where 6 444 never settled).
    fn wake_if_work_left(&mut self) {
        let leftover =
            !self.ring.cqes.is_empty() || !self.pending.is_empty() || self.ring.needs_enter();
        let posted = self.ring.cq_nonempty();
        // A readable ring fd already reports posted CQEs; an eventfd was cleared by `poll`.
        let need = if self.evfd >= 0 {
            leftover || posted
        } else {
            leftover && !posted
        };
        if need {
            self.wake();
        }
    }

    pub fn poll(&mut self, out: &mut Vec<Event>, max: usize) -> usize {
        self.poll_inner(out, max, None)
    }

    /// Whether a `poll()` now would find something (no system call).
    pub fn work_visible(&mut self) -> bool {
        !self.pending.is_empty() || self.ring.work_visible()
    }

    pub fn wait(&mut self, timeout: Duration, out: &mut Vec<Event>) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.poll_inner(out, usize::MAX, None);
            if n > 0 {
                return n;
            }
            let now = Instant::now();
            if now >= deadline {
                return 0;
            }
            let n = self.poll_inner(out, usize::MAX, Some(deadline - now));
            if n > 0 || Instant::now() >= deadline {
                return n;
            }
        }
    }

    fn poll_inner(&mut self, out: &mut Vec<Event>, max: usize, block: Option<Duration>) -> usize {
        let start = out.len();
        if self.evfd >= 0 {
            sys::eventfd_clear(self.evfd);
            self.stats.other_syscalls += 1;
        }
        self.mute_notify();
        self.wake_owed = false; // `pending` is handed out here (leftovers wake below)
        self.bufs.drain_returns();
        self.rearm_stalled_accepts(false);
        while out.len() - start < max {
            let Some(ev) = self.pending.pop_front() else {
                break;
            };
            out.push(ev);
        }
        self.refill_and_rearm();
        self.flush_dirty();
        self.ring.drain_cq();
        self.process_cqes(out, start, max);
        // The kernel runs a bounded amount of deferred task work per enter (20 items on 6.x
        // with DEFER_TASKRUN) and raises IORING_SQ_TASKRUN when some is left; one enter per
        // poll keeps a poll's batch (and the buffers it holds) bounded, and
        // `wake_if_work_left` brings us back for the rest.
        if out.len() - start < max && self.pending.is_empty() {
            let wait_needed = block.is_some() && out.len() == start && self.ring.cqes.is_empty();
            if wait_needed || self.ring.needs_enter() {
                self.refill_and_rearm();
                self.flush_dirty();
                let _ = self
                    .ring
                    .enter(wait_needed as u32, block.filter(|_| wait_needed), true);
                self.ring.drain_cq();
                self.process_cqes(out, start, max);
            }
        }
        self.emit_zc_done(out);
        self.refill_and_rearm();
        self.flush_dirty();
        if self.ring.unsubmitted() > 0 {
            let _ = self.ring.enter(0, None, false);
        }
        if out.len() - start > max {
            // Keep the promise of at most `max`: the rest goes first next time.
            for ev in out.drain(start + max..).rev() {
                self.pending.push_front(ev);
            }
        }
        self.unmute_notify();
        self.wake_if_work_left();
        if out.len() == start {
            self.stats.empty_polls += 1;
        }
        out.len() - start
    }

    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats.clone();
        s.enters = self.ring.enters;
        s.sqes = self.ring.sqes;
        s.cqes = self.ring.cqe_count;
        s.sq_full = self.ring.sq_full;
        s.cq_overflows = self.ring.cq_overflows;
        s.open_sockets = self.socks.len() as u64;
        s
    }

    /// Cancels everything and waits (bounded) until the kernel has let go of every buffer.
    /// Returns false if some operation did not finish in time (its buffers are then leaked
    /// rather than reused while the kernel might still write them).
    fn shutdown_all(&mut self) -> bool {
        for id in self.socks.ids() {
            let Some(s) = self.socks.get_mut(id) else {
                continue;
            };
            s.state = State::Closing;
            if s.zc.as_ref().is_some_and(|t| t.kernel_holds()) {
                // Purge unsent zerocopy data so its notifications come now.
                crate::zerocopy::disconnect(s.fd);
            }
            if s.inflight > 0 {
                s.inflight += 1;
                let sqe =
                    opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(s.fd)).all())
                        .build()
                        .user_data(encode(Op::CancelAll, id));
                self.ring.push(sqe);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let busy = self
                .socks
                .ids()
                .into_iter()
                .any(|id| self.socks.get(id).is_some_and(|s| s.inflight > 0));
            if !busy {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let _ = self.ring.enter(1, Some(Duration::from_millis(20)), true);
            self.ring.drain_cq();
            while let Some((ud, res, flags)) = self.ring.cqes.pop_front() {
                self.complete_quietly(ud, res, flags);
            }
        }
    }
}

impl Drop for UringEngine {
    fn drop(&mut self) {
        let clean = self.shutdown_all();
        for id in self.socks.ids() {
            if let Some(mut s) = self.socks.remove(id) {
                if !s.close_sent || s.inflight > 0 {
                    sys::close_fd(s.fd);
                }
                if let Some(mut t) = s.zc.take() {
                    if clean && !t.kernel_holds() {
                        t.release_all(&mut self.bufs);
                    } else {
                        t.forget_all();
                    }
                }
                if clean {
                    s.sendq.clear(&mut self.bufs);
                    for ev in s.held.drain(..) {
                        if let Event::Data { buf, .. } = ev {
                            self.bufs.release(buf);
                        }
                    }
                }
            }
        }
        let _ = self.ring.ring.submitter().unregister_eventfd();
        let _ = self.ring.ring.submitter().unregister_buf_ring(BGID);
        if clean {
            self.bring.release_all(&mut self.bufs);
        }
        for ev in self.pending.drain(..) {
            if let Event::Data { buf, .. } = ev {
                self.bufs.release(buf);
            }
        }
        if self.evfd >= 0 {
            sys::close_fd(self.evfd);
        }
    }
}
