//! The backends, one folder each, of the same shape: `mod.rs` (state, socket part, the
//! [`Backend`](crate::core::Backend) implementation), `poll.rs` (the turn), `events.rs` (what
//! the kernel reports), `write.rs` (queues into writes), `zerocopy.rs`, plus what only that
//! kernel interface needs.

pub(crate) mod epoll;
pub(crate) mod io_uring;

pub(crate) use self::epoll::EpollBackend;
pub(crate) use self::io_uring::UringBackend;
