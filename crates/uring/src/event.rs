//! What `poll()` reports, and the engine's counters.

use crate::error::SysError;
use crate::slab::SocketId;
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
}

/// Counters since the engine started.
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
}
