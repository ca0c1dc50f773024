//! [`ZcTracker`]: one socket's zerocopy sends, from `send_zerocopy` to the kernel's last
//! notification.
//!
//! Two numberings meet here:
//! - **send ids** (ours, per socket, consecutive from 0): one per `send_zerocopy` call, reported
//!   to the user in `ZeroCopyDone` ranges;
//! - **piece keys** (per socket, consecutive from 0): one per kernel write that may pin memory —
//!   on epoll exactly the kernel's MSG_ZEROCOPY counter (one per successful `sendmsg`), on
//!   io_uring our own counter carried in `user_data`. A piece covers a range of send ids (one
//!   write may carry several sends, and a long send may need several writes).
//!
//! A send is finished when all of it left the send queue and every piece covering it was
//! notified; only then is its memory released. Sends dropped before they were written completely
//! (error, close) are released the same way but not reported.

use crate::core::buffers::Buffers;
use crate::core::sendq::ZcTouched;
use std::collections::VecDeque;
use zerosock_pool::BufHandle;

/// One zerocopy send.
struct ZcSend {
    /// The pool buffer the engine releases when finished (`None`: caller-pinned memory).
    owner: Option<BufHandle>,
    bytes: u32,
    /// Some of its bytes are still in the send queue.
    queued: bool,
    /// Pieces covering it whose notification has not arrived.
    outstanding: u32,
    copied: bool,
    aborted: bool,
    finished: bool,
}

/// One kernel write.
#[derive(Default)]
struct Piece {
    /// Send ids covered; `None` until the write's result is known (io_uring data CQE).
    covered: Option<(u32, u32)>,
    /// Whether `covered` is known (it may be known and empty).
    resolved: bool,
    /// A notification that arrived before the write's result: its `copied` flag.
    early: Option<bool>,
    /// The write expects a notification that has not arrived.
    awaiting: bool,
}

/// A finished, reported send: (send id, copied, bytes).
pub(crate) type Done = (u32, bool, u32);

/// Zerocopy bookkeeping of one socket.
#[derive(Default)]
pub(crate) struct ZcTracker {
    next_id: u32,
    /// Id of `sends[0]`.
    front_id: u32,
    sends: VecDeque<ZcSend>,
    /// Key of `pieces[0]`.
    front_key: u32,
    pieces: VecDeque<Piece>,
    /// Pieces whose result is not known yet (io_uring: write in flight).
    unresolved: u32,
    /// Pieces waiting for a notification.
    awaiting: u32,
    /// Aborted sends that could not be finished while a write was unresolved.
    blocked_aborts: Vec<u32>,
    done: Vec<Done>,
    /// Lower bound of every id in `done` (for sorting across wrap-around).
    done_base: u32,
    /// The kernel zerocopy path is off for this socket (SO_ZEROCOPY refused, or no SEND_ZC):
    /// zerocopy sends are written like plain ones and reported `copied`.
    pub fallback: bool,
    /// epoll: SO_ZEROCOPY was tried (successfully or not).
    pub configured: bool,
    /// epoll: a MSG_ZEROCOPY write failed with ENOBUFS; wait for notifications.
    pub blocked: bool,
}

impl ZcTracker {
    /// Registers a new send of `bytes` and returns its id.
    pub fn add(&mut self, owner: Option<BufHandle>, bytes: u32) -> u32 {
        let id = self.next_id;
        if self.sends.is_empty() {
            self.front_id = id;
        }
        self.next_id = id.wrapping_add(1);
        self.sends.push_back(ZcSend {
            owner,
            bytes,
            queued: true,
            outstanding: 0,
            copied: false,
            aborted: false,
            finished: false,
        });
        id
    }

    /// The key the next piece gets (epoll: the kernel's next MSG_ZEROCOPY id).
    pub fn next_key(&self) -> u32 {
        self.front_key.wrapping_add(self.pieces.len() as u32)
    }

    /// Reserves the next key for a write whose result comes later (io_uring).
    pub fn reserve(&mut self) -> u32 {
        let key = self.next_key();
        self.pieces.push_back(Piece::default());
        self.unresolved += 1;
        key
    }

    /// The full key whose low 24 bits are `low` (io_uring carries 24 bits in `user_data`).
    pub fn key_from_low24(&self, low: u32) -> u32 {
        self.front_key
            .wrapping_add(low.wrapping_sub(self.front_key) & 0x00FF_FFFF)
    }

    fn send_mut(&mut self, id: u32) -> Option<&mut ZcSend> {
        let i = id.wrapping_sub(self.front_id) as usize;
        self.sends.get_mut(i)
    }

    fn piece_mut(&mut self, key: u32) -> Option<&mut Piece> {
        let i = key.wrapping_sub(self.front_key) as usize;
        self.pieces.get_mut(i)
    }

    /// A write finished: `touched` is what it took from the queue (`None`: no zerocopy bytes),
    /// `expects_notif` whether the kernel will notify for it. For a reserved key (`reserved`),
    /// the piece exists already; otherwise it is appended (epoll, right after `sendmsg`).
    pub fn resolve(
        &mut self,
        key: u32,
        reserved: bool,
        touched: Option<ZcTouched>,
        expects_notif: bool,
        bufs: &mut Buffers,
    ) {
        if !reserved {
            debug_assert_eq!(key, self.next_key());
            self.pieces.push_back(Piece::default());
            self.unresolved += 1;
        }
        let range = touched.map(|t| (t.first, t.last));
        let Some(p) = self.piece_mut(key) else {
            return;
        };
        if p.resolved {
            return;
        }
        p.resolved = true;
        p.covered = range;
        let early = p.early;
        p.awaiting = expects_notif && early.is_none();
        let awaiting = p.awaiting;
        self.unresolved -= 1;
        if awaiting {
            self.awaiting += 1;
        }
        if let Some((first, last)) = range {
            if awaiting {
                self.for_range(first, last, |s| s.outstanding += 1);
            }
            if let Some(copied) = early {
                self.for_range(first, last, |s| s.copied |= copied);
            }
        }
        if let Some(t) = touched {
            self.mark_written(t, bufs);
        }
        self.trim_pieces();
        if self.unresolved == 0 {
            for id in std::mem::take(&mut self.blocked_aborts) {
                self.check(id, bufs);
            }
        }
    }

    /// Zerocopy sends were written by a plain write (fallback): they are done once written,
    /// and copied.
    pub fn written_by_copy(&mut self, t: ZcTouched, bufs: &mut Buffers) {
        self.for_range(t.first, t.last, |s| s.copied = true);
        self.mark_written(t, bufs);
    }

    fn for_range(&mut self, first: u32, last: u32, mut f: impl FnMut(&mut ZcSend)) {
        let mut id = first;
        loop {
            if let Some(s) = self.send_mut(id) {
                f(s);
            }
            if id == last {
                break;
            }
            id = id.wrapping_add(1);
        }
    }

    /// Every send of `t` except a partly written last one has left the queue.
    fn mark_written(&mut self, t: ZcTouched, bufs: &mut Buffers) {
        let mut id = t.first;
        loop {
            let partial = id == t.last && !t.last_complete;
            if !partial {
                if let Some(s) = self.send_mut(id) {
                    s.queued = false;
                }
                self.check(id, bufs);
            }
            if id == t.last {
                break;
            }
            id = id.wrapping_add(1);
        }
    }

    /// Notifications for keys `lo..=hi` arrived; returns how many pieces they completed.
    /// Keys outside the window of known pieces are ignored.
    pub fn notify(&mut self, lo: u32, hi: u32, copied: bool, bufs: &mut Buffers) -> u32 {
        let rel_lo = i64::from(lo.wrapping_sub(self.front_key) as i32);
        let rel_hi = rel_lo + i64::from(hi.wrapping_sub(lo));
        let start = rel_lo.max(0);
        let end = rel_hi.min(self.pieces.len() as i64 - 1);
        let mut n = 0;
        for i in start..=end {
            let p = &mut self.pieces[i as usize];
            if !p.resolved {
                p.early.get_or_insert(copied);
                continue;
            }
            if !p.awaiting {
                continue;
            }
            p.awaiting = false;
            let range = p.covered;
            n += 1;
            self.awaiting -= 1;
            if let Some((first, last)) = range {
                self.for_range(first, last, |s| {
                    s.outstanding = s.outstanding.saturating_sub(1);
                    s.copied |= copied;
                });
                let mut id = first;
                loop {
                    self.check(id, bufs);
                    if id == last {
                        break;
                    }
                    id = id.wrapping_add(1);
                }
            }
        }
        self.trim_pieces();
        n
    }

    fn trim_pieces(&mut self) {
        while self
            .pieces
            .front()
            .is_some_and(|p| p.resolved && !p.awaiting)
        {
            self.pieces.pop_front();
            self.front_key = self.front_key.wrapping_add(1);
        }
    }

    /// Finishes send `id` if it is written (or dropped) and notified.
    fn check(&mut self, id: u32, bufs: &mut Buffers) {
        let unresolved = self.unresolved;
        let Some(s) = self.send_mut(id) else {
            return;
        };
        if s.finished || s.queued || s.outstanding > 0 {
            return;
        }
        if s.aborted && unresolved > 0 {
            // A write in flight may still read this memory; its result tells.
            self.blocked_aborts.push(id);
            return;
        }
        s.finished = true;
        if let Some(h) = s.owner.take() {
            bufs.release(h);
        }
        if !s.aborted {
            let (copied, bytes) = (s.copied, s.bytes);
            if self.done.is_empty() {
                self.done_base = self.front_id;
            }
            self.done.push((id, copied, bytes));
        }
        while self.sends.front().is_some_and(|s| s.finished) {
            self.sends.pop_front();
            self.front_id = self.front_id.wrapping_add(1);
        }
    }

    /// Sends dropped from the queue (error / close) before they were completely written.
    pub fn abort(&mut self, ids: &[u32], bufs: &mut Buffers) {
        for &id in ids {
            if let Some(s) = self.send_mut(id) {
                s.aborted = true;
                s.queued = false;
            }
            self.check(id, bufs);
        }
    }

    /// Whether the kernel may still hold memory of some send (write in flight or notification
    /// outstanding).
    pub fn kernel_holds(&self) -> bool {
        self.unresolved > 0 || self.awaiting > 0
    }

    /// Sends not finished yet.
    pub fn unfinished(&self) -> usize {
        self.sends.iter().filter(|s| !s.finished).count()
    }

    /// Whether finished sends wait to be reported.
    pub fn has_done(&self) -> bool {
        !self.done.is_empty()
    }

    /// Finished sends as ranges `(first, last, copied, bytes)`: consecutive ids with the same
    /// `copied` flag are merged (never across the u32 wrap).
    pub fn take_ranges(&mut self, out: &mut Vec<(u32, u32, bool, u64)>) {
        let base = self.done_base;
        let mut done = std::mem::take(&mut self.done);
        done.sort_unstable_by_key(|d| d.0.wrapping_sub(base));
        for (id, copied, bytes) in done.drain(..) {
            if let Some(last) = out.last_mut() {
                if last.2 == copied && last.1.checked_add(1) == Some(id) {
                    last.1 = id;
                    last.3 += u64::from(bytes);
                    continue;
                }
            }
            out.push((id, id, copied, u64::from(bytes)));
        }
        self.done = done;
    }

    /// Drops everything without releasing pool buffers (the kernel may still read them: they
    /// are leaked rather than reused).
    pub fn forget_all(&mut self) {
        self.sends.clear();
        self.done.clear();
        self.pieces.clear();
        self.unresolved = 0;
        self.awaiting = 0;
        self.blocked_aborts.clear();
    }

    /// Drops every report and releases every pool buffer still held. Only when the kernel let
    /// go of everything (socket closed after its last completion) or never will read again.
    pub fn release_all(&mut self, bufs: &mut Buffers) {
        for s in self.sends.drain(..) {
            if let Some(h) = s.owner {
                bufs.release(h);
            }
        }
        self.done.clear();
        self.pieces.clear();
        self.unresolved = 0;
        self.awaiting = 0;
        self.blocked_aborts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerosock_pool::{Pool, PoolConfig};

    fn bufs() -> Buffers {
        Buffers::new(Pool::new(PoolConfig::default()).unwrap()).unwrap()
    }

    fn touched(first: u32, last: u32, last_complete: bool) -> Option<ZcTouched> {
        Some(ZcTouched {
            first,
            last,
            last_complete,
        })
    }

    fn ranges(t: &mut ZcTracker) -> Vec<(u32, u32, bool)> {
        let mut out = Vec::new();
        t.take_ranges(&mut out);
        out.into_iter().map(|r| (r.0, r.1, r.2)).collect()
    }

    #[test]
    fn one_write_many_sends_one_notification() {
        let mut b = bufs();
        let mut t = ZcTracker::default();
        for _ in 0..5 {
            t.add(None, 100);
        }
        let key = t.next_key();
        t.resolve(key, false, touched(0, 4, true), true, &mut b);
        assert!(ranges(&mut t).is_empty(), "nothing before the notification");
        assert!(t.kernel_holds());
        assert_eq!(t.notify(key, key, true, &mut b), 1);
        assert_eq!(ranges(&mut t), vec![(0, 4, true)]);
        assert!(!t.kernel_holds());
        assert_eq!(t.unfinished(), 0);
    }

    #[test]
    fn a_send_split_over_writes_waits_for_all() {
        let mut b = bufs();
        let mut t = ZcTracker::default();
        t.add(None, 1000);
        t.add(None, 1000);
        // Write 1: all of send 0 and part of send 1; write 2: the rest of send 1.
        t.resolve(0, false, touched(0, 1, false), true, &mut b);
        t.resolve(1, false, touched(1, 1, true), true, &mut b);
        t.notify(0, 0, false, &mut b);
        assert_eq!(ranges(&mut t), vec![(0, 0, false)]);
        t.notify(1, 1, true, &mut b);
        assert_eq!(ranges(&mut t), vec![(1, 1, true)]);
    }

    #[test]
    fn early_notification_and_out_of_order() {
        let mut b = bufs();
        let mut t = ZcTracker::default();
        for _ in 0..3 {
            t.add(None, 10);
        }
        let k0 = t.reserve();
        let k1 = t.reserve();
        assert_eq!(t.key_from_low24(k1 & 0xFF_FFFF), k1);
        // The notification of the second write arrives before its result.
        t.notify(k1, k1, false, &mut b);
        t.resolve(k0, true, touched(0, 0, true), true, &mut b);
        t.resolve(k1, true, touched(1, 2, true), true, &mut b);
        assert_eq!(ranges(&mut t), vec![(1, 2, false)]);
        t.notify(k0, k0, false, &mut b);
        assert_eq!(ranges(&mut t), vec![(0, 0, false)]);
        assert!(!t.kernel_holds());
    }

    #[test]
    fn aborted_sends_wait_for_the_write_in_flight_and_are_not_reported() {
        let mut b = bufs();
        let pool_buf = b.acquire(1).unwrap().0;
        let mut t = ZcTracker::default();
        t.add(Some(pool_buf), 10);
        let k = t.reserve();
        t.abort(&[0], &mut b);
        assert_eq!(t.unfinished(), 1, "a write in flight may still read it");
        t.resolve(k, true, None, true, &mut b);
        t.notify(k, k, true, &mut b);
        assert_eq!(t.unfinished(), 0);
        assert!(ranges(&mut t).is_empty());
        assert_eq!(b.pool.stats().in_use, 0, "the buffer went back");
    }

    #[test]
    fn ranges_split_on_copied_flag_and_wrap() {
        let mut t = ZcTracker {
            done: vec![
                (u32::MAX - 1, true, 1),
                (u32::MAX, true, 1),
                (0, true, 1),
                (1, false, 1),
            ],
            done_base: u32::MAX - 1,
            ..ZcTracker::default()
        };
        assert_eq!(
            ranges(&mut t),
            vec![(u32::MAX - 1, u32::MAX, true), (0, 0, true), (1, 1, false)]
        );
    }
}
