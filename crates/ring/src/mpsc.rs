//! Bounded multi-producer ring of `u64` values (Vyukov sequence-per-slot design).
//!
//! Used for the deferred-free return path: many threads push buffer handles, the
//! owning thread pops them. Entirely safe code: each slot is an `AtomicU64` value
//! plus an `AtomicUsize` sequence number that says whose turn the slot is.

use crate::sync::{AtomicU64, AtomicUsize, Ordering};
use crate::RingError;
use crossbeam_utils::CachePadded;

/// Smallest capacity [`MpscRing::new`] accepts.
pub const MPSC_MIN_CAPACITY: usize = 2;
/// Largest capacity [`MpscRing::new`] accepts.
pub const MPSC_MAX_CAPACITY: usize = 1 << 30;

struct Slot {
    /// Equals the position `p` when the slot is free for the producer that claims `p`,
    /// and `p + 1` once that producer has published its value.
    seq: AtomicUsize,
    value: AtomicU64,
}

/// Bounded lock-free ring of `u64` values: any number of threads may push.
///
/// `pop` is also safe to call from several threads at once (each value is
/// returned exactly once), but the ring is tuned for one consumer.
pub struct MpscRing {
    /// Next position to pop.
    head: CachePadded<AtomicUsize>,
    /// Next position to push.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot]>,
    mask: usize,
}

impl MpscRing {
    /// Creates an empty ring holding up to `capacity` values.
    ///
    /// # Errors
    /// [`RingError::Capacity`] (`ERR_ZEROSOCK_RING_CAPACITY`) unless `capacity` is a
    /// power of two in `2..=2^30`.
    pub fn new(capacity: usize) -> Result<MpscRing, RingError> {
        if !capacity.is_power_of_two()
            || !(MPSC_MIN_CAPACITY..=MPSC_MAX_CAPACITY).contains(&capacity)
        {
            return Err(RingError::Capacity {
                requested: capacity,
                min: MPSC_MIN_CAPACITY,
                max: MPSC_MAX_CAPACITY,
            });
        }
        let slots = (0..capacity)
            .map(|i| Slot {
                seq: AtomicUsize::new(i),
                value: AtomicU64::new(0),
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Ok(MpscRing {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            mask: capacity - 1,
        })
    }

    /// Pushes `v`. Returns `Err(v)` (giving the value back) when the ring is full.
    pub fn push(&self, v: u64) -> Result<(), u64> {
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as isize;
            if diff == 0 {
                match self.tail.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        slot.value.store(v, Ordering::Relaxed);
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => pos = current,
                }
            } else if diff < 0 {
                // The slot still holds the value from one lap ago: full.
                return Err(v);
            } else {
                // Another producer claimed `pos`; catch up.
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops the oldest value, or `None` when the ring is empty (or the oldest
    /// claimed slot is still being written by its producer).
    pub fn pop(&self) -> Option<u64> {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if diff == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let v = slot.value.load(Ordering::Relaxed);
                        slot.seq
                            .store(pos.wrapping_add(self.mask + 1), Ordering::Release);
                        return Some(v);
                    }
                    Err(current) => pos = current,
                }
            } else if diff < 0 {
                return None;
            } else {
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops up to `max` values, appending them to `out` in FIFO order.
    /// Returns how many were appended.
    pub fn pop_many(&self, out: &mut Vec<u64>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            match self.pop() {
                Some(v) => {
                    out.push(v);
                    n += 1;
                }
                None => break,
            }
        }
        n
    }

    /// Approximate number of values in the ring (exact when no push/pop is in flight).
    pub fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.capacity())
    }

    /// Whether [`MpscRing::len`] is zero (approximate, like `len`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maximum number of values the ring holds.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }
}

impl std::fmt::Debug for MpscRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpscRing")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<MpscRing>();
    }

    #[test]
    fn rejects_bad_capacity() {
        for c in [0, 1, 3, 6, 100, (1 << 30) + 1, 1 << 31] {
            let e = MpscRing::new(c).unwrap_err();
            assert_eq!(e.code(), "ERR_ZEROSOCK_RING_CAPACITY", "capacity {c}");
        }
        assert_eq!(MpscRing::new(2).unwrap().capacity(), 2);
    }

    #[test]
    fn fifo_full_empty_and_wrap() {
        let r = MpscRing::new(4).unwrap();
        assert_eq!(r.pop(), None);
        for lap in 0..10u64 {
            for i in 0..4 {
                r.push(lap * 10 + i).unwrap();
            }
            assert_eq!(r.len(), 4);
            assert_eq!(r.push(99), Err(99));
            for i in 0..4 {
                assert_eq!(r.pop(), Some(lap * 10 + i));
            }
            assert_eq!(r.pop(), None);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn pop_many_respects_max() {
        let r = MpscRing::new(8).unwrap();
        for i in 0..6 {
            r.push(i).unwrap();
        }
        let mut out = vec![];
        assert_eq!(r.pop_many(&mut out, 4), 4);
        assert_eq!(out, [0, 1, 2, 3]);
        assert_eq!(r.pop_many(&mut out, 10), 2);
        assert_eq!(out, [0, 1, 2, 3, 4, 5]);
        assert_eq!(r.pop_many(&mut out, 10), 0);
    }

    #[test]
    fn many_producers_every_value_once_in_per_producer_order() {
        const PRODUCERS: u64 = 4;
        const PER: u64 = if cfg!(miri) { 200 } else { 100_000 };
        let r = Arc::new(MpscRing::new(64).unwrap());
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let r = Arc::clone(&r);
                std::thread::spawn(move || {
                    for i in 0..PER {
                        let mut v = (p << 32) | i;
                        let deadline =
                            std::time::Instant::now() + std::time::Duration::from_secs(60);
                        loop {
                            match r.push(v) {
                                Ok(()) => break,
                                Err(back) => {
                                    v = back;
                                    assert!(std::time::Instant::now() < deadline, "stuck");
                                    std::thread::yield_now();
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        let mut next = [0u64; PRODUCERS as usize];
        let mut got = 0;
        let mut buf = Vec::with_capacity(64);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while got < PRODUCERS * PER {
            buf.clear();
            if r.pop_many(&mut buf, 64) == 0 {
                assert!(std::time::Instant::now() < deadline, "consumer stuck");
                std::thread::yield_now();
            }
            for &v in &buf {
                let p = (v >> 32) as usize;
                assert_eq!(v & 0xFFFF_FFFF, next[p], "producer {p} out of order");
                next[p] += 1;
                got += 1;
            }
        }
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(r.pop(), None);
        assert!(next.iter().all(|&n| n == PER));
    }
}
