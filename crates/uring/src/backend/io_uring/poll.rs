//! The io_uring backend's turn: submit, `submit_and_collect` and poll (submit, reap, handle
//! completions), muting the eventfd while we reap ourselves, waking the owner for work left,
//! and the bounded cancel-and-wait of engine teardown.

use super::UringBackend;
use crate::core::{Backend, Core, State};
use crate::error::SysError;
use crate::event::Event;
use crate::sys;
use std::time::{Duration, Instant};

impl Core<UringBackend> {
    pub(super) fn submit_and_collect_muted(
        &mut self,
        out: &mut Vec<Event>,
    ) -> Result<usize, SysError> {
        let start = out.len();
        self.hand_out_pending(out, usize::MAX);
        let mut submitted = 0;
        for _ in 0..4 {
            self.refill_and_rearm();
            self.flush_dirty();
            if self.be.ring.needs_enter() {
                submitted += self.be.ring.enter(0, None, true)?;
            }
            self.be.ring.drain_cq();
            self.process_cqes(out, start, usize::MAX);
            self.refill_and_rearm();
            self.flush_dirty();
            if self.be.ring.unsubmitted() == 0 {
                break;
            }
        }
        self.emit_zc_done(out);
        Ok(submitted)
    }

    /// While the engine reaps completions itself (`poll`, `submit_and_collect`), the kernel
    /// need not signal the eventfd for them: each signal cost the loop a wake-up, an eventfd
    /// read and an empty poll (2 of the 7 syscalls of a ping-pong round trip). The ring fd as
    /// notify fd (no eventfd) needs nothing.
    pub(super) fn mute_notify(&mut self) {
        if self.be.evfd >= 0 {
            self.be.ring.mute_eventfd();
        }
    }

    /// Ends [`mute_notify`](Self::mute_notify); the caller then runs `wake_if_work_left`,
    /// which announces whatever the kernel queued meanwhile without signalling.
    pub(super) fn unmute_notify(&mut self) {
        if self.be.evfd >= 0 {
            self.be.ring.unmute_eventfd();
        }
    }

    /// Makes the notify fd readable when work is left that nothing else would announce:
    /// reaped CQEs or events not handed out yet, posted CQEs (the eventfd was cleared by
    /// `poll`), or work still in the kernel — deferred task work (IORING_SQ_TASKRUN: the kernel
    /// does not signal the eventfd again for work it already queued), an overflowed CQ, or
    /// SQEs not submitted yet. Without this a burst of completions stalls until unrelated
    /// traffic comes (seen: a storm of 10 000 connects where 6 444 never settled).
    pub(super) fn wake_if_work_left(&mut self) {
        let leftover =
            !self.be.ring.cqes.is_empty() || !self.pending.is_empty() || self.be.ring.needs_enter();
        let posted = self.be.ring.cq_nonempty();
        // A readable ring fd already reports posted CQEs; an eventfd was cleared by `poll`.
        let need = if self.be.evfd >= 0 {
            leftover || posted
        } else {
            leftover && !posted
        };
        if need {
            UringBackend::wake(self);
        }
    }

    /// One poll that may block in the kernel (`block`: up to that long, only when it found
    /// nothing and no CQE waits).
    pub(super) fn poll_inner(
        &mut self,
        out: &mut Vec<Event>,
        max: usize,
        block: Option<Duration>,
    ) -> usize {
        let start = out.len();
        if self.be.evfd >= 0 {
            sys::eventfd_clear(self.be.evfd);
            self.stats.other_syscalls += 1;
        }
        self.mute_notify();
        self.bufs.drain_returns();
        self.retry_stalled_accepts(false);
        // `pending` is handed out here (leftovers wake below).
        self.hand_out_pending(out, max);
        self.refill_and_rearm();
        self.flush_dirty();
        self.be.ring.drain_cq();
        self.process_cqes(out, start, max);
        // The kernel runs a bounded amount of deferred task work per enter (20 items on 6.x
        // with DEFER_TASKRUN) and raises IORING_SQ_TASKRUN when some is left; one enter per
        // poll keeps a poll's batch (and the buffers it holds) bounded, and
        // `wake_if_work_left` brings us back for the rest.
        if out.len() - start < max && self.pending.is_empty() {
            let wait_needed = block.is_some() && out.len() == start && self.be.ring.cqes.is_empty();
            if wait_needed || self.be.ring.needs_enter() {
                self.refill_and_rearm();
                self.flush_dirty();
                let _ = self
                    .be
                    .ring
                    .enter(wait_needed as u32, block.filter(|_| wait_needed), true);
                self.be.ring.drain_cq();
                self.process_cqes(out, start, max);
            }
        }
        self.emit_zc_done(out);
        self.refill_and_rearm();
        self.flush_dirty();
        if self.be.ring.unsubmitted() > 0 {
            let _ = self.be.ring.enter(0, None, false);
        }
        self.return_excess(out, start, max);
        self.unmute_notify();
        self.wake_if_work_left();
        self.count_poll(out, start)
    }

    /// Cancels everything and waits (bounded) until the kernel has let go of every buffer.
    /// Returns false if some operation did not finish in time (its buffers are then leaked
    /// rather than reused while the kernel might still write them).
    pub(super) fn shutdown_all(&mut self) -> bool {
        for id in self.socks.ids() {
            let Some(s) = self.socks.get_mut(id) else {
                continue;
            };
            s.state = State::Closing;
            if s.zc.as_ref().is_some_and(|t| t.kernel_holds()) {
                // Purge unsent zerocopy data so its notifications come now.
                crate::core::zerocopy::disconnect(s.fd);
            }
            if s.be.inflight > 0 {
                self.cancel_all(id);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let busy = self
                .socks
                .ids()
                .into_iter()
                .any(|id| self.socks.get(id).is_some_and(|s| s.be.inflight > 0));
            if !busy {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let _ = self.be.ring.enter(1, Some(Duration::from_millis(20)), true);
            self.be.ring.drain_cq();
            while let Some((ud, res, flags)) = self.be.ring.cqes.pop_front() {
                self.complete_quietly(ud, res, flags);
            }
        }
    }
}
