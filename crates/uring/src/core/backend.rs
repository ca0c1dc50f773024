//! [`Backend`]: the contract between the shared [`Core`] and a kernel interface (epoll,
//! io_uring).
//!
//! The core owns every socket, the send queues, the events not handed out yet and the
//! counters, and does everything that does not depend on how the kernel is driven: checking
//! and queueing sends, copy-break delivery, failing a socket, pause / resume bookkeeping,
//! zerocopy accounting, closes that wait for the kernel to let go of zerocopy memory, stalled
//! accepts. A backend adds the part that does: how receives are armed, how a dirty queue
//! becomes a write, how the owner is woken, how completions / readiness are reaped.
//!
//! Functions take the whole engine (`core: &mut Core<Self>`) so a backend can use the shared
//! state and its own (`core.be`) in one borrow. Every call is resolved at compile time: the
//! engine is `Core<EpollBackend>` or `Core<UringBackend>`, never a trait object.
//!
//! A feature both backends serve (a socket option, a kind of send, a new event) goes in three
//! places: what does not depend on the kernel interface in `core/`, a function here for what
//! does, and its two implementations in `backend/epoll/` and `backend/io_uring/`, each in the
//! file of the same job (`poll.rs`, `events.rs`, `write.rs`, `sockets.rs`, `zerocopy.rs`).

use super::{Core, Sock};
use crate::addr::SockAddr;
use crate::backend::epoll::recv_window::MappedMemory;
use crate::config::EngineConfig;
use crate::core::buffers::Buffers;
use crate::core::slab::SocketId;
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// What a backend implements. "Owner" is the thread that runs the engine.
pub(crate) trait Backend: Sized {
    /// The backend's part of every socket ([`Sock::be`]).
    type Sock: Default;
    /// Sockets are made `O_NONBLOCK` (readiness backends) or blocking (completion backends).
    const NONBLOCKING: bool;
    /// How long a close waits for zerocopy notifications after it aborted the connection
    /// before it gives up and leaks the memory (`None`: waits until the kernel lets go).
    const ZC_CLOSE_GIVE_UP_AFTER: Option<Duration>;

    // --- setup and description ---

    /// Sets the backend up; `bufs` is the engine's pool access (e.g. to fill a buffer ring),
    /// `stats` its counters.
    fn new(
        cfg: &EngineConfig,
        bufs: &mut Buffers,
        stats: &mut EngineStats,
    ) -> Result<Self, EngineError>;
    /// The descriptor that is readable when `poll()` has work.
    fn notify_fd(&self) -> RawFd;
    /// How the backend runs, for logs.
    fn describe(&self) -> String;
    /// Adds the backend's own counters to `s`.
    fn add_stats(&self, s: &mut EngineStats);

    // --- sockets ---

    /// Listener `id` was created: start accepting on it.
    fn start_accepting(core: &mut Core<Self>, id: SocketId) -> Result<(), SysError>;
    /// Stream `id` (state `Connecting`) was created: start connecting it to `addr`.
    fn start_connect(core: &mut Core<Self>, id: SocketId, addr: &SockAddr) -> Result<(), SysError>;
    /// Accepted stream `id` was created: start receiving on it.
    fn adopt(core: &mut Core<Self>, id: SocketId) -> Result<(), SysError>;
    /// Stalled listener `id` may accept again (a descriptor was freed, or time passed).
    fn retry_accept(core: &mut Core<Self>, id: SocketId);
    /// `close()` of a socket that is not closing; its pending events are gone already.
    fn close(core: &mut Core<Self>, id: SocketId);
    /// Nothing is being written for the socket right now, so a direct `send(2)` keeps order.
    fn idle_writer(sock: &Self::Sock) -> bool;

    // --- receive ---

    /// Stream `id` was paused.
    fn recv_paused(core: &mut Core<Self>, id: SocketId);
    /// Stream `id` was resumed.
    fn recv_resumed(core: &mut Core<Self>, id: SocketId);
    /// Buffers came back to the pool: starved receives may go on.
    fn buffers_returned(core: &mut Core<Self>);
    /// Hands out a receive-side event of `id` (or keeps it while the socket is paused).
    fn emit_recv(core: &mut Core<Self>, id: SocketId, ev: Event, out: &mut Vec<Event>);

    // --- zerocopy ---

    /// Whether the kernel sends zerocopy on socket `fd` (asked once per socket).
    fn zerocopy_available(&mut self, fd: RawFd, stats: &mut EngineStats) -> bool;
    /// `Engine::set_zerocopy_receive` (also called for connections of a listener that has it).
    fn set_zerocopy_receive(
        core: &mut Core<Self>,
        id: SocketId,
        on: bool,
    ) -> Result<bool, EngineError>;
    /// `Engine::release_mapped`.
    fn release_mapped(core: &mut Core<Self>, window: u32, chunk: u32) -> Result<(), EngineError>;
    /// `Engine::mapped_chunk`.
    fn mapped_chunk(
        core: &Core<Self>,
        window: u32,
        chunk: u32,
    ) -> Option<(*const u8, MappedMemory)>;
    /// A close that waited for zerocopy memory may finish: the kernel let go, or the wait
    /// passed [`ZC_CLOSE_GIVE_UP_AFTER`](Self::ZC_CLOSE_GIVE_UP_AFTER).
    fn zc_close_settled(core: &mut Core<Self>, id: SocketId);
    /// The connection of closing socket `id` was aborted to make the kernel let go.
    fn zc_aborted(core: &mut Core<Self>, id: SocketId);
    /// Arms a timer for [`Core::next_zc_deadline`] (from `now`).
    fn arm_zc_timer(core: &mut Core<Self>, now: Instant);

    // --- the turn ---

    /// Makes the notify fd readable so the owner calls `poll()`.
    fn wake(core: &mut Core<Self>);
    /// `Engine::submit`.
    fn submit(core: &mut Core<Self>) -> Result<usize, SysError>;
    /// `Engine::submit_and_collect`.
    fn submit_and_collect(core: &mut Core<Self>, out: &mut Vec<Event>) -> Result<usize, SysError>;
    /// `Engine::poll`.
    fn poll(core: &mut Core<Self>, out: &mut Vec<Event>, max: usize) -> usize;
    /// One step of `Engine::wait`: polls, blocking at most until `deadline` for an event.
    fn poll_until(core: &mut Core<Self>, out: &mut Vec<Event>, deadline: Instant) -> usize;
    /// Whether a `poll()` now would find something (cheap; used by busy polling).
    fn work_visible(core: &mut Core<Self>) -> bool;
    /// Kernel requests queued and not yet submitted (for `SubmitDebt::sqes`).
    fn unsubmitted(core: &mut Core<Self>) -> usize;

    // --- teardown (engine drop) ---

    /// Cancels everything; true once the kernel let go of every buffer (false: gave up, the
    /// buffers it may still touch are leaked rather than reused).
    fn quiesce(core: &mut Core<Self>) -> bool;
    /// Socket `s` leaves with the engine: close what the backend holds of it.
    fn drop_sock(core: &mut Core<Self>, s: &mut Sock<Self::Sock>, clean: bool);
    /// Last step: give back the backend's descriptors and buffers.
    fn teardown(core: &mut Core<Self>, clean: bool);
}
