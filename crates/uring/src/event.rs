//! What `poll()` reports, and the engine's counters.

use crate::core::slab::SocketId;
use crate::error::SysError;
use zerosock_pool::BufHandle;

/// One thing that happened, reported by `Engine::poll` / `Engine::wait`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `listener` accepted a new connection, `socket` (already receiving).
    Accepted {
        /// The listening socket.
        listener: SocketId,
        /// The new connection.
        socket: SocketId,
    },
    /// `connect()` succeeded.
    Connected {
        /// The connecting socket.
        socket: SocketId,
    },
    /// Bytes arrived in pool buffer `buf` at `offset..offset + len`. The receiver owns `buf`
    /// and gives it back with `Engine::release_recv`.
    Data {
        /// The receiving socket.
        socket: SocketId,
        /// The buffer holding the bytes.
        buf: BufHandle,
        /// Start of the bytes in `buf`.
        offset: u32,
        /// Number of bytes.
        len: u32,
    },
    /// `bytes` more of the queued bytes were handed to the kernel.
    Sent {
        /// The sending socket.
        socket: SocketId,
        /// Bytes written by this completion.
        bytes: u64,
    },
    /// A file queued by `Engine::send_file` is done (in queue order per socket): `bytes` of it
    /// were handed to the kernel; `errno` is 0, or why reading the file failed (the socket
    /// goes on with what is queued after it). A socket error reports `Error` instead.
    FileSent {
        /// The sending socket.
        socket: SocketId,
        /// Bytes of the file sent.
        bytes: u64,
        /// 0, or the errno of the failed file read.
        errno: i32,
    },
    /// The peer finished sending (FIN). Sending may continue.
    Eof {
        /// The socket.
        socket: SocketId,
    },
    /// A system call failed on the socket (the first error only); the socket is unusable
    /// and should be closed.
    Error {
        /// The socket (or listener).
        socket: SocketId,
        /// What failed.
        err: SysError,
    },
    /// `close()` finished: the descriptor is closed, every buffer is back, the id is stale.
    Closed {
        /// The (now stale) socket id.
        socket: SocketId,
    },
    /// TLS: the handshake is over and the peer's certificate was checked (what came of it:
    /// `Engine::tls_session`). Plaintext `Data` follows, and sends queued during the handshake
    /// are on their way.
    TlsReady {
        /// The socket.
        socket: SocketId,
    },
    /// TLS: the session failed — a refused certificate, an alert, bytes that are not TLS
    /// (why: `Engine::tls_session(…).error()`). An alert for the peer, if any, is on its way;
    /// nothing more is received or sent. Close the socket.
    TlsFailed {
        /// The socket.
        socket: SocketId,
    },
    /// Zerocopy sends `first..=last` (ids from `Engine::send_zerocopy`, consecutive per
    /// socket) are finished: all their bytes were handed to the kernel and the kernel let go of
    /// their memory (pool buffers are back; pinned memory may be reused). `copied` tells
    /// whether the kernel copied the data after all (SO_EE_CODE_ZEROCOPY_COPIED /
    /// IORING_NOTIF_USAGE_ZC_COPIED, or the zerocopy path is off for the socket). Completions
    /// found in one poll are merged into as few ranges as possible (never across the u32
    /// wrap, never mixing `copied` values).
    ZeroCopyDone {
        /// The sending socket.
        socket: SocketId,
        /// First send id of the range.
        first: u32,
        /// Last send id of the range (inclusive).
        last: u32,
        /// The kernel copied these sends.
        copied: bool,
    },
    /// Zerocopy receive: `len` received bytes were mapped (not copied) at the start of chunk
    /// `chunk` of receive window `window` (see `Engine::mapped_chunk`). They come before any
    /// `Data` of the same poll in stream order. Read-only memory: give it back with
    /// `Engine::release_mapped`.
    Mapped {
        /// The receiving socket.
        socket: SocketId,
        /// The socket's receive window.
        window: u32,
        /// The chunk holding the bytes.
        chunk: u32,
        /// Number of bytes (a multiple of the page size).
        len: u32,
    },
}

/// Counters since the engine started.
impl Event {
    /// The connection a per-connection event is about: every kind but `Accepted` (a
    /// listener's) and `Closed` (the last one).
    pub fn connection(&self) -> Option<SocketId> {
        match *self {
            Event::Connected { socket }
            | Event::Data { socket, .. }
            | Event::Sent { socket, .. }
            | Event::FileSent { socket, .. }
            | Event::Eof { socket }
            | Event::TlsReady { socket }
            | Event::TlsFailed { socket }
            | Event::Error { socket, .. }
            | Event::ZeroCopyDone { socket, .. }
            | Event::Mapped { socket, .. } => Some(socket),
            Event::Accepted { .. } | Event::Closed { .. } => None,
        }
    }
}

/// Counters of one engine since it started ([`Engine::stats`](crate::Engine::stats)); a
/// backend leaves the counters of the other backend's mechanisms at 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// io_uring_enter calls.
    pub enters: u64,
    /// epoll_wait calls.
    pub epoll_waits: u64,
    /// read/recv calls (epoll backend).
    pub read_calls: u64,
    /// write/writev/send calls (both backends: direct sends count here too).
    pub write_calls: u64,
    /// Other system calls on the hot path (eventfd reads/writes, accept4, shutdown, close, ...).
    pub other_syscalls: u64,
    /// SQEs queued.
    pub sqes: u64,
    /// CQEs reaped.
    pub cqes: u64,
    /// Times the submission queue was full and had to be flushed early.
    pub sq_full: u64,
    /// Times the completion queue overflowed (kernel kept the CQEs, we flushed them).
    pub cq_overflows: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// `Data` events.
    pub recv_events: u64,
    /// `Data` events that were copied into a small buffer (copy-break).
    pub copy_breaks: u64,
    /// Times receiving stopped because no receive buffer was free (ENOBUFS / pool empty).
    pub recv_buffer_exhausted: u64,
    /// Send completions / writev calls that wrote bytes.
    pub send_ops: u64,
    /// Accepted connections.
    pub accepted: u64,
    /// Sockets open now (listeners included).
    pub open_sockets: u64,
    /// `poll()` calls that found nothing to report.
    pub empty_polls: u64,
    /// [`Engine::busy_wait`](crate::Engine::busy_wait) calls.
    pub busy_polls: u64,
    /// `busy_wait` calls that saw work arrive before their budget ran out.
    pub busy_poll_hits: u64,
    /// Time spent spinning in `busy_wait`, µs.
    pub busy_poll_spun_us: u64,
    /// Spins cut short because something else the event loop watches was ready.
    pub busy_poll_yields: u64,
    /// `send_zerocopy` calls accepted.
    pub zerocopy_sends: u64,
    /// Bytes of accepted zerocopy sends.
    pub zerocopy_bytes: u64,
    /// Bytes of finished zerocopy sends the kernel reported copied.
    pub zerocopy_copied_bytes: u64,
    /// Finished zerocopy sends the kernel reported copied.
    pub zerocopy_copied_sends: u64,
    /// Finished (reported) zerocopy sends.
    pub zerocopy_done_sends: u64,
    /// Zerocopy sends written as plain copies because the socket / kernel has no zerocopy path.
    pub zerocopy_fallback_sends: u64,
    /// Kernel zerocopy writes (MSG_ZEROCOPY sendmsg calls / SEND_ZC SQEs).
    pub zc_writes: u64,
    /// Kernel notifications received (error-queue messages / notification CQEs).
    pub zc_notifications: u64,
    /// `ZeroCopyDone` events reported (ranges).
    pub zc_done_events: u64,
    /// MSG_ZEROCOPY writes refused with ENOBUFS (too much memory pinned; waited for
    /// notifications, or copied when none was outstanding).
    pub zc_enobufs: u64,
    /// Zerocopy sends whose memory was never given back because the kernel did not let go in
    /// time (a close that gave up waiting, or engine drop); pool buffers among them are leaked.
    pub zc_leaked_sends: u64,
    /// Zerocopy receive: bytes mapped (not copied).
    pub recv_mapped_bytes: u64,
    /// Zerocopy receive: bytes that arrived by copy on sockets that asked for zerocopy receive
    /// (copy buffer, plain reads, or the io_uring fallback).
    pub recv_copied_bytes: u64,
    /// TCP_ZEROCOPY_RECEIVE getsockopt calls.
    pub zc_recv_calls: u64,
    /// Sockets that asked for zerocopy receive and got the plain path (io_uring backend, or
    /// the kernel refused the mapping).
    pub zc_recv_fallbacks: u64,
    /// TLS handshakes finished (the peer checked).
    pub tls_handshakes: u64,
    /// TLS sessions that failed (refused certificate, alert, not TLS, no buffer).
    pub tls_failures: u64,
    /// Plaintext bytes encrypted for sending.
    pub tls_plain_out: u64,
    /// Plaintext bytes decrypted from what was received.
    pub tls_plain_in: u64,
}
