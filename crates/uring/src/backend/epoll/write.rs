//! The epoll backend's writes: at submit (and poll) time every dirty queue goes out in
//! sendmsg calls of up to 64 buffers (MSG_ZEROCOPY for zerocopy segments) while the socket
//! is writable; a file segment goes out with sendfile(2) when it reaches the front; a wanted
//! FIN follows an emptied queue.

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
            if let Some(f) = s.sendq.front_file() {
                calls += 1;
                self.stats.write_calls += 1;
                match sendfile_step(s.fd, f) {
                    FileStep::More(k) => {
                        wrote += k;
                        self.stats.bytes_out += k;
                        self.stats.send_ops += 1;
                    }
                    FileStep::Blocked => s.be.writable = false,
                    FileStep::Done(errno) => {
                        let f = s.sendq.pop_file().expect("front is a file");
                        out.push(Event::FileSent {
                            socket: id,
                            bytes: f.sent,
                            errno,
                        });
                    }
                    FileStep::SocketError(e) => {
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
                continue;
            }
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

/// What one sendfile(2) of a file segment did.
enum FileStep {
    /// `n` bytes went out (the segment may have more).
    More(u64),
    /// The socket's send buffer is full.
    Blocked,
    /// The segment is over: all sent (0), the file ended early (0), or reading it failed.
    Done(i32),
    /// The socket failed.
    SocketError(i32),
}

/// Largest sendfile(2) asked for at once (the kernel caps one call near 2 GiB anyway).
const SENDFILE_MAX: u64 = 1 << 30;

/// One sendfile(2) from `f` to socket `sock` (non-blocking: the socket is O_NONBLOCK).
fn sendfile_step(sock: libc::c_int, f: &mut crate::core::sendq::FileSeg) -> FileStep {
    if f.left == 0 {
        return FileStep::Done(0);
    }
    let mut off = f.offset as libc::off_t;
    let want = f.left.min(SENDFILE_MAX) as usize;
    // SAFETY: both descriptors are ours (the file a duplicate owned by the queue); `off` is a
    // valid off_t the kernel updates.
    let rc = unsafe { libc::sendfile(sock, f.fd, &mut off, want) };
    if rc > 0 {
        let k = rc as u64;
        f.offset += k;
        f.left -= k;
        f.sent += k;
        // A finished segment is popped on the next step (left == 0), without a syscall.
        return FileStep::More(k);
    }
    if rc == 0 {
        return FileStep::Done(0); // the file is shorter than asked for
    }
    match errno() {
        libc::EAGAIN => FileStep::Blocked,
        libc::EINTR => FileStep::More(0),
        e @ (libc::EPIPE
        | libc::ECONNRESET
        | libc::ENOTCONN
        | libc::ETIMEDOUT
        | libc::ECONNABORTED
        | libc::EHOSTUNREACH
        | libc::ENETUNREACH
        | libc::ENETDOWN) => FileStep::SocketError(e),
        e => FileStep::Done(e),
    }
}
