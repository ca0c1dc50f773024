//! The io_uring backend: multishot accept, multishot recv into a ring-mapped provided-buffer
//! ring of large pool buffers, one coalesced send/sendmsg in flight per socket, connect,
//! shutdown, and close as cancel-then-close.
//!
//! - `mod.rs`: the backend state, its socket part and the [`Backend`] implementation.
//! - `poll.rs`: submit and poll (the turn), muting the eventfd while we reap, teardown.
//! - `events.rs`: what completions report: accepts, receives, sends, connects, closes.
//! - `sockets.rs`: arming accept / receive, the buffer ring refill, cancel and close.
//! - `write.rs`: dirty queues turned into SEND / SENDMSG SQEs, FINs.
//! - `splice.rs`: file segments (sendFile) spliced file → pipe → socket, the pipe cache.
//! - `zerocopy.rs`: SEND_ZC / SENDMSG_ZC and their notifications, the close timer.
//! - `ring.rs`: the ring (checked SQE push, enter, CQE draining).
//! - `bufring.rs`: the provided-buffer ring.
//! - `userdata.rs`: what an SQE's `user_data` encodes.

mod bufring;
mod events;
mod poll;
mod ring;
mod sockets;
mod splice;
mod userdata;
mod write;
mod zerocopy;

use crate::addr::SockAddr;
use crate::backend::epoll::recv_window::MappedMemory;
use crate::config::EngineConfig;
use crate::core::buffers::Buffers;
use crate::core::sendq::MAX_IOVECS;
use crate::core::slab::SocketId;
use crate::core::{Backend, Core, Kind, Sock, State};
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use crate::sys::{self, RawAddr};
use ::io_uring::{opcode, types};
use bufring::{BufRing, BGID};
use ring::Ring;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};
use userdata::{encode, Op};

/// What the io_uring backend keeps of a socket.
pub(crate) struct UringSock {
    /// Operations whose final CQE has not arrived yet.
    inflight: u32,
    /// A multishot accept / recv is armed.
    recv_armed: bool,
    /// Receive events that arrived while paused, replayed on resume.
    held: VecDeque<Event>,
    send_inflight: bool,
    iov: Box<[libc::iovec; MAX_IOVECS]>,
    msg: Box<libc::msghdr>,
    /// The address a connect in flight reads.
    connect_addr: Option<Box<RawAddr>>,
    close_sent: bool,
    /// The piece key of the SEND_ZC in flight (its data CQE not seen yet).
    zc_key_inflight: Option<u32>,
}

impl Default for UringSock {
    fn default() -> Self {
        UringSock {
            inflight: 0,
            recv_armed: false,
            held: VecDeque::new(),
            send_inflight: false,
            iov: Box::new(
                [libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                }; MAX_IOVECS],
            ),
            // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value.
            msg: Box::new(unsafe { std::mem::zeroed() }),
            connect_addr: None,
            close_sent: false,
            zc_key_inflight: None,
        }
    }
}

impl Sock<UringSock> {
    fn wants_recv(&self) -> bool {
        self.kind == Kind::Stream
            && self.state == State::Open
            && !self.paused
            && !self.eof
            && !self.failed
    }
}

/// The io_uring backend's state.
pub(crate) struct UringBackend {
    ring: Ring,
    bring: BufRing,
    /// A registered eventfd used as the notify fd, or -1 when the ring fd itself is.
    evfd: RawFd,
    /// The kernel has SEND_ZC and SENDMSG_ZC.
    zc_supported: bool,
    /// The timespec of the armed zerocopy close timer (read by the kernel at submission).
    zc_timer: Option<Box<types::Timespec>>,
    /// Empty pipes for file sends, reused.
    pipes: splice::PipeCache,
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

impl Backend for UringBackend {
    type Sock = UringSock;
    const NONBLOCKING: bool = false;
    const ZC_CLOSE_GIVE_UP_AFTER: Option<Duration> = None;

    fn new(
        cfg: &EngineConfig,
        bufs: &mut Buffers,
        _stats: &mut EngineStats,
    ) -> Result<Self, EngineError> {
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
        bring.refill(bufs);
        bring.publish();
        let mut probe = ::io_uring::Probe::new();
        let zc_supported = ring.ring.submitter().register_probe(&mut probe).is_ok()
            && probe.is_supported(opcode::SendZc::CODE)
            && probe.is_supported(opcode::SendMsgZc::CODE);
        Ok(UringBackend {
            ring,
            bring,
            evfd,
            zc_supported,
            zc_timer: None,
            pipes: splice::PipeCache::default(),
        })
    }

    fn notify_fd(&self) -> RawFd {
        if self.evfd >= 0 {
            self.evfd
        } else {
            self.ring.ring.as_raw_fd()
        }
    }

    /// How the ring was set up, e.g. "single_issuer+defer_taskrun+taskrun_flag, notify: ring fd".
    fn describe(&self) -> String {
        let setup = match (self.ring.defer_taskrun, self.ring.taskrun_flag) {
            (true, _) => "single_issuer+defer_taskrun+taskrun_flag",
            (false, true) => "coop_taskrun+taskrun_flag",
            (false, false) => "plain",
        };
        let notify = if self.evfd >= 0 { "eventfd" } else { "ring fd" };
        format!("io_uring {setup}, notify: {notify}")
    }

    fn add_stats(&self, s: &mut EngineStats) {
        s.enters = self.ring.enters;
        s.sqes = self.ring.sqes;
        s.cqes = self.ring.cqe_count;
        s.sq_full = self.ring.sq_full;
        s.cq_overflows = self.ring.cq_overflows;
    }

    fn start_accepting(core: &mut Core<Self>, id: SocketId) -> Result<(), SysError> {
        core.arm_accept(id);
        Ok(())
    }

    fn start_connect(core: &mut Core<Self>, id: SocketId, addr: &SockAddr) -> Result<(), SysError> {
        let Some(s) = core.socks.get_mut(id) else {
            return Ok(());
        };
        let raw = Box::new(RawAddr::new(addr));
        let sqe = opcode::Connect::new(types::Fd(s.fd), raw.as_ptr(), raw.len).build();
        s.be.connect_addr = Some(raw);
        s.be.inflight = 1;
        core.be.ring.push(sqe.user_data(encode(Op::Connect, id)));
        Ok(())
    }

    fn adopt(core: &mut Core<Self>, id: SocketId) -> Result<(), SysError> {
        core.arm_recv(id);
        Ok(())
    }

    fn retry_accept(core: &mut Core<Self>, id: SocketId) {
        core.arm_accept(id);
    }

    fn close(core: &mut Core<Self>, id: SocketId) {
        let Some(s) = core.socks.get_mut(id) else {
            return;
        };
        s.state = State::Closing;
        let holds = s.zc.as_ref().is_some_and(|t| t.kernel_holds());
        sockets::release_data(&mut core.bufs, &mut s.be.held);
        let inflight = s.be.inflight > 0;
        if holds {
            core.close_after_zerocopy(id);
        }
        if inflight {
            core.cancel_all(id);
        } else {
            core.push_close(id);
        }
    }

    fn idle_writer(sock: &UringSock) -> bool {
        !sock.send_inflight
    }

    fn recv_paused(core: &mut Core<Self>, id: SocketId) {
        let Some(s) = core.socks.get_mut(id) else {
            return;
        };
        if s.be.recv_armed {
            s.be.inflight += 1;
            let sqe = opcode::AsyncCancel::new(encode(Op::Recv, id))
                .build()
                .user_data(encode(Op::CancelRecv, id));
            core.be.ring.push(sqe);
        }
    }

    fn recv_resumed(core: &mut Core<Self>, id: SocketId) {
        let Some(s) = core.socks.get_mut(id) else {
            return;
        };
        let had_held = !s.be.held.is_empty();
        core.pending.extend(s.be.held.drain(..));
        if had_held {
            Self::wake(core);
        }
        core.arm_recv(id);
    }

    fn buffers_returned(core: &mut Core<Self>) {
        if !core.starved.is_empty() && core.be.bring.empty_slots() > 0 {
            core.refill_and_rearm();
        }
    }

    fn emit_recv(core: &mut Core<Self>, id: SocketId, ev: Event, out: &mut Vec<Event>) {
        match core.socks.get_mut(id) {
            Some(s) if s.paused => s.be.held.push_back(ev),
            _ => out.push(ev),
        }
    }

    fn zerocopy_available(&mut self, _fd: RawFd, _stats: &mut EngineStats) -> bool {
        self.zc_supported
    }

    /// Zerocopy receive is not implemented on io_uring: the socket keeps the plain receive path
    /// and its bytes are counted as copied (`zc_recv_fallbacks` counts such sockets).
    fn set_zerocopy_receive(
        core: &mut Core<Self>,
        id: SocketId,
        on: bool,
    ) -> Result<bool, EngineError> {
        core.keep_plain_receive(id, on)
    }

    /// No receive windows on io_uring.
    fn release_mapped(
        _core: &mut Core<Self>,
        _window: u32,
        _chunk: u32,
    ) -> Result<(), EngineError> {
        Err(EngineError::InvalidArgument(
            "the io_uring backend maps no receive chunks",
        ))
    }

    /// No receive windows on io_uring.
    fn mapped_chunk(
        _core: &Core<Self>,
        _window: u32,
        _chunk: u32,
    ) -> Option<(*const u8, MappedMemory)> {
        None
    }

    /// The Close completion finishes it (every operation of the socket, notifications
    /// included, completed by then).
    fn zc_close_settled(_core: &mut Core<Self>, _id: SocketId) {}

    /// The notifications of the purged data arrive as CQEs.
    fn zc_aborted(_core: &mut Core<Self>, _id: SocketId) {}

    fn arm_zc_timer(core: &mut Core<Self>, now: Instant) {
        core.arm_close_timer(now);
    }

    /// Makes the notify fd readable so the owner calls `poll()` again.
    fn wake(core: &mut Core<Self>) {
        if core.be.evfd >= 0 {
            sys::eventfd_signal(core.be.evfd);
            core.stats.other_syscalls += 1;
        } else {
            // A NOP completes inline and leaves a CQE, which makes the ring fd readable.
            core.be
                .ring
                .push(opcode::Nop::new().build().user_data(encode(Op::Wake, 0)));
            let _ = core.be.ring.enter(0, None, false);
        }
    }

    fn submit(core: &mut Core<Self>) -> Result<usize, SysError> {
        core.settle_owed_wake();
        core.flush_dirty();
        let mut evs = Vec::new();
        core.emit_zc_done(&mut evs);
        core.queue_for_poll(evs);
        if core.be.ring.unsubmitted() == 0 {
            return Ok(0);
        }
        core.be.ring.enter(0, None, false)
    }

    fn submit_and_collect(core: &mut Core<Self>, out: &mut Vec<Event>) -> Result<usize, SysError> {
        core.mute_notify();
        let result = core.submit_and_collect_muted(out);
        core.unmute_notify();
        core.wake_if_work_left();
        result
    }

    fn poll(core: &mut Core<Self>, out: &mut Vec<Event>, max: usize) -> usize {
        core.poll_inner(out, max, None)
    }

    /// A poll that does not block; if it found nothing, one that waits in the kernel up to
    /// `deadline`.
    fn poll_until(core: &mut Core<Self>, out: &mut Vec<Event>, deadline: Instant) -> usize {
        let n = core.poll_inner(out, usize::MAX, None);
        let now = Instant::now();
        if n > 0 || now >= deadline {
            return n;
        }
        core.poll_inner(out, usize::MAX, Some(deadline - now))
    }

    /// No system call: ring memory says it.
    fn work_visible(core: &mut Core<Self>) -> bool {
        !core.pending.is_empty() || core.be.ring.work_visible()
    }

    fn unsubmitted(core: &mut Core<Self>) -> usize {
        core.be.ring.unsubmitted()
    }

    fn quiesce(core: &mut Core<Self>) -> bool {
        core.shutdown_all()
    }

    fn drop_sock(core: &mut Core<Self>, s: &mut Sock<UringSock>, clean: bool) {
        if !s.be.close_sent || s.be.inflight > 0 {
            sys::close_fd(s.fd);
        }
        if clean {
            sockets::release_data(&mut core.bufs, &mut s.be.held);
        }
    }

    fn teardown(core: &mut Core<Self>, clean: bool) {
        let _ = core.be.ring.ring.submitter().unregister_eventfd();
        let _ = core.be.ring.ring.submitter().unregister_buf_ring(BGID);
        if clean {
            core.be.bring.release_all(&mut core.bufs);
        }
        if core.be.evfd >= 0 {
            sys::close_fd(core.be.evfd);
        }
        core.be.pipes.close_all();
    }
}
