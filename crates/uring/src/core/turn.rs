//! The pieces of a turn (submit, poll) that both backends run the same way: settling a wake
//! owed for direct sends, handing out pending events, keeping a poll's promise of at most
//! `max` events.

use super::{Backend, Core};
use crate::event::Event;
use std::time::{Duration, Instant};

impl<B: Backend> Core<B> {
    /// Start of `submit()`: events a direct send left in `pending` get their wake-up now.
    pub fn settle_owed_wake(&mut self) {
        if std::mem::take(&mut self.wake_owed) && !self.pending.is_empty() {
            B::wake(self);
        }
    }

    /// Moves up to `room` pending events to `out` (the owner gets them now, so no wake-up is
    /// owed for them any more).
    pub fn hand_out_pending(&mut self, out: &mut Vec<Event>, room: usize) {
        self.wake_owed = false;
        let n = room.min(self.pending.len());
        out.extend(self.pending.drain(..n));
    }

    /// Keeps `evs` for the next poll and wakes the owner for them (nothing when empty).
    pub fn queue_for_poll(&mut self, evs: Vec<Event>) {
        if !evs.is_empty() {
            self.pending.extend(evs);
            B::wake(self);
        }
    }

    /// Keeps the promise of at most `max` events since `start`: the rest goes first next time.
    pub fn return_excess(&mut self, out: &mut Vec<Event>, start: usize, max: usize) {
        if out.len() - start > max {
            for ev in out.drain(start + max..).rev() {
                self.pending.push_front(ev);
            }
        }
    }

    /// End of a poll: sockets starved of receive buffers go on if any buffer came back — from
    /// JS, or from the send side (a receive buffer forwarded to another socket's send is freed
    /// there, never through `release_recv`) — then counts an empty poll and returns the events
    /// it added.
    pub fn count_poll(&mut self, out: &[Event], start: usize) -> usize {
        if self.bufs.take_returned() && !self.starved.is_empty() {
            B::buffers_returned(self);
        }
        if out.len() == start {
            self.stats.empty_polls += 1;
        }
        out.len() - start
    }

    /// `Engine::wait`: polls until at least one event came or `timeout` passed.
    pub fn wait(&mut self, timeout: Duration, out: &mut Vec<Event>) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let n = B::poll_until(self, out, deadline);
            if n > 0 || Instant::now() >= deadline {
                return n;
            }
        }
    }
}
