//! [`Sock`]: what the engine knows of one socket — the fields both backends keep, plus the
//! backend's own part `X` ([`Backend::Sock`](super::Backend::Sock)).

use crate::core::sendq::SendQueue;
use crate::core::tls::SockTls;
use crate::core::zerocopy::tracker::ZcTracker;
use std::os::fd::RawFd;

/// Socket role.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A listening socket: reports `Accepted`.
    Listener,
    /// A connection.
    Stream,
}

/// Lifecycle of a socket.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// `connect()` issued, not completed yet.
    Connecting,
    /// Usable.
    Open,
    /// `close()` called: only `Closed` follows.
    Closing,
}

/// Where a socket's write side is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum WriteShut {
    /// Open.
    Open,
    /// `shutdown_write` called; FIN goes out once the queue is empty.
    Wanted,
    /// FIN issued.
    Done,
}

/// One socket: the state the shared core works on, and the backend's part `be`.
pub(crate) struct Sock<X> {
    pub fd: RawFd,
    pub kind: Kind,
    pub state: State,
    /// `pause_recv` is in force.
    pub paused: bool,
    /// The peer's FIN was reported.
    pub eof: bool,
    /// An `Error` was reported: nothing more is sent.
    pub failed: bool,
    /// Waiting in `Core::dirty` for its queue to be written.
    pub dirty: bool,
    /// Waiting in `Core::starved` for receive buffers.
    pub starved: bool,
    /// Bytes queued and not yet taken by the kernel.
    pub sendq: SendQueue,
    pub shut: WriteShut,
    /// Zerocopy sends (made on the first `send_zerocopy`).
    pub zc: Option<Box<ZcTracker>>,
    /// Zerocopy receive was asked for (bytes are counted as mapped / copied).
    pub zc_recv: bool,
    /// A Unix domain socket (no TCP options; zerocopy sends are copies).
    pub unix: bool,
    /// TLS: a listener's server config, or a connection's session (`core/tls.rs`).
    pub tls: Option<SockTls>,
    /// What only the backend keeps.
    pub be: X,
}

impl<X: Default> Sock<X> {
    /// A socket of `kind` on `fd`; `unix` for an AF_UNIX one.
    pub fn new(fd: RawFd, kind: Kind, state: State, unix: bool) -> Self {
        Sock {
            fd,
            kind,
            state,
            paused: false,
            eof: false,
            failed: false,
            dirty: false,
            starved: false,
            sendq: SendQueue::default(),
            shut: WriteShut::Open,
            zc: None,
            zc_recv: false,
            unix,
            tls: None,
            be: X::default(),
        }
    }
}
