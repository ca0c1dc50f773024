//! CQE handlers of the io_uring backend.

use super::userdata::{decode, Op};
use super::UringEngine;
use crate::common::{copy_break, Kind, State};
use crate::error::SysError;
use crate::event::Event;
use crate::slab::SocketId;
use crate::sys;
use io_uring::cqueue;

impl UringEngine {
    /// Handles reaped CQEs until `max` events were added to `out` since `start`.
    pub(super) fn process_cqes(&mut self, out: &mut Vec<Event>, start: usize, max: usize) {
        let mut recycled = false;
        while out.len() - start < max {
            let Some((ud, res, flags)) = self.ring.cqes.pop_front() else {
                break;
            };
            recycled |= self.complete(ud, res, flags, out);
        }
        if recycled {
            self.bring.publish();
        }
    }

    /// One CQE. Returns true if a buffer went back into the ring (publish needed).
    fn complete(&mut self, ud: u64, res: i32, flags: u32, out: &mut Vec<Event>) -> bool {
        let Some((op, id)) = decode(ud) else {
            return false;
        };
        if op == Op::ZcTimer {
            self.zc_timer = None;
            self.check_zc_closing();
            return false;
        }
        let more = cqueue::more(flags);
        let mut taken = None;
        if let Some(bid) = cqueue::buffer_select(flags) {
            taken = self.bring.take(bid).map(|(h, p)| (bid, h, p));
        }
        let Some(s) = self.socks.get_mut(id) else {
            // Cannot happen (a slot lives until its last CQE); keep the buffer anyway.
            if let Some((bid, h, p)) = taken {
                self.bring.recycle(bid, h, p);
                return true;
            }
            return false;
        };
        let is_final = match op {
            Op::Accept | Op::Recv | Op::SendZc => !more,
            _ => true,
        };
        if is_final {
            s.inflight = s.inflight.saturating_sub(1);
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
                self.rearm_stalled_accepts(true);
                return false;
            }
            Op::Accept => self.on_accept(id, res, more, out),
            Op::Recv => recycled = self.on_recv(id, res, taken, more, out),
            Op::Send => self.on_send(id, res, out),
            Op::Connect => self.on_connect(id, res, out),
            Op::Shutdown => {
                if res < 0 && -res != libc::ECANCELED && -res != libc::ENOTCONN {
                    self.fail(id, SysError::new(-res, "shutdown"), out);
                }
            }
        }
        if let Some(s) = self.socks.get_mut(id) {
            if s.state == State::Closing && s.inflight == 0 {
                self.push_close(id);
            }
        }
        recycled
    }

    /// Re-arms listeners whose accept stopped for lack of descriptors: all of them when
    /// `fd_freed`, else those that waited 100 ms.
    pub(super) fn rearm_stalled_accepts(&mut self, fd_freed: bool) {
        if self.accept_stalled.is_empty() {
            return;
        }
        let now = std::time::Instant::now();
        let mut keep = Vec::new();
        for (id, since) in std::mem::take(&mut self.accept_stalled) {
            if fd_freed || now.duration_since(since) >= std::time::Duration::from_millis(100) {
                self.arm_accept(id);
            } else {
                keep.push((id, since));
            }
        }
        self.accept_stalled = keep;
    }

    /// Reports the socket's first error (unless it is closing).
    pub(super) fn fail(&mut self, id: SocketId, err: SysError, out: &mut Vec<Event>) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.failed || s.state == State::Closing {
            return;
        }
        if s.kind == Kind::Stream {
            s.failed = true;
            let dropped = s.sendq.clear(&mut self.bufs);
            if let Some(t) = s.zc.as_mut() {
                t.abort(&dropped, &mut self.bufs);
            }
        }
        self.emit_recv(id, Event::Error { socket: id, err }, out);
    }

    /// Emits a receive-side event, or holds it while the socket is paused.
    fn emit_recv(&mut self, id: SocketId, ev: Event, out: &mut Vec<Event>) {
        match self.socks.get_mut(id) {
            Some(s) if s.paused => s.held.push_back(ev),
            _ => out.push(ev),
        }
    }

    fn on_accept(&mut self, id: SocketId, res: i32, more: bool, out: &mut Vec<Event>) {
        let closing = self.socks.get(id).is_none_or(|s| s.state != State::Open);
        if res >= 0 {
            let fd = res;
            if closing {
                sys::close_fd(fd);
            } else if let Some(new) = self
                .socks
                .insert_with(|_| super::USock::new(fd, Kind::Stream, State::Open))
            {
                if self.nodelay {
                    let _ = sys::set_nodelay(fd, true);
                    self.stats.other_syscalls += 1;
                }
                self.stats.accepted += 1;
                if self.socks.get(id).is_some_and(|l| l.zc_recv) {
                    if let Some(s) = self.socks.get_mut(new) {
                        s.zc_recv = true;
                    }
                    self.stats.zc_recv_fallbacks += 1;
                }
                out.push(Event::Accepted {
                    listener: id,
                    socket: new,
                });
                self.arm_recv(new);
            } else {
                sys::close_fd(fd);
            }
        } else if -res != libc::ECANCELED && !closing {
            out.push(Event::Error {
                socket: id,
                err: SysError::new(-res, "accept"),
            });
        }
        if !more {
            if let Some(s) = self.socks.get_mut(id) {
                s.recv_armed = false;
            }
            let out_of_resources = matches!(
                -res,
                libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
            );
            if out_of_resources {
                // Re-arming now would fail again at once: wait for a descriptor to be freed
                // (a Close completion) or 100 ms.
                self.accept_stalled.push((id, std::time::Instant::now()));
            } else {
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
            let len = res as usize;
            self.stats.bytes_in += len as u64;
            if let Some((bid, h, ptr)) = taken {
                if dead {
                    self.bring.recycle(bid, h, ptr);
                    recycled = true;
                } else {
                    self.stats.recv_events += 1;
                    if s.zc_recv {
                        self.stats.recv_copied_bytes += len as u64;
                    }
                    let ev = match copy_break(&mut self.bufs, ptr, len, self.copy_break) {
                        Some(small) => {
                            self.stats.copy_breaks += 1;
                            self.bring.recycle(bid, h, ptr);
                            recycled = true;
                            Event::Data {
                                socket: id,
                                buf: small,
                                offset: 0,
                                len: len as u32,
                            }
                        }
                        None => {
                            self.bring.forget(bid);
                            Event::Data {
                                socket: id,
                                buf: h,
                                offset: 0,
                                len: len as u32,
                            }
                        }
                    };
                    self.emit_recv(id, ev, out);
                }
            }
        } else {
            if let Some((bid, h, ptr)) = taken {
                self.bring.recycle(bid, h, ptr);
                recycled = true;
            }
            if res == 0 {
                s.eof = true;
                if !dead {
                    self.emit_recv(id, Event::Eof { socket: id }, out);
                }
            } else {
                match -res {
                    libc::ECANCELED => {}
                    libc::ENOBUFS => {
                        self.stats.recv_buffer_exhausted += 1;
                        if !s.starved {
                            s.starved = true;
                            self.starved.push(id);
                        }
                    }
                    errno => self.fail(id, SysError::new(errno, "read"), out),
                }
            }
        }
        if !more {
            let s = self.socks.get_mut(id).expect("caller checked");
            s.recv_armed = false;
            if !s.starved {
                self.arm_recv(id);
            }
        }
        recycled
    }

    fn on_send(&mut self, id: SocketId, res: i32, out: &mut Vec<Event>) {
        let s = self.socks.get_mut(id).expect("caller checked");
        s.send_inflight = false;
        if res >= 0 {
            s.sendq.consume(res as usize, &mut self.bufs);
            self.stats.bytes_out += res as u64;
            self.stats.send_ops += 1;
            if s.state != State::Closing {
                out.push(Event::Sent {
                    socket: id,
                    bytes: res as u64,
                });
            }
            self.kick_send(id);
        } else if -res != libc::ECANCELED {
            self.fail(id, SysError::new(-res, "write"), out);
        }
    }

    fn on_connect(&mut self, id: SocketId, res: i32, out: &mut Vec<Event>) {
        let s = self.socks.get_mut(id).expect("caller checked");
        s.connect_addr = None;
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
            if let Some((h, p)) = self.bring.take(bid) {
                self.bring.recycle(bid, h, p);
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
                s.inflight = s.inflight.saturating_sub(1);
            }
            if matches!(op, Op::Send) || (op == Op::SendZc && !cqueue::notif(flags)) {
                s.send_inflight = false;
            }
        }
    }
}
