//! The epoll backend's turn: one `poll()` hands out pending events, writes dirty queues,
//! runs one epoll_wait, reads what became ready and reports finished zerocopy sends.

use super::EpollBackend;
use crate::core::{Backend, Core};
use crate::event::Event;

impl Core<EpollBackend> {
    /// One poll; epoll_wait blocks up to `timeout_ms` when nothing else is there.
    pub(super) fn poll_inner(
        &mut self,
        out: &mut Vec<Event>,
        max: usize,
        timeout_ms: i32,
    ) -> usize {
        let start = out.len();
        self.bufs.drain_returns();
        self.retry_stalled_accepts(false);
        self.check_zc_closing();
        // `pending` is handed out here (leftovers wake below).
        self.hand_out_pending(out, max);
        let mut scratch = Vec::new();
        self.flush_dirty(&mut scratch);
        out.append(&mut scratch);
        let idle = out.len() == start && self.be.ready.is_empty() && self.pending.is_empty();
        let timeout = if idle { timeout_ms } else { 0 };
        // SAFETY: `events` is a valid, writable array of its length.
        let n = unsafe {
            libc::epoll_wait(
                self.be.epfd,
                self.be.events.as_mut_ptr(),
                self.be.events.len() as i32,
                timeout,
            )
        };
        self.stats.epoll_waits += 1;
        for i in 0..n.max(0) as usize {
            let ev = self.be.events[i];
            self.on_epoll_event(ev.u64, ev.events, out);
        }
        self.run_ready(out, start, max);
        self.flush_dirty(&mut scratch);
        out.append(&mut scratch);
        self.emit_zc_done(out);
        self.check_zc_closing();
        self.return_excess(out, start, max);
        if !self.be.ready.is_empty() || !self.pending.is_empty() {
            EpollBackend::wake(self);
        }
        self.count_poll(out, start)
    }
}
