//! Zerocopy on the io_uring backend: SEND_ZC / SENDMSG_ZC with IORING_SEND_ZC_REPORT_USAGE.
//!
//! A zerocopy write gives two CQEs with the same `user_data`: the data CQE (bytes sent, with
//! IORING_CQE_F_MORE when a notification follows) and the notification CQE
//! (IORING_CQE_F_NOTIF; `res & IORING_NOTIF_USAGE_ZC_COPIED` when the kernel copied). Only the
//! notification releases the memory. Consecutive zerocopy sends at the front of a socket's
//! queue go out in one SENDMSG_ZC (one notification for all of them). Zerocopy receive is not
//! done here: sockets that ask for it keep the multishot receive path (counted).

use super::userdata::{encode, encode_zc, key24, Op};
use super::UringBackend;
use crate::core::slab::SocketId;
use crate::core::Core;
use crate::error::SysError;
use crate::event::Event;
use ::io_uring::{cqueue, opcode, types};
use std::time::Instant;

/// io_uring SEND_ZC flag (sqe `ioprio`): report in the notification whether data was copied.
const IORING_SEND_ZC_REPORT_USAGE: u16 = 1 << 3;
/// Bit of a SEND_ZC notification's `res`: the kernel copied the data.
const IORING_NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;

impl Core<UringBackend> {
    /// Issues one SEND_ZC (one zerocopy segment) or SENDMSG_ZC (several) for the front of the
    /// socket's queue.
    pub(super) fn kick_send_zc(&mut self, id: SocketId) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        let n = s.sendq.fill_iovecs(&mut s.be.iov[..], true);
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
            s.be.msg.msg_iov = s.be.iov.as_mut_ptr();
            s.be.msg.msg_iovlen = n as _;
            opcode::SendMsgZc::new(types::Fd(s.fd), &*s.be.msg)
                .flags(flags as u32)
                .ioprio(IORING_SEND_ZC_REPORT_USAGE)
                .build()
        };
        s.be.send_inflight = true;
        s.be.inflight += 1;
        s.be.zc_key_inflight = Some(key);
        self.stats.zc_writes += 1;
        self.be.ring.push(sqe.user_data(encode_zc(id, key)));
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
        s.be.send_inflight = false;
        let more = cqueue::more(flags);
        let key = s.be.zc_key_inflight.take();
        let touched = if res > 0 {
            s.sendq.consume(res as usize, &mut self.bufs)
        } else {
            None
        };
        if let (Some(t), Some(key)) = (s.zc.as_mut(), key) {
            t.resolve(key, true, touched, more, &mut self.bufs);
        }
        if res >= 0 {
            self.sent(id, res as u64, out);
            self.note_zc_done(id);
            self.kick_send(id);
        } else {
            self.note_zc_done(id);
            if -res != libc::ECANCELED {
                self.fail(id, SysError::new(-res, "write"), out);
            }
        }
    }

    /// Arms a Timeout SQE for the next close deadline (one at a time).
    pub(super) fn arm_close_timer(&mut self, now: Instant) {
        if self.be.zc_timer.is_some() {
            return;
        }
        let Some(at) = self.next_zc_deadline() else {
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
        self.be.zc_timer = Some(ts);
        self.be.ring.push(sqe);
    }
}
