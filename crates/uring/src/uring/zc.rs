//! Zerocopy on the io_uring backend: SEND_ZC / SENDMSG_ZC with IORING_SEND_ZC_REPORT_USAGE.
//!
//! A zerocopy write gives two CQEs with the same `user_data`: the data CQE (bytes sent, with
//! IORING_CQE_F_MORE when a notification follows) and the notification CQE
//! (IORING_CQE_F_NOTIF; `res & IORING_NOTIF_USAGE_ZC_COPIED` when the kernel copied). Only the
//! notification releases the memory. Consecutive zerocopy sends at the front of a socket's
//! queue go out in one SENDMSG_ZC (one notification for all of them). Zerocopy receive is not
//! done here: sockets that ask for it keep the multishot receive path (counted).

use super::userdata::{encode, encode_zc, key24, Op};
use super::UringEngine;
use crate::common::{Kind, State};
use crate::error::{EngineError, SysError};
use crate::event::Event;
use crate::slab::SocketId;
use crate::zerocopy::recv::MappedMemory;
use crate::zerocopy::{
    disconnect, IORING_NOTIF_USAGE_ZC_COPIED, IORING_SEND_ZC_REPORT_USAGE, ZC_CLOSE_ABORT_AFTER,
};
use io_uring::{cqueue, opcode, types};
use std::time::Instant;
use zerosock_pool::BufHandle;

impl UringEngine {
    pub fn send_zerocopy(
        &mut self,
        id: SocketId,
        buf: BufHandle,
        offset: u32,
        len: u32,
    ) -> Result<u32, EngineError> {
        let ptr = crate::common::checked_range(&self.bufs, buf, offset, len)?;
        self.send_zerocopy_src(id, Some(buf), ptr, len)
    }

    /// Queues a zerocopy send behind everything queued on the socket; returns its send id.
    pub(crate) fn send_zerocopy_src(
        &mut self,
        id: SocketId,
        owner: Option<BufHandle>,
        ptr: *const u8,
        len: u32,
    ) -> Result<u32, EngineError> {
        if len == 0 {
            return Err(EngineError::InvalidArgument("a zerocopy send needs bytes"));
        }
        let s = crate::send_side::writable(&mut self.socks, id)?;
        let t = s.zc.get_or_insert_with(Box::default);
        if !self.zc_supported {
            t.fallback = true;
            self.stats.zerocopy_fallback_sends += 1;
        }
        let send_id = t.add(owner, len);
        s.sendq.push_zc(ptr, len, send_id);
        self.stats.zerocopy_sends += 1;
        self.stats.zerocopy_bytes += u64::from(len);
        self.mark_dirty(id);
        Ok(send_id)
    }

    /// Issues one SEND_ZC (one zerocopy segment) or SENDMSG_ZC (several) for the front of the
    /// socket's queue.
    pub(super) fn kick_send_zc(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        let n = s.sendq.fill_iovecs(&mut s.iov[..], true);
        let Some(t) = s.zc.as_mut() else {
            return;
        };
        let key = t.reserve();
        // MSG_WAITALL: the kernel retries short writes itself, so one notification covers the
        // whole batch in the common case.
        let flags = libc::MSG_NOSIGNAL | libc::MSG_WAITALL;
        let sqe = if n == 1 {
            let (ptr, len) = s.sendq.front().expect("queue not empty");
            opcode::SendZc::new(types::Fd(s.fd), ptr, len)
                .flags(flags)
                .zc_flags(IORING_SEND_ZC_REPORT_USAGE)
                .build()
        } else {
            s.msg.msg_iov = s.iov.as_mut_ptr();
            s.msg.msg_iovlen = n as _;
            opcode::SendMsgZc::new(types::Fd(s.fd), &*s.msg)
                .flags(flags as u32)
                .ioprio(IORING_SEND_ZC_REPORT_USAGE)
                .build()
        };
        s.send_inflight = true;
        s.inflight += 1;
        s.zc_key_inflight = Some(key);
        self.stats.zc_writes += 1;
        self.ring.push(sqe.user_data(encode_zc(id, key)));
    }

    /// A CQE of a zerocopy write: its data CQE or its notification.
    pub(super) fn on_send_zc(
        &mut self,
        id: SocketId,
        ud: u64,
        res: i32,
        flags: u32,
        out: &mut Vec<Event>,
    ) {
        let s = self.socks.get_mut(id).expect("caller checked");
        if cqueue::notif(flags) {
            self.stats.zc_notifications += 1;
            let copied = (res as u32) & IORING_NOTIF_USAGE_ZC_COPIED != 0;
            if let Some(t) = s.zc.as_mut() {
                let key = t.key_from_low24(key24(ud));
                t.notify(key, key, copied, &mut self.bufs);
            }
            self.note_zc_done(id);
            return;
        }
        s.send_inflight = false;
        let more = cqueue::more(flags);
        let key = s.zc_key_inflight.take();
        let touched = if res > 0 {
            s.sendq.consume(res as usize, &mut self.bufs)
        } else {
            None
        };
        if let (Some(t), Some(key)) = (s.zc.as_mut(), key) {
            t.resolve(key, true, touched, more, &mut self.bufs);
        }
        if res >= 0 {
            self.stats.bytes_out += res as u64;
            self.stats.send_ops += 1;
            if s.state != State::Closing {
                out.push(Event::Sent {
                    socket: id,
                    bytes: res as u64,
                });
            }
            self.note_zc_done(id);
            self.kick_send(id);
        } else {
            self.note_zc_done(id);
            if -res != libc::ECANCELED {
                self.fail(id, SysError::new(-res, "write"), out);
            }
        }
    }

    fn note_zc_done(&mut self, id: SocketId) {
        let Some(s) = self.socks.get(id) else {
            return;
        };
        if s.zc.as_ref().is_some_and(|t| t.has_done()) && !self.zc_ready.contains(&id) {
            self.zc_ready.push(id);
        }
    }

    /// Reports finished zerocopy sends as ranges.
    pub(super) fn emit_zc_done(&mut self, out: &mut Vec<Event>) {
        if self.zc_ready.is_empty() {
            return;
        }
        let mut ranges = Vec::new();
        for id in std::mem::take(&mut self.zc_ready) {
            let Some(s) = self.socks.get_mut(id) else {
                continue;
            };
            let closing = s.state == State::Closing;
            let Some(t) = s.zc.as_mut() else {
                continue;
            };
            ranges.clear();
            t.take_ranges(&mut ranges);
            if closing {
                continue;
            }
            crate::zerocopy::report_done(id, &ranges, &mut self.stats, out);
        }
    }

    /// Closes waiting for zerocopy notifications: past the grace period the connection is
    /// aborted (connect(AF_UNSPEC) purges unsent data, so the kernel lets go and notifies).
    pub(super) fn check_zc_closing(&mut self) {
        let now = Instant::now();
        let mut keep = Vec::new();
        for (id, since, aborted) in std::mem::take(&mut self.zc_closing) {
            let Some(s) = self.socks.get(id) else {
                continue;
            };
            if !s.zc.as_ref().is_some_and(|t| t.kernel_holds()) {
                continue;
            }
            if !aborted && now.duration_since(since) >= ZC_CLOSE_ABORT_AFTER {
                disconnect(s.fd);
                self.stats.other_syscalls += 1;
                keep.push((id, since, true));
            } else {
                keep.push((id, since, aborted));
            }
        }
        self.zc_closing = keep;
        self.arm_zc_timer(now);
    }

    /// Arms a Timeout SQE for the next close deadline (one at a time).
    pub(super) fn arm_zc_timer(&mut self, now: Instant) {
        if self.zc_timer.is_some() {
            return;
        }
        let Some(at) = self
            .zc_closing
            .iter()
            .filter(|c| !c.2)
            .map(|c| c.1 + ZC_CLOSE_ABORT_AFTER)
            .min()
        else {
            return;
        };
        let left = at
            .saturating_duration_since(now)
            .max(std::time::Duration::from_millis(1));
        let ts = Box::new(
            types::Timespec::new()
                .sec(left.as_secs())
                .nsec(left.subsec_nanos()),
        );
        let sqe = opcode::Timeout::new(&*ts)
            .build()
            .user_data(encode(Op::ZcTimer, 0));
        self.zc_timer = Some(ts);
        self.ring.push(sqe);
    }

    /// Zerocopy receive is not implemented on io_uring: the socket keeps the plain receive path
    /// and its bytes are counted as copied (`zc_recv_fallbacks` counts such sockets).
    pub(crate) fn set_zerocopy_receive(
        &mut self,
        id: SocketId,
        on: bool,
    ) -> Result<bool, EngineError> {
        let s = super::sock_mut(&mut self.socks, id)?;
        if on && !s.zc_recv && s.kind == Kind::Stream {
            self.stats.zc_recv_fallbacks += 1;
        }
        s.zc_recv = on;
        Ok(false)
    }

    /// No receive windows on io_uring.
    pub(crate) fn release_mapped(&mut self, _window: u32, _chunk: u32) -> Result<(), EngineError> {
        Err(EngineError::InvalidArgument(
            "the io_uring backend maps no receive chunks",
        ))
    }

    /// No receive windows on io_uring.
    pub(crate) fn mapped_chunk(
        &self,
        _window: u32,
        _chunk: u32,
    ) -> Option<(*const u8, MappedMemory)> {
        None
    }
}
