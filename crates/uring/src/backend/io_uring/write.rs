//! The io_uring backend's writes: at submit (and poll) time every dirty queue becomes one
//! SEND (one buffer) or SENDMSG (several) in flight per socket, SEND_ZC for zerocopy
//! segments; a wanted FIN becomes a SHUTDOWN once the queue is empty.

use super::userdata::{encode, Op};
use super::UringBackend;
use crate::core::slab::SocketId;
use crate::core::{Core, State, WriteShut};
use crate::event::Event;
use ::io_uring::{opcode, types};

impl Core<UringBackend> {
    /// Turns dirty queues into send SQEs (one in flight per socket) and FINs.
    pub(super) fn flush_dirty(&mut self) {
        for id in std::mem::take(&mut self.dirty) {
            if let Some(s) = self.socks.get_mut(id) {
                s.dirty = false;
            }
            self.kick_send(id);
        }
    }

    pub(super) fn kick_send(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.be.send_inflight || s.state != State::Open || s.failed {
            return;
        }
        if s.sendq.is_empty() {
            if s.shut == WriteShut::Wanted {
                s.shut = WriteShut::Done;
                s.be.inflight += 1;
                let sqe = opcode::Shutdown::new(types::Fd(s.fd), libc::SHUT_WR)
                    .build()
                    .user_data(encode(Op::Shutdown, id));
                self.be.ring.push(sqe);
            }
            return;
        }
        if s.sendq.front_file().is_some() {
            self.kick_file(id);
            return;
        }
        // SEND_ZC for this socket's zerocopy sends, unless they fall back to copies (no
        // SEND_ZC in this kernel, or a socket family without zerocopy such as AF_UNIX).
        let zc = s.zc.as_ref().is_some_and(|t| !t.fallback);
        if zc && s.sendq.front_is_zc() {
            self.kick_send_zc(id);
            return;
        }
        let s = self.socks.get_mut(id).expect("checked above");
        let n = s.sendq.fill_iovecs(&mut s.be.iov[..], zc);
        let sqe = if n == 1 {
            let (ptr, len) = s.sendq.front().expect("queue not empty");
            opcode::Send::new(types::Fd(s.fd), ptr, len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        } else {
            s.be.msg.msg_iov = s.be.iov.as_mut_ptr();
            s.be.msg.msg_iovlen = n as _;
            opcode::SendMsg::new(types::Fd(s.fd), &*s.be.msg)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
        };
        s.be.send_inflight = true;
        s.be.inflight += 1;
        self.be.ring.push(sqe.user_data(encode(Op::Send, id)));
    }

    /// A send of `bytes` completed: counts it and reports `Sent` (nothing after `close()`).
    pub(super) fn sent(&mut self, id: SocketId, bytes: u64, out: &mut Vec<Event>) {
        self.stats.bytes_out += bytes;
        self.stats.send_ops += 1;
        if self
            .socks
            .get(id)
            .is_some_and(|s| s.state != State::Closing)
        {
            out.push(Event::Sent { socket: id, bytes });
        }
    }
}
