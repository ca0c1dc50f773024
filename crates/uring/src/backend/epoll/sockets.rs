//! What the epoll backend does to a socket outside readiness handling: adding it to the
//! epoll set, the ready list, finishing a close, sockets starved of buffers.

use super::EpollBackend;
use crate::core::slab::SocketId;
use crate::core::{Backend, Core};
use crate::error::SysError;
use crate::event::Event;
use std::os::fd::RawFd;

impl Core<EpollBackend> {
    /// Adds `fd` to the epoll set under `token`.
    pub(super) fn watch(&mut self, fd: RawFd, events: u32, token: u64) -> Result<(), SysError> {
        self.stats.other_syscalls += 1;
        self.be.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    /// Watches a stream socket (edge-triggered, both directions).
    pub(super) fn register(&mut self, id: SocketId) -> Result<(), SysError> {
        let fd = self.socks.get(id).map_or(-1, |s| s.fd);
        let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        self.watch(fd, events, id as u64)
    }

    /// Puts socket `id` on the ready list (once).
    pub(super) fn make_ready(&mut self, id: SocketId) {
        if let Some(s) = self.socks.get_mut(id) {
            if !s.be.in_ready {
                s.be.in_ready = true;
                self.be.ready.push_back(id);
            }
        }
    }

    /// Keeps `ev` for the next poll and wakes the owner for it.
    pub(super) fn push_pending(&mut self, ev: Event) {
        self.pending.push_back(ev);
        EpollBackend::wake(self);
    }

    /// Closes the descriptor, releases what is left and reports `Closed`.
    pub(super) fn finish_close(&mut self, id: SocketId) {
        let Some(mut s) = self.socks.remove(id) else {
            return;
        };
        s.sendq.clear(&mut self.bufs);
        if let Some(mut t) = s.zc.take() {
            if t.kernel_holds() {
                // Gave up waiting (see `check_zc_closing`): leak rather than reuse.
                self.stats.zc_leaked_sends += t.unfinished() as u64;
                t.forget_all();
            } else {
                t.release_all(&mut self.bufs);
            }
        }
        self.close_descriptor(&s);
        self.stats.other_syscalls += 1;
        self.push_pending(Event::Closed { socket: id });
        self.retry_stalled_accepts(true);
    }

    /// Buffers came back: sockets that stopped reading for want of one go back on the ready
    /// list, and the owner is woken to read them.
    pub(super) fn wake_starved(&mut self) {
        if self.starved.is_empty() {
            return;
        }
        for id in std::mem::take(&mut self.starved) {
            if let Some(s) = self.socks.get_mut(id) {
                s.starved = false;
            }
            self.make_ready(id);
        }
        EpollBackend::wake(self);
    }
}
