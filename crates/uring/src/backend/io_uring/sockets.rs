//! What the io_uring backend does to a socket outside completions: arming multishot accept
//! and receive, refilling the buffer ring (and re-arming starved receives), cancel and close.

use super::bufring::BGID;
use super::userdata::{encode, Op};
use super::UringBackend;
use crate::core::buffers::Buffers;
use crate::core::slab::SocketId;
use crate::core::{Core, State};
use crate::event::Event;
use ::io_uring::{opcode, types};
use std::collections::VecDeque;

impl Core<UringBackend> {
    pub(super) fn arm_accept(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.state != State::Open || s.be.recv_armed {
            return;
        }
        s.be.inflight += 1;
        s.be.recv_armed = true;
        let sqe = opcode::AcceptMulti::new(types::Fd(s.fd))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(encode(Op::Accept, id));
        self.be.ring.push(sqe);
    }

    pub(super) fn arm_recv(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.be.recv_armed || !s.wants_recv() {
            return;
        }
        s.be.recv_armed = true;
        s.be.inflight += 1;
        let sqe = opcode::RecvMulti::new(types::Fd(s.fd), BGID)
            .build()
            .user_data(encode(Op::Recv, id));
        self.be.ring.push(sqe);
    }

    /// Refills the buffer ring from the pool; re-arms receives that ran out of buffers.
    pub(super) fn refill_and_rearm(&mut self) {
        if self.be.bring.empty_slots() > 0 && self.be.bring.refill(&mut self.bufs) > 0 {
            self.be.bring.publish();
        }
        if self.be.bring.fresh > 0 && !self.starved.is_empty() {
            self.be.bring.fresh = 0;
            for id in std::mem::take(&mut self.starved) {
                if let Some(s) = self.socks.get_mut(id) {
                    s.starved = false;
                }
                self.arm_recv(id);
            }
        }
    }

    /// Cancels every operation of socket `id` (its descriptor stays open).
    pub(super) fn cancel_all(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        s.be.inflight += 1;
        let sqe = opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(s.fd)).all())
            .build()
            .user_data(encode(Op::CancelAll, id));
        self.be.ring.push(sqe);
    }

    /// Everything on the socket completed: free its queue and close the descriptor.
    pub(super) fn push_close(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.be.close_sent {
            return;
        }
        s.be.close_sent = true;
        let dropped = s.sendq.clear(&mut self.bufs);
        if let Some(t) = s.zc.as_mut() {
            t.abort(&dropped, &mut self.bufs);
        }
        s.be.inflight += 1;
        let sqe = opcode::Close::new(types::Fd(s.fd))
            .build()
            .user_data(encode(Op::Close, id));
        self.be.ring.push(sqe);
    }
}

/// Gives back the buffers of the `Data` events in `evs` (a socket's held events).
pub(super) fn release_data(bufs: &mut Buffers, evs: &mut VecDeque<Event>) {
    for ev in evs.drain(..) {
        if let Event::Data { buf, .. } = ev {
            bufs.release(buf);
        }
    }
}
