//! The epoll backend's writes: at submit (and poll) time every dirty queue goes out in
//! sendmsg calls of up to 64 buffers (MSG_ZEROCOPY for zerocopy segments) while the socket
//! is writable; a wanted FIN follows an emptied queue.

use super::{errno, EpollBackend};
use crate::core::slab::SocketId;
use crate::core::{Core, State, WriteShut};
use crate::error::SysError;
use crate::event::Event;

impl Core<EpollBackend> {
    /// Writes every dirty queue; returns the number of write calls.
    pub(super) fn flush_dirty(&mut self, out: &mut Vec<Event>) -> usize {
        let mut calls = 0;
        for id in std::mem::take(&mut self.dirty) {
            calls += self.write_out(id, out);
        }
        calls
    }

    /// Writes as much of the socket's queue as the kernel takes; FIN when empty and wanted.
    fn write_out(&mut self, id: SocketId, out: &mut Vec<Event>) -> usize {
        let Some(s) = self.socks.get_mut(id) else {
            return 0;
        };
        s.dirty = false;
        if s.state != State::Open || s.failed {
            return 0;
        }
        let mut calls = 0;
        let mut wrote = 0u64;
        let mut force_copy = false;
        while s.be.writable && !s.sendq.is_empty() {
            let kernel_zc = s.zc.as_ref().is_some_and(|t| !t.fallback);
            let zc_write = kernel_zc && !force_copy && s.sendq.front_is_zc();
            if zc_write && s.zc.as_ref().is_some_and(|t| t.blocked) {
                break;
            }
            let n = s
                .sendq
                .fill_iovecs(&mut self.be.iov[..], kernel_zc && !force_copy);
            let want: usize = self.be.iov[..n].iter().map(|v| v.iov_len).sum();
            // SAFETY: msghdr is plain old data; all-zero is valid.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = self.be.iov.as_mut_ptr();
            msg.msg_iovlen = n as _;
            let mut flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
            if zc_write {
                flags |= libc::MSG_ZEROCOPY;
            }
            // SAFETY: the iovecs point at queued pool buffers we own or at zerocopy memory the
            // caller keeps valid until its notification, valid for their lengths.
            let rc = unsafe { libc::sendmsg(s.fd, &msg, flags) };
            calls += 1;
            self.stats.write_calls += 1;
            if rc >= 0 {
                let k = rc as usize;
                let touched = s.sendq.consume(k, &mut self.bufs);
                if let Some(t) = s.zc.as_mut() {
                    if zc_write {
                        // The kernel numbered this write with the socket's next zerocopy id.
                        self.stats.zc_writes += 1;
                        let key = t.next_key();
                        t.resolve(key, false, touched, true, &mut self.bufs);
                    } else if let Some(touched) = touched {
                        t.written_by_copy(touched, &mut self.bufs);
                    }
                    if t.has_done() && !self.zc_ready.contains(&id) {
                        self.zc_ready.push(id);
                    }
                }
                force_copy = false;
                wrote += k as u64;
                self.stats.bytes_out += k as u64;
                self.stats.send_ops += 1;
                if k < want {
                    // A short write means the send buffer is full; EPOLLOUT tells us when not.
                    s.be.writable = false;
                }
            } else {
                match errno() {
                    libc::EAGAIN => s.be.writable = false,
                    libc::EINTR => {}
                    libc::ENOBUFS if zc_write => {
                        // Too much memory pinned (optmem): wait for notifications to free
                        // some, or copy this once when none is outstanding.
                        self.stats.zc_enobufs += 1;
                        let t = s.zc.as_mut().expect("zc_write");
                        if t.kernel_holds() {
                            t.blocked = true;
                            break;
                        }
                        force_copy = true;
                    }
                    e => {
                        if wrote > 0 {
                            out.push(Event::Sent {
                                socket: id,
                                bytes: wrote,
                            });
                        }
                        self.fail(id, SysError::new(e, "write"), out);
                        return calls;
                    }
                }
            }
        }
        if wrote > 0 {
            out.push(Event::Sent {
                socket: id,
                bytes: wrote,
            });
        }
        // Reading the error queue above may have finished a close and removed the socket.
        let Some(s) = self.socks.get_mut(id) else {
            return calls;
        };
        if s.sendq.is_empty() && s.shut == WriteShut::Wanted {
            s.shut = WriteShut::Done;
            // SAFETY: plain shutdown(2) on our socket.
            let rc = unsafe { libc::shutdown(s.fd, libc::SHUT_WR) };
            self.stats.other_syscalls += 1;
            if rc != 0 {
                let e = errno();
                if e != libc::ENOTCONN {
                    self.fail(id, SysError::new(e, "shutdown"), out);
                }
            }
        }
        calls
    }
}
