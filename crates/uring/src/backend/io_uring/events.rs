//! What completions report, handled: one function per operation (accept, receive, send,
//! connect, shutdown, close) plus the quiet accounting of teardown.

use super::userdata::{decode, Op};
use super::UringBackend;
use crate::core::slab::SocketId;
use crate::core::{Backend, Core, State};
use crate::error::SysError;
use crate::event::Event;
use crate::sys;
use ::io_uring::cqueue;

impl Core<UringBackend> {
    /// Handles reaped CQEs until `max` events were added to `out` since `start`.
    pub(super) fn process_cqes(&mut self, out: &mut Vec<Event>, start: usize, max: usize) {
        let mut recycled = false;
        while out.len() - start < max {
            let Some((ud, res, flags)) = self.be.ring.cqes.pop_front() else {
                break;
            };
            recycled |= self.complete(ud, res, flags, out);
        }
        if recycled {
            self.be.bring.publish();
        }
    }

    /// One CQE. Returns true if a buffer went back into the ring (publish needed).
    fn complete(&mut self, ud: u64, res: i32, flags: u32, out: &mut Vec<Event>) -> bool {
        let Some((op, id)) = decode(ud) else {
            return false;
        };
        if op == Op::ZcTimer {
            self.be.zc_timer = None;
            self.check_zc_closing();
            return false;
        }
        let more = cqueue::more(flags);
        let mut taken = None;
        if let Some(bid) = cqueue::buffer_select(flags) {
            taken = self.be.bring.take(bid).map(|(h, p)| (bid, h, p));
        }
        let Some(s) = self.socks.get_mut(id) else {
            // Cannot happen (a slot lives until its last CQE); keep the buffer anyway.
            if let Some((bid, h, p)) = taken {
                self.be.bring.recycle(bid, h, p);
                return true;
            }
            return false;
        };
        let is_final = match op {
            Op::Accept | Op::Recv | Op::SendZc => !more,
            _ => true,
        };
        if is_final {
            s.be.inflight = s.be.inflight.saturating_sub(1);
        }
        let mut recycled = false;
        match op {
            Op::Wake | Op::CancelAll | Op::CancelRecv | Op::ZcTimer => {}
            Op::SendZc => self.on_send_zc(id, ud, res, flags, out),
            Op::Close => {
                // Every operation of the socket completed, notifications included: the kernel
                // let go of all zerocopy memory.
                if let Some(mut s) = self.socks.remove(id) {
                    if let Some(mut t) = s.zc.take() {
                        t.release_all(&mut self.bufs);
                    }
                }
                self.zc_closing.retain(|c| c.0 != id);
                out.push(Event::Closed { socket: id });
                self.retry_stalled_accepts(true);
                return false;
            }
            Op::Accept => self.on_accept(id, res, more, out),
            Op::Recv => recycled = self.on_recv(id, res, taken, more, out),
            Op::Send => self.on_send(id, res, out),
            Op::Splice => self.on_splice(id, res, out),
            Op::Connect => self.on_connect(id, res, out),
            Op::Shutdown => {
                if res < 0 && -res != libc::ECANCELED && -res != libc::ENOTCONN {
                    self.fail(id, SysError::new(-res, "shutdown"), out);
                }
            }
        }
        if let Some(s) = self.socks.get_mut(id) {
            if s.state == State::Closing && s.be.inflight == 0 {
                self.push_close(id);
            }
        }
        recycled
    }

    fn on_accept(&mut self, id: SocketId, res: i32, more: bool, out: &mut Vec<Event>) {
        let closing = self.socks.get(id).is_none_or(|s| s.state != State::Open);
        if res >= 0 {
            if closing {
                sys::close_fd(res);
            } else {
                self.accepted(id, res, out);
            }
        } else if -res != libc::ECANCELED && !closing {
            out.push(Event::Error {
                socket: id,
                err: SysError::new(-res, "accept"),
            });
        }
        if !more {
            if let Some(s) = self.socks.get_mut(id) {
                s.be.recv_armed = false;
            }
            // Re-arming now would fail again at once when descriptors ran out: wait for one
            // to be freed (a Close completion) or a while.
            if !self.stall_accept(id, -res) {
                self.arm_accept(id);
            }
        }
    }

    fn on_recv(
        &mut self,
        id: SocketId,
        res: i32,
        taken: Option<(u16, zerosock_pool::BufHandle, *mut u8)>,
        more: bool,
        out: &mut Vec<Event>,
    ) -> bool {
        let mut recycled = false;
        let s = self.socks.get_mut(id).expect("caller checked");
        let dead = s.state == State::Closing || s.failed;
        if res > 0 {
            match taken {
                Some((bid, h, ptr)) if !dead => {
                    if self.deliver_data(id, (h, ptr), res as usize, out) {
                        self.be.bring.forget(bid);
                    } else {
                        self.be.bring.recycle(bid, h, ptr);
                        recycled = true;
                    }
                }
                Some((bid, h, ptr)) => {
                    self.stats.bytes_in += res as u64;
                    self.be.bring.recycle(bid, h, ptr);
                    recycled = true;
                }
                None => self.stats.bytes_in += res as u64,
            }
        } else {
            if let Some((bid, h, ptr)) = taken {
                self.be.bring.recycle(bid, h, ptr);
                recycled = true;
            }
            if res == 0 {
                s.eof = true;
                if !dead {
                    UringBackend::emit_recv(self, id, Event::Eof { socket: id }, out);
                }
            } else {
                match -res {
                    libc::ECANCELED => {}
                    libc::ENOBUFS => self.starve(id),
                    errno => self.fail(id, SysError::new(errno, "read"), out),
                }
            }
        }
        if !more {
            let s = self.socks.get_mut(id).expect("caller checked");
            s.be.recv_armed = false;
            if !s.starved {
                self.arm_recv(id);
            }
        }
        recycled
    }

    fn on_send(&mut self, id: SocketId, res: i32, out: &mut Vec<Event>) {
        let s = self.socks.get_mut(id).expect("caller checked");
        s.be.send_inflight = false;
        if res >= 0 {
            // Zerocopy sends written by this plain send were copies (`fallback`): done now.
            let touched = s.sendq.consume(res as usize, &mut self.bufs);
            if let (Some(t), Some(touched)) = (s.zc.as_mut(), touched) {
                t.written_by_copy(touched, &mut self.bufs);
                self.note_zc_done(id);
            }
            self.sent(id, res as u64, out);
            self.kick_send(id);
        } else if -res != libc::ECANCELED {
            self.fail(id, SysError::new(-res, "write"), out);
        }
    }

    fn on_connect(&mut self, id: SocketId, res: i32, out: &mut Vec<Event>) {
        let s = self.socks.get_mut(id).expect("caller checked");
        s.be.connect_addr = None;
        if s.state == State::Closing {
            return;
        }
        if res == 0 {
            s.state = State::Open;
            out.push(Event::Connected { socket: id });
            self.arm_recv(id);
            self.kick_send(id);
        } else {
            s.state = State::Open;
            self.fail(id, SysError::new(-res, "connect"), out);
        }
    }

    /// Drop path: account for a CQE without reporting anything.
    pub(super) fn complete_quietly(&mut self, ud: u64, _res: i32, flags: u32) {
        if let Some(bid) = cqueue::buffer_select(flags) {
            if let Some((h, p)) = self.be.bring.take(bid) {
                self.be.bring.recycle(bid, h, p);
            }
        }
        let Some((op, id)) = decode(ud) else {
            return;
        };
        let more = cqueue::more(flags);
        if op == Op::Close {
            self.socks.remove(id);
            return;
        }
        if let Some(s) = self.socks.get_mut(id) {
            let is_final = match op {
                Op::Accept | Op::Recv => !more,
                _ => true,
            };
            let is_final = is_final || (op == Op::SendZc && !more);
            if is_final {
                s.be.inflight = s.be.inflight.saturating_sub(1);
            }
            if matches!(op, Op::Send | Op::Splice) || (op == Op::SendZc && !cqueue::notif(flags)) {
                s.be.send_inflight = false;
            }
        }
    }
}
