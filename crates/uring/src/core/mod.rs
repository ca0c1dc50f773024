//! The engine core both backends share: [`Core`] holds the common state and the socket logic
//! written once; a [`Backend`] adds what depends on the kernel interface.
//!
//! - `backend.rs`: the [`Backend`] contract.
//! - `buffers.rs`, `sendq.rs`, `slab.rs`: pool access, a socket's send queue, the socket table.
//! - `sock.rs`: [`Sock`], one socket (shared fields plus the backend's part).
//! - `lifecycle.rs`: listen, connect, accept, fail, close, stalled accepts.
//! - `send.rs`: queueing sends, the direct `send(2)`, shutdown, the dirty list.
//! - `recv.rs`: copy-break delivery, pause / resume, returned buffers.
//! - `tls.rs`: TLS sessions on connections: sends encrypted, received bytes decrypted.
//! - `tls_file.rs`: files on TLS connections: read, encrypted, in order with sends.
//! - `turn.rs`: the pieces of a submit / poll both backends run.
//! - `zerocopy/`: zerocopy sends (tracker, reports) and closes that wait for the kernel.

mod backend;
pub(crate) mod buffers;
mod lifecycle;
mod recv;
mod send;
pub(crate) mod sendq;
pub(crate) mod slab;
mod sock;
mod tls;
mod tls_file;
mod turn;
pub(crate) mod zerocopy;

pub(crate) use backend::Backend;
pub(crate) use send::{sock_mut, writable, BufRange};
pub(crate) use sock::{Kind, Sock, State, WriteShut};

use crate::addr::SockAddr;
use crate::config::EngineConfig;
use crate::core::buffers::Buffers;
use crate::core::slab::{Slab, SocketId};
use crate::error::{EngineError, SysError};
use crate::event::{EngineStats, Event};
use crate::sys;
use crate::SubmitDebt;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

/// A close waiting for the kernel to let go of zerocopy memory: (socket, since, aborted).
pub(crate) type ZcClosing = (SocketId, Instant, bool);

/// One engine: the state both backends share plus the backend `be`.
pub(crate) struct Core<B: Backend> {
    pub bufs: Buffers,
    pub socks: Slab<Sock<B::Sock>>,
    /// Events waiting to be handed out by the next poll.
    pub pending: VecDeque<Event>,
    /// Sockets whose queue (or a wanted FIN) waits for the next submit.
    pub dirty: Vec<SocketId>,
    /// Sockets that stopped receiving for want of a buffer.
    pub starved: Vec<SocketId>,
    /// Listeners whose accepting stopped on EMFILE & co., and since when.
    pub accept_stalled: Vec<(SocketId, Instant)>,
    pub stats: EngineStats,
    /// Reads shorter than this are copied into a small buffer.
    pub copy_break: usize,
    pub nodelay: bool,
    pub direct_send_min: usize,
    /// Sockets with finished zerocopy sends to report.
    pub zc_ready: Vec<SocketId>,
    /// Listeners bound to a Unix socket path, removed from the filesystem on `close()`.
    pub unix_files: Vec<(SocketId, PathBuf)>,
    /// Closes waiting for the kernel to let go of zerocopy memory.
    pub zc_closing: Vec<ZcClosing>,
    /// A direct send left a `Sent` in `pending` that nothing has announced yet.
    pub wake_owed: bool,
    /// Some socket has TLS (until then the TLS pass over events is skipped).
    pub tls_on: bool,
    /// The backend's own state.
    pub be: B,
}

impl<B: Backend> Core<B> {
    /// Builds an engine on backend `B`.
    pub fn new(cfg: &EngineConfig) -> Result<Self, EngineError> {
        let mut bufs = Buffers::new(cfg.pool.clone())?;
        let mut stats = EngineStats::default();
        let be = B::new(cfg, &mut bufs, &mut stats)?;
        Ok(Core {
            copy_break: cfg.copy_break.min(bufs.small_size),
            bufs,
            socks: Slab::new(),
            pending: VecDeque::new(),
            dirty: Vec::new(),
            starved: Vec::new(),
            accept_stalled: Vec::new(),
            stats,
            nodelay: cfg.nodelay,
            direct_send_min: cfg.direct_send_min,
            zc_ready: Vec::new(),
            unix_files: Vec::new(),
            zc_closing: Vec::new(),
            wake_owed: false,
            tls_on: false,
            be,
        })
    }

    /// The socket's local (`peer == false`) or peer address.
    pub fn address(&self, id: SocketId, peer: bool) -> Result<SockAddr, EngineError> {
        let fd = self.socks.get(id).ok_or(EngineError::BadSocket)?.fd;
        let addr: Result<SockAddr, SysError> = if peer {
            sys::peer_addr(fd)
        } else {
            sys::local_addr(fd)
        };
        Ok(addr?)
    }

    /// Bytes queued and not yet handed to the kernel (0 for unknown ids).
    pub fn queued_bytes(&self, id: SocketId) -> usize {
        self.socks.get(id).map_or(0, |s| s.sendq.bytes())
    }

    /// What the engine holds that only a submit hands to the kernel.
    pub fn debt(&mut self) -> SubmitDebt {
        let mut queued_bytes = 0;
        for &id in self.dirty.iter() {
            if let Some(s) = self.socks.get(id) {
                queued_bytes += s.sendq.bytes();
            }
        }
        SubmitDebt {
            dirty_sockets: self.dirty.len(),
            queued_bytes,
            sqes: B::unsubmitted(self),
            unannounced_events: if self.wake_owed {
                self.pending.len()
            } else {
                0
            },
            zerocopy_done: self.zc_ready.len(),
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats.clone();
        s.open_sockets = self.socks.len() as u64;
        self.be.add_stats(&mut s);
        s
    }
}

impl<B: Backend> Drop for Core<B> {
    fn drop(&mut self) {
        let clean = B::quiesce(self);
        for id in self.socks.ids() {
            let Some(mut s) = self.socks.remove(id) else {
                continue;
            };
            B::drop_sock(self, &mut s, clean);
            if let Some(mut t) = s.zc.take() {
                // Buffers the kernel may still read are leaked, never reused.
                if clean && !t.kernel_holds() {
                    t.release_all(&mut self.bufs);
                } else {
                    t.forget_all();
                }
            }
            if clean {
                s.sendq.clear(&mut self.bufs);
            }
        }
        for ev in self.pending.drain(..) {
            if let Event::Data { buf, .. } = ev {
                self.bufs.release(buf);
            }
        }
        B::teardown(self, clean);
    }
}
