//! [`Engine`]: the public face over the two backends.

use crate::addr::SockAddr;
use crate::backend::epoll::recv_window::MappedMemory;
use crate::backend::{EpollBackend, UringBackend};
use crate::backend_choice::BackendKind;
use crate::busy_poll::SpinEnd;
use crate::config::EngineConfig;
use crate::core::slab::SocketId;
use crate::core::{Backend, BufRange, Core};
use crate::debt::SubmitDebt;
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use std::os::fd::RawFd;
use std::time::Duration;
use zerosock_pool::BufHandle;
use zerosock_tls::{ClientConfig, ServerConfig, TlsSession};

/// The TLS pass over the events a poll appended (`out[start..]`, see core/tls.rs); submits
/// at once what it queued (handshake replies, alerts). Returns the events appended.
fn tls_pass<B: Backend>(c: &mut Core<B>, out: &mut Vec<Event>, start: usize) -> usize {
    if c.tls_events(out, start) {
        let _ = B::submit(c);
    }
    out.len() - start
}

/// The engine on the backend it was built with (one match per call; no trait object).
enum Imp {
    Uring(Box<Core<UringBackend>>),
    Epoll(Box<Core<EpollBackend>>),
}

/// A single-threaded TCP engine: one per thread (it is neither `Send` nor `Sync`).
///
/// Calls queue work; [`submit`](Engine::submit) hands it to the kernel in one system call;
/// [`poll`](Engine::poll) / [`wait`](Engine::wait) report what happened as [`Event`]s.
pub struct Engine {
    imp: Imp,
    busy_polls: u64,
    busy_poll_hits: u64,
    busy_poll_ns: u64,
    busy_poll_yields: u64,
}

impl Engine {
    /// Builds an engine on `cfg.backend`.
    ///
    /// Errors: `BackendUnavailable` when io_uring can't be set up (or lacks the provided-buffer
    /// ring), `InvalidArgument` for a pool without classes 0 and 1, `Sys` for epoll/eventfd
    /// failures.
    pub fn new(cfg: EngineConfig) -> Result<Engine, EngineError> {
        let imp = match cfg.backend {
            BackendKind::IoUring => Imp::Uring(Box::new(Core::new(&cfg)?)),
            BackendKind::Epoll => Imp::Epoll(Box::new(Core::new(&cfg)?)),
        };
        Ok(Engine {
            imp,
            busy_polls: 0,
            busy_poll_hits: 0,
            busy_poll_ns: 0,
            busy_poll_yields: 0,
        })
    }

    /// The backend this engine runs on.
    pub fn backend(&self) -> BackendKind {
        match self.imp {
            Imp::Uring(_) => BackendKind::IoUring,
            Imp::Epoll(_) => BackendKind::Epoll,
        }
    }

    /// A descriptor that is readable (level-triggered) whenever [`poll`](Engine::poll) has
    /// work: the ring's eventfd (io_uring) or the epoll fd. `poll()` clears it.
    pub fn notify_fd(&self) -> RawFd {
        match &self.imp {
            Imp::Uring(c) => c.be.notify_fd(),
            Imp::Epoll(c) => c.be.notify_fd(),
        }
    }

    /// How the backend runs, for logs and `probe()`: e.g. "io_uring
    /// single_issuer+defer_taskrun+taskrun_flag, notify: ring fd".
    pub fn describe(&self) -> String {
        match &self.imp {
            Imp::Uring(c) => c.be.describe(),
            Imp::Epoll(c) => c.be.describe(),
        }
    }

    /// Listens on `addr`: IPv4 or IPv6 (SO_REUSEADDR always, SO_REUSEPORT on request), or a
    /// Unix domain socket (a path, removed again by `close()`, or an abstract name; `reuse_port`
    /// is EINVAL there). Accepted connections arrive as [`Event::Accepted`].
    ///
    /// Errors: the failing call's errno ("socket", "setsockopt", "bind", "listen").
    pub fn listen(
        &mut self,
        addr: SockAddr,
        backlog: u32,
        reuse_port: bool,
    ) -> Result<SocketId, SysError> {
        match &mut self.imp {
            Imp::Uring(c) => c.listen(&addr, backlog, reuse_port),
            Imp::Epoll(c) => c.listen(&addr, backlog, reuse_port),
        }
    }

    /// Gives everyone read and/or write permission on the socket file of listener `id`
    /// (node:net's `readableAll` / `writableAll`). Errors: `WrongSocketKind` unless `id`
    /// listens on a Unix socket path; `Sys` ("chmod").
    pub fn allow_all(&mut self, id: SocketId, read: bool, write: bool) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.allow_all(id, read, write),
            Imp::Epoll(c) => c.allow_all(id, read, write),
        }
    }

    /// Starts connecting (TCP or a Unix socket); completes with [`Event::Connected`] or
    /// [`Event::Error`] (syscall "connect"). Sends may be queued before it completes.
    ///
    /// Errors: only immediate failures (e.g. "socket" EMFILE).
    pub fn connect(&mut self, addr: impl Into<SockAddr>) -> Result<SocketId, SysError> {
        let addr = addr.into();
        match &mut self.imp {
            Imp::Uring(c) => c.connect(&addr),
            Imp::Epoll(c) => c.connect(&addr),
        }
    }

    /// getsockname(2) of a socket (an unnamed Unix socket has an empty name). Errors:
    /// `BadSocket`, `Sys`.
    pub fn local_addr(&self, id: SocketId) -> Result<SockAddr, EngineError> {
        match &self.imp {
            Imp::Uring(c) => c.address(id, false),
            Imp::Epoll(c) => c.address(id, false),
        }
    }

    /// getpeername(2) of a socket (an unnamed Unix peer has an empty name). Errors:
    /// `BadSocket`, `Sys` (ENOTCONN).
    pub fn peer_addr(&self, id: SocketId) -> Result<SockAddr, EngineError> {
        match &self.imp {
            Imp::Uring(c) => c.address(id, true),
            Imp::Epoll(c) => c.address(id, true),
        }
    }

    /// Queues `len` bytes at `offset` of pool buffer `buf`. On success the engine owns `buf` and
    /// releases it once sent (or when the socket closes); on error the caller still owns it.
    ///
    /// Errors: `BadSocket`, `SocketClosed` (closing, after `shutdown_write`, or after an
    /// `Error` event), `WrongSocketKind` (listener), `InvalidArgument` (range past the buffer),
    /// `Pool` (stale handle).
    pub fn send(
        &mut self,
        id: SocketId,
        buf: BufHandle,
        offset: u32,
        len: u32,
    ) -> Result<(), EngineError> {
        let range = BufRange { buf, offset, len };
        match &mut self.imp {
            Imp::Uring(c) => c.send(id, range),
            Imp::Epoll(c) => c.send(id, range),
        }
    }

    /// Copies `data` into pool buffers (appending to the last queued copy buffer while it has
    /// room) and queues them — or, when nothing is queued and `data` is at least
    /// `direct_send_min` bytes, first writes it directly (send(2)); the `Sent` of such a write
    /// is handed out by the next `poll()` / `submit_and_collect()`, or announced on the notify
    /// fd by the next `submit()`. Errors as [`send`](Engine::send), plus `Pool` when the pool is
    /// exhausted (what was copied before stays queued).
    pub fn send_copy(&mut self, id: SocketId, data: &[u8]) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.send_copy(id, data),
            Imp::Epoll(c) => c.send_copy(id, data),
        }
    }

    /// Queues `len` bytes of file `fd` from `offset`, in order with the socket's other sends
    /// (sendfile(2) on epoll, splice through a pipe on io_uring). The engine sends from its
    /// own duplicate of `fd`; [`Event::FileSent`] reports the end.
    pub fn send_file(
        &mut self,
        id: SocketId,
        fd: RawFd,
        offset: u64,
        len: u64,
    ) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.send_file(id, fd, offset, len),
            Imp::Epoll(c) => c.send_file(id, fd, offset, len),
        }
    }

    /// Queues a zerocopy send of `len` bytes at `offset` of pool buffer `buf`, in order with
    /// the socket's other sends; returns its send id (per socket, consecutive from 0). The
    /// kernel reads the buffer in place (io_uring SEND_ZC with usage reporting; epoll
    /// MSG_ZEROCOPY). On success the engine owns `buf` and releases it after the kernel's
    /// notification — reported as [`Event::ZeroCopyDone`] — or after `Closed`.
    ///
    /// Errors: as [`send`](Engine::send), plus `InvalidArgument` for `len == 0`.
    pub fn send_zerocopy(
        &mut self,
        id: SocketId,
        buf: BufHandle,
        offset: u32,
        len: u32,
    ) -> Result<u32, EngineError> {
        let range = BufRange { buf, offset, len };
        match &mut self.imp {
            Imp::Uring(c) => c.send_zerocopy(id, range),
            Imp::Epoll(c) => c.send_zerocopy(id, range),
        }
    }

    /// Like [`send_zerocopy`](Engine::send_zerocopy) for memory the caller pins itself.
    ///
    /// # Safety
    /// `ptr..ptr + len` must stay valid (mapped; its contents are what gets sent) until the
    /// [`Event::ZeroCopyDone`] naming the returned id, or the socket's [`Event::Closed`].
    /// The engine never dereferences it; the kernel reads it.
    pub unsafe fn send_zerocopy_pinned(
        &mut self,
        id: SocketId,
        ptr: *const u8,
        len: u32,
    ) -> Result<u32, EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.send_zerocopy_src(id, None, ptr, len),
            Imp::Epoll(c) => c.send_zerocopy_src(id, None, ptr, len),
        }
    }

    /// Turns zerocopy receive (TCP_ZEROCOPY_RECEIVE) on or off for a socket, or for the
    /// connections a listener accepts from now on. Returns whether the mapped path is active:
    /// on the epoll backend received pages then arrive as [`Event::Mapped`] and stragglers
    /// through a copy buffer as [`Event::Data`]; the io_uring backend keeps its normal
    /// receive path (returns false; counted in `zc_recv_fallbacks`). Either way the socket's
    /// bytes are counted in `recv_mapped_bytes` / `recv_copied_bytes`.
    ///
    /// Errors: `BadSocket`, `SocketClosed`.
    pub fn set_zerocopy_receive(&mut self, id: SocketId, on: bool) -> Result<bool, EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.set_zerocopy_receive(id, on),
            Imp::Epoll(c) => c.set_zerocopy_receive(id, on),
        }
    }

    /// Gives back chunk `chunk` of receive window `window` (from [`Event::Mapped`]). Every
    /// view of it must be gone: its pages are unmapped.
    ///
    /// Errors: `InvalidArgument` for a chunk that is not lent.
    pub fn release_mapped(&mut self, window: u32, chunk: u32) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => UringBackend::release_mapped(c, window, chunk),
            Imp::Epoll(c) => EpollBackend::release_mapped(c, window, chunk),
        }
    }

    /// Where the bytes of a lent chunk are (read-only memory), plus a handle that keeps the
    /// address range reserved while it lives (give one to anything that may outlive the
    /// release, e.g. a JS `ArrayBuffer`). `None` if the chunk is not lent.
    pub fn mapped_chunk(&self, window: u32, chunk: u32) -> Option<(*const u8, MappedMemory)> {
        match &self.imp {
            Imp::Uring(c) => UringBackend::mapped_chunk(c, window, chunk),
            Imp::Epoll(c) => EpollBackend::mapped_chunk(c, window, chunk),
        }
    }

    /// What this engine holds that only [`submit`](Engine::submit) (or a poll) hands to the
    /// kernel: a caller that returns to its event loop while this is not empty strands it —
    /// nothing wakes the loop for that work. Empty right after `submit()`,
    /// `submit_and_collect()` or `poll()`.
    pub fn debt(&mut self) -> SubmitDebt {
        match &mut self.imp {
            Imp::Uring(c) => c.debt(),
            Imp::Epoll(c) => c.debt(),
        }
    }

    /// Bytes queued and not yet handed to the kernel (0 for unknown ids).
    pub fn queued_bytes(&self, id: SocketId) -> usize {
        match &self.imp {
            Imp::Uring(c) => c.queued_bytes(id),
            Imp::Epoll(c) => c.queued_bytes(id),
        }
    }

    /// Sends FIN once everything queued has been sent; later sends fail with `SocketClosed`.
    pub fn shutdown_write(&mut self, id: SocketId) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.shutdown_write(id),
            Imp::Epoll(c) => c.shutdown_write(id),
        }
    }

    /// Closes the socket at once (queued data is dropped): in-flight operations are cancelled,
    /// buffers are released after the kernel let go, then [`Event::Closed`] is reported and
    /// the id becomes stale. No other event of this socket follows the call.
    pub fn close(&mut self, id: SocketId) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.close(id),
            Imp::Epoll(c) => c.close(id),
        }
    }

    /// Stops `Data`/`Eof` events of the socket until [`resume_recv`](Engine::resume_recv).
    pub fn pause_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.pause_recv(id),
            Imp::Epoll(c) => c.pause_recv(id),
        }
    }

    /// Restarts receiving after [`pause_recv`](Engine::pause_recv).
    pub fn resume_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.resume_recv(id),
            Imp::Epoll(c) => c.resume_recv(id),
        }
    }

    /// Gives back a buffer received in [`Event::Data`].
    /// Errors: `Pool` (already released / stale handle).
    pub fn release_recv(&mut self, h: BufHandle) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.release_recv(h),
            Imp::Epoll(c) => c.release_recv(h),
        }
    }

    /// Hands everything queued since the last call to the kernel: one io_uring_enter
    /// (io_uring) or one sendmsg per socket with queued data (epoll). Returns SQEs submitted
    /// (io_uring) or write calls made (epoll). On epoll, the `Sent`/`Error` events of those
    /// writes are kept for the next `poll()` and the notify fd is woken for them (an eventfd
    /// write and read); [`submit_and_collect`](Engine::submit_and_collect) avoids that.
    pub fn submit(&mut self) -> Result<usize, SysError> {
        match &mut self.imp {
            Imp::Uring(c) => UringBackend::submit(c),
            Imp::Epoll(c) => EpollBackend::submit(c),
        }
    }

    /// [`submit`](Engine::submit) plus whatever completed without waiting, appended to `out`
    /// (e.g. `Sent` of an epoll write done right here, inline io_uring completions, events of
    /// `close()`/`resume_recv()`). Never blocks and never touches the notify fd, so a binding that
    /// calls this at the end of each tick saves the wake-up `submit()` may cost. Submitting
    /// may take a second io_uring_enter when completions queued follow-up work (a partial send).
    pub fn submit_and_collect(&mut self, out: &mut Vec<Event>) -> Result<usize, SysError> {
        let start = out.len();
        match &mut self.imp {
            Imp::Uring(c) => {
                let r = UringBackend::submit_and_collect(c, out);
                tls_pass(c, out, start);
                r
            }
            Imp::Epoll(c) => {
                let r = EpollBackend::submit_and_collect(c, out);
                tls_pass(c, out, start);
                r
            }
        }
    }

    /// Non-blocking: submits pending work, reaps completions / ready sockets and appends up to
    /// `max` events to `out`. Returns the number appended. Clears the notify fd (and sets it
    /// again if work is left over).
    pub fn poll(&mut self, out: &mut Vec<Event>, max: usize) -> usize {
        let start = out.len();
        match &mut self.imp {
            Imp::Uring(c) => {
                UringBackend::poll(c, out, max);
                tls_pass(c, out, start)
            }
            Imp::Epoll(c) => {
                EpollBackend::poll(c, out, max);
                tls_pass(c, out, start)
            }
        }
    }

    /// Like [`poll`](Engine::poll) but blocks up to `timeout` for at least one event.
    pub fn wait(&mut self, timeout: Duration, out: &mut Vec<Event>) -> usize {
        let start = out.len();
        match &mut self.imp {
            Imp::Uring(c) => {
                c.wait(timeout, out);
                tls_pass(c, out, start)
            }
            Imp::Epoll(c) => {
                c.wait(timeout, out);
                tls_pass(c, out, start)
            }
        }
    }

    /// Connections listener `id` accepts from now on speak TLS as servers with `config`:
    /// `Accepted` comes at once, then `TlsReady` (or `TlsFailed`) when the handshake ends;
    /// `Data` is plaintext and `Sent` counts plaintext bytes. Errors: `BadSocket`,
    /// `SocketClosed`, `WrongSocketKind` (not a listener).
    pub fn set_tls_server(
        &mut self,
        id: SocketId,
        config: ServerConfig,
    ) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.set_tls_server(id, config),
            Imp::Epoll(c) => c.set_tls_server(id, config),
        }
    }

    /// Stream `id` (just made by `connect()`, nothing sent yet) speaks TLS as a client of
    /// `servername`: the ClientHello goes out when it connects; `TlsReady` or `TlsFailed`
    /// follows `Connected`. Sends before `TlsReady` go out right after the handshake. Errors:
    /// `Tls` (a servername that is neither a DNS name nor an IP address), `InvalidArgument`
    /// (already TLS, or bytes were sent), those of [`send`](Engine::send).
    pub fn set_tls_client(
        &mut self,
        id: SocketId,
        config: &ClientConfig,
        servername: &str,
    ) -> Result<(), EngineError> {
        match &mut self.imp {
            Imp::Uring(c) => c.set_tls_client(id, config, servername),
            Imp::Epoll(c) => c.set_tls_client(id, config, servername),
        }
    }

    /// The TLS session of connection `id` (None: not TLS, or unknown): whether the peer is
    /// authorized, ALPN, protocol, the peer's certificates, the error that ended it.
    pub fn tls_session(&self, id: SocketId) -> Option<&TlsSession> {
        match &self.imp {
            Imp::Uring(c) => c.tls_session(id),
            Imp::Epoll(c) => c.tls_session(id),
        }
    }

    /// Spins — without sleeping — up to `budget` until [`poll`](Engine::poll) would find
    /// something, so an event loop about to wait on the notify fd finds it readable instead of
    /// going to sleep and being woken (SO_BUSY_POLL's trade: a shorter wake-up for CPU time).
    /// io_uring checks ring memory (no system call per turn); epoll polls its fd. `also` is
    /// the event loop's own fd (libuv's backend fd), polled every few µs: when anything else the
    /// loop watches is ready, the spin ends at once ([`SpinEnd::Other`]), so other handles wait
    /// at most that long. [`BusyPoll`](crate::BusyPoll) decides the budget.
    pub fn busy_wait(&mut self, budget: Duration, also: Option<RawFd>) -> SpinEnd {
        const OTHER_EVERY: Duration = Duration::from_micros(2);
        self.busy_polls += 1;
        let start = std::time::Instant::now();
        let mut next_other = start + OTHER_EVERY;
        let end = loop {
            if self.work_visible() {
                self.busy_poll_hits += 1;
                break SpinEnd::Work;
            }
            let now = std::time::Instant::now();
            if now >= next_other {
                if also.is_some_and(crate::sys::readable_now) {
                    self.busy_poll_yields += 1;
                    break SpinEnd::Other;
                }
                next_other = now + OTHER_EVERY;
            }
            if now.duration_since(start) >= budget {
                break SpinEnd::Budget;
            }
            std::hint::spin_loop();
        };
        self.busy_poll_ns += start.elapsed().as_nanos() as u64;
        end
    }

    /// Whether a `poll()` now would find something (see `busy_wait`).
    fn work_visible(&mut self) -> bool {
        match &mut self.imp {
            Imp::Uring(c) => UringBackend::work_visible(c),
            Imp::Epoll(c) => EpollBackend::work_visible(c),
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> EngineStats {
        let mut s = match &self.imp {
            Imp::Uring(c) => c.stats(),
            Imp::Epoll(c) => c.stats(),
        };
        s.busy_polls = self.busy_polls;
        s.busy_poll_hits = self.busy_poll_hits;
        s.busy_poll_spun_us = self.busy_poll_ns / 1000;
        s.busy_poll_yields = self.busy_poll_yields;
        s
    }
}
