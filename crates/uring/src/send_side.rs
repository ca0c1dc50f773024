//! The send side both backends share: checking that a socket may send, queueing pool buffers
//! and copies, the direct `send(2)` shortcut, shutdown, and the dirty list that the backends
//! turn into writes (epoll) or SEND SQEs (io_uring) at submit time.

use crate::buffers::Buffers;
use crate::common::{direct_send, Kind, State, WriteShut};
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use crate::sendq::SendQueue;
use crate::slab::{Slab, SocketId};
use crate::sys;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use zerosock_pool::BufHandle;

/// A send of at least this many times `direct_send_min` is written directly even when the
/// socket already had a direct write since the last submit.
pub(crate) const DIRECT_ALWAYS_FACTOR: usize = 4;

/// What the shared send side needs of a backend's socket.
pub(crate) trait StreamSock {
    fn fd(&self) -> RawFd;
    fn kind(&self) -> Kind;
    fn state(&self) -> State;
    fn failed(&self) -> bool;
    fn shut_mut(&mut self) -> &mut WriteShut;
    fn sendq_mut(&mut self) -> &mut SendQueue;
    fn dirty_mut(&mut self) -> &mut bool;
    /// Nothing is being written for the socket right now, so a direct `send(2)` keeps order
    /// (epoll: the socket is writable; io_uring: no send in flight).
    fn idle_writer(&self) -> bool;
}

/// Implements [`StreamSock`] for a socket type with fields `fd`, `kind`, `state`, `failed`,
/// `shut`, `sendq` and `dirty`; `idle` says when nothing is being written (see `idle_writer`).
macro_rules! impl_stream_sock {
    ($ty:ty, |$s:ident| $idle:expr) => {
        impl $crate::send_side::StreamSock for $ty {
            fn fd(&self) -> std::os::fd::RawFd {
                self.fd
            }
            fn kind(&self) -> $crate::common::Kind {
                self.kind
            }
            fn state(&self) -> $crate::common::State {
                self.state
            }
            fn failed(&self) -> bool {
                self.failed
            }
            fn shut_mut(&mut self) -> &mut $crate::common::WriteShut {
                &mut self.shut
            }
            fn sendq_mut(&mut self) -> &mut $crate::sendq::SendQueue {
                &mut self.sendq
            }
            fn dirty_mut(&mut self) -> &mut bool {
                &mut self.dirty
            }
            fn idle_writer(&self) -> bool {
                let $s = self;
                $idle
            }
        }
    };
}
pub(crate) use impl_stream_sock;

/// A socket that is not closing. Errors: `BadSocket` (stale id), `SocketClosed`.
pub(crate) fn sock_mut<S: StreamSock>(
    socks: &mut Slab<S>,
    id: SocketId,
) -> Result<&mut S, EngineError> {
    let s = socks.get_mut(id).ok_or(EngineError::BadSocket)?;
    if s.state() == State::Closing {
        return Err(EngineError::SocketClosed);
    }
    Ok(s)
}

/// The socket's local (`peer == false`) or peer address.
pub(crate) fn address<S: StreamSock>(
    socks: &Slab<S>,
    id: SocketId,
    peer: bool,
) -> Result<SocketAddr, EngineError> {
    let fd = socks.get(id).ok_or(EngineError::BadSocket)?.fd();
    let addr: Result<SocketAddr, SysError> = if peer {
        sys::peer_addr(fd)
    } else {
        sys::local_addr(fd)
    };
    Ok(addr?)
}

/// A stream socket whose write side is open. Errors: `BadSocket`, `SocketClosed`,
/// `WrongSocketKind`.
pub(crate) fn writable<S: StreamSock>(
    socks: &mut Slab<S>,
    id: SocketId,
) -> Result<&mut S, EngineError> {
    let s = sock_mut(socks, id)?;
    if s.kind() != Kind::Stream {
        return Err(EngineError::WrongSocketKind);
    }
    if *s.shut_mut() != WriteShut::Open || s.failed() {
        return Err(EngineError::SocketClosed);
    }
    Ok(s)
}

/// The parts of an engine the send side works on (borrowed field by field).
pub(crate) struct SendSide<'a, S> {
    pub socks: &'a mut Slab<S>,
    pub bufs: &'a mut Buffers,
    pub dirty: &'a mut Vec<SocketId>,
    pub pending: &'a mut VecDeque<Event>,
    pub stats: &'a mut EngineStats,
    /// Set when a `Sent` went into `pending` with no completion to announce it: the next
    /// `submit()` wakes the owner for it, unless `poll()` / `submit_and_collect()` hand it out
    /// first (an eventfd write per direct send would cost a 64 KiB stream a syscall a chunk).
    pub wake_owed: &'a mut bool,
}

/// Builds a [`SendSide`] from an engine's fields of the same names.
macro_rules! send_side {
    ($engine:expr) => {
        $crate::send_side::SendSide {
            socks: &mut $engine.socks,
            bufs: &mut $engine.bufs,
            dirty: &mut $engine.dirty,
            pending: &mut $engine.pending,
            stats: &mut $engine.stats,
            wake_owed: &mut $engine.wake_owed,
        }
    };
}
pub(crate) use send_side;

impl<S: StreamSock> SendSide<'_, S> {
    /// Puts the socket on the dirty list (once) for the next submit.
    pub fn mark_dirty(&mut self, id: SocketId) {
        if let Some(s) = self.socks.get_mut(id) {
            let dirty = s.dirty_mut();
            if !*dirty {
                *dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Queues `len` bytes at `offset` of pool buffer `buf`. On success the engine owns `buf`
    /// (an empty send releases it at once); on error the caller still does.
    pub fn send(
        &mut self,
        id: SocketId,
        buf: BufHandle,
        offset: u32,
        len: u32,
    ) -> Result<(), EngineError> {
        let ptr = crate::common::checked_range(self.bufs, buf, offset, len)?;
        let s = writable(self.socks, id)?;
        if len == 0 {
            self.bufs.release(buf);
            return Ok(());
        }
        s.sendq_mut().push(buf, ptr.cast_mut(), len);
        self.mark_dirty(id);
        Ok(())
    }

    /// Sends a copy of `data`: when nothing is queued or being written and `data` is at least
    /// `direct_min` bytes (0: never), one `send(2)` right now takes what the kernel accepts
    /// and a `Sent` event in `pending` reports it (see `wake_owed`); the rest is copied into
    /// pool buffers and queued.
    ///
    /// One direct write per socket per submit, unless `data` is at least
    /// [`DIRECT_ALWAYS_FACTOR`] × `direct_min`: further sends until the next submit are copied
    /// and go out together in one gathered write. The kernel's cost of a TCP write grows little
    /// with its size (loopback, measured: 16 × 64 KiB in one `sendmsg` cost the sender 0.17
    /// CPU-s/GB, one `send` each 0.56–0.68, and the receiver 0.11 vs 0.17–0.20), much more
    /// than the copy saves.
    pub fn send_copy(
        &mut self,
        id: SocketId,
        mut data: &[u8],
        direct_min: usize,
    ) -> Result<(), EngineError> {
        let s = writable(self.socks, id)?;
        if direct_min > 0
            && data.len() >= direct_min
            && s.state() == State::Open
            && s.idle_writer()
            && s.sendq_mut().is_empty()
            && (!*s.dirty_mut() || data.len() >= direct_min * DIRECT_ALWAYS_FACTOR)
        {
            let n = direct_send(s.fd(), data);
            self.stats.write_calls += 1;
            if n > 0 {
                self.stats.bytes_out += n as u64;
                self.pending.push_back(Event::Sent {
                    socket: id,
                    bytes: n as u64,
                });
                *self.wake_owed = true;
                data = &data[n..];
                if data.is_empty() {
                    // Sends that follow before the next submit are gathered (see above); a
                    // remainder marks the socket dirty below.
                    self.mark_dirty(id);
                    return Ok(());
                }
            }
        }
        let r = s.sendq_mut().push_copy(self.bufs, data);
        if !data.is_empty() {
            self.mark_dirty(id);
        }
        r.map(|_| ()).map_err(|(_, e)| EngineError::Pool(e))
    }

    /// What this send side holds for the next submit (the backend adds its SQEs and
    /// zerocopy reports): dirty queues, and events no wake-up announces yet.
    pub fn debt(&mut self) -> crate::SubmitDebt {
        let mut queued_bytes = 0;
        for &id in self.dirty.iter() {
            if let Some(s) = self.socks.get_mut(id) {
                queued_bytes += s.sendq_mut().bytes();
            }
        }
        crate::SubmitDebt {
            dirty_sockets: self.dirty.len(),
            queued_bytes,
            unannounced_events: if *self.wake_owed {
                self.pending.len()
            } else {
                0
            },
            ..Default::default()
        }
    }

    /// Asks for a FIN once everything queued is written.
    pub fn shutdown_write(&mut self, id: SocketId) -> Result<(), EngineError> {
        let s = sock_mut(self.socks, id)?;
        if s.kind() != Kind::Stream {
            return Err(EngineError::WrongSocketKind);
        }
        let shut = s.shut_mut();
        if *shut == WriteShut::Open {
            *shut = WriteShut::Wanted;
            self.mark_dirty(id);
        }
        Ok(())
    }
}
