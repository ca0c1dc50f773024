//! Target `record_ring`: a kind-2 ring (`RecordRing`, the format of fixed records) attached
//! over fuzzed memory, then fuzzed reserve/commit, push, peek/release and pop calls
//! interleaved with a hostile peer's writes.
//!
//! Must hold: no panic, nothing outside the region touched, only documented errors; on a
//! fresh ring no peer touched, reservations, peeks and pops agree with an exact model.

use crate::setup::{self, Origin, Region};
use arbitrary::{Result, Unstructured};
use std::collections::VecDeque;
use zerosock_ring::{layout, RecordConsumer, RecordProducer, RecordRing, RingError};

/// Calls per input at most.
const MAX_OPS: usize = 256;

/// Exact model of a kind-2 ring.
struct Model {
    capacity: u32,
    rs: u32,
    head: u32,
    tail: u32,
    queue: VecDeque<u32>,
}

impl Model {
    /// Records a reservation of up to `n` at position `tail` gets.
    fn reservable(&self, tail: u32, n: usize) -> u32 {
        let off = tail & (self.capacity - 1);
        let slots = (self.capacity / self.rs) as usize;
        let want = (n.min(slots) as u32 * self.rs).min(self.capacity - off);
        let free = self.capacity - tail.wrapping_sub(self.head);
        want.min(free) / self.rs
    }

    /// Records a peek of up to `max` gets at position `head`.
    fn peekable(&self, head: u32, max: usize) -> u32 {
        let off = head & (self.capacity - 1);
        let slots = (self.capacity / self.rs) as usize;
        let want = (max.min(slots) as u32 * self.rs).min(self.capacity - off);
        self.tail.wrapping_sub(head).min(want) / self.rs
    }
}

/// Record bytes are a function of a sequence number.
fn record(seq: u32, rs: usize) -> Vec<u8> {
    (0..rs)
        .map(|i| (seq.wrapping_mul(97).wrapping_add(i as u32 * 13)) as u8)
        .collect()
}

/// A record size for `capacity`: usually valid (a power of two from 4 to the capacity).
fn record_size_for(u: &mut Unstructured<'_>, capacity: usize) -> Result<u32> {
    let max_log = capacity.trailing_zeros();
    let valid = 1u32 << u.int_in_range(2..=max_log)?;
    setup::mostly(u, valid)
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let _ = run_inner(&mut Unstructured::new(data));
}

fn run_inner(u: &mut Unstructured<'_>) -> Result<()> {
    let r = setup::region(u, layout::KIND_RECORDS, record_size_for)?;
    let Some(ring) = attach(&r) else {
        return Ok(());
    };
    let rs = ring.record_size();
    assert!(rs >= 4 && rs.is_multiple_of(4) && ring.capacity().is_multiple_of(rs));
    assert_eq!(ring.slots(), ring.capacity() / rs);
    let (mut p, mut c) = ring.split();
    let mut model = (r.origin == Origin::Fresh).then(|| Model {
        capacity: r.capacity as u32,
        rs: rs as u32,
        head: 0,
        tail: 0,
        queue: VecDeque::new(),
    });
    let mut seq = 0u32;
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0u8..=9)? {
            0 => {
                let n = u.int_in_range(0usize..=p.slots() + 2)?;
                let k = u.int_in_range(0usize..=n)?;
                reserve(&mut p, &mut model, &mut seq, n, k);
            }
            1 | 2 => {
                let wrong = u.ratio(1u8, 8u8)?;
                let len = if wrong {
                    u.int_in_range(0..=2 * rs)?
                } else {
                    rs
                };
                seq += 1;
                push(&mut p, &mut model, seq, len);
            }
            3 => {
                let n = u.int_in_range(0usize..=p.slots() + 2)?;
                let extra = if u.ratio(1u8, 8u8)? {
                    u.int_in_range(1..=rs.max(2) - 1)?
                } else {
                    0
                };
                push_batch(&mut p, &mut model, &mut seq, n, extra);
            }
            4 => {
                let max = u.int_in_range(0usize..=p.slots() + 2)?;
                let k = u.int_in_range(0usize..=max)?;
                peek(&mut c, &mut model, max, k);
            }
            5 | 6 => match c.pop_with(|b| b.to_vec()) {
                Ok(got) => {
                    if let (None, Some(m)) = (&got, &model) {
                        assert!(m.queue.is_empty(), "pop found nothing, model has records");
                    }
                    check_pops(&mut model, rs, got.as_slice())
                }
                Err(e) => fail(&mut model, &e),
            },
            7 => {
                let max = u.int_in_range(0usize..=p.slots() + 2)?;
                let mut got = Vec::new();
                match c.pop_many(max, |b| got.push(b.to_vec())) {
                    Ok(n) => {
                        assert_eq!(n, got.len());
                        assert!(n <= max);
                        if let Some(m) = &model {
                            assert_eq!(n, m.queue.len().min(max), "pop_many count");
                        }
                        check_pops(&mut model, rs, &got);
                    }
                    Err(e) => {
                        check_pops(&mut model, rs, &got);
                        fail(&mut model, &e);
                    }
                }
            }
            8 => {
                let mut out = Vec::new();
                match c.pop_into(&mut out) {
                    Ok(true) => check_pops(&mut model, rs, &[out]),
                    Ok(false) => {
                        if let Some(m) = &model {
                            assert!(m.queue.is_empty(), "pop_into found nothing");
                        }
                    }
                    Err(e) => fail(&mut model, &e),
                }
                match p.used_records() {
                    Ok(n) => {
                        assert!(n <= p.slots());
                        if let Some(m) = &model {
                            assert_eq!(n, m.queue.len());
                        }
                    }
                    Err(e) => fail(&mut model, &e),
                }
                if let Ok(true) = c.prepare_wait() {
                    c.finish_wait();
                }
                let _ = p.should_notify();
            }
            _ => {
                setup::corrupt(u, &r)?;
                model = None;
            }
        }
    }
    Ok(())
}

fn attach(r: &Region) -> Option<RecordRing> {
    // SAFETY: `shift + len` stays inside `mem`, which outlives the ring (dropped at the end of
    // `run_inner`, after the ring halves); only this thread uses the memory.
    let ptr = unsafe { r.mem.ptr().add(r.shift) };
    if r.origin == Origin::Fresh {
        // SAFETY: as above.
        let ring = unsafe { RecordRing::init_at(ptr, r.len, r.capacity, r.record_size as usize) };
        return match ring {
            Ok(ring) => Some(ring),
            Err(RingError::RecordSize { .. }) => {
                assert!(!layout::is_valid_record_size(
                    r.capacity,
                    r.record_size as usize
                ));
                None
            }
            Err(e) => panic!("init_at on good memory: {e:?}"),
        };
    }
    // SAFETY: as above.
    match unsafe { RecordRing::attach(ptr, r.len) } {
        Ok(ring) => {
            assert!(
                r.shift.is_multiple_of(4),
                "attached at a misaligned address"
            );
            assert!(
                r.len >= ring.region_len(),
                "attached over too little memory"
            );
            Some(ring)
        }
        Err(e) => {
            assert!(
                matches!(e, RingError::BadHeader { .. } | RingError::BadMemory { .. }),
                "attach failed with {e:?}"
            );
            None
        }
    }
}

fn reserve(p: &mut RecordProducer, model: &mut Option<Model>, seq: &mut u32, n: usize, k: usize) {
    let rs = p.record_size();
    match p.reserve(n) {
        Ok(mut r) => {
            let got = r.len();
            assert!(got <= n);
            assert_eq!(r.bytes_mut().len(), got * rs);
            if let Some(m) = model {
                assert_eq!(got as u32, m.reservable(m.tail, n), "reserve({n})");
            }
            let k = k.min(got);
            for i in 0..got {
                r.record_mut(i)
                    .copy_from_slice(&record(*seq + 1 + i as u32, rs));
            }
            r.commit(k);
            if let Some(m) = model {
                for i in 0..k {
                    m.queue.push_back(*seq + 1 + i as u32);
                }
                m.tail = m.tail.wrapping_add((k * rs) as u32);
            }
            *seq += got as u32;
        }
        Err(e) => fail(model, &e),
    }
}

fn push(p: &mut RecordProducer, model: &mut Option<Model>, seq: u32, len: usize) {
    let rs = p.record_size();
    let mut bytes = record(seq, rs);
    bytes.resize(len, 0xAB);
    match p.push(&bytes) {
        Ok(pushed) => {
            assert_eq!(len, rs);
            if let Some(m) = model {
                assert_eq!(pushed, m.reservable(m.tail, 1) == 1, "push fits?");
                if pushed {
                    m.queue.push_back(seq);
                    m.tail = m.tail.wrapping_add(rs as u32);
                }
            }
        }
        Err(RingError::RecordSize { expected, got }) => {
            assert_eq!((expected, got), (rs, len));
            assert_ne!(len, rs);
        }
        Err(e) => fail(model, &e),
    }
}

fn push_batch(
    p: &mut RecordProducer,
    model: &mut Option<Model>,
    seq: &mut u32,
    n: usize,
    extra: usize,
) {
    let rs = p.record_size();
    let mut bytes = Vec::with_capacity(n * rs + extra);
    for i in 0..n {
        bytes.extend_from_slice(&record(*seq + 1 + i as u32, rs));
    }
    bytes.resize(n * rs + extra, 0xCD);
    match p.push_batch(&bytes) {
        Ok(done) => {
            assert_eq!(extra, 0);
            assert!(done <= n);
            if let Some(m) = model {
                let mut tail = m.tail;
                let mut k = 0;
                for _ in 0..2 {
                    if k == n {
                        break;
                    }
                    let got = m.reservable(tail, n - k) as usize;
                    if got == 0 {
                        break;
                    }
                    tail = tail.wrapping_add((got * rs) as u32);
                    k += got;
                }
                assert_eq!(done, k, "push_batch({n})");
                for i in 0..done {
                    m.queue.push_back(*seq + 1 + i as u32);
                }
                m.tail = tail;
            }
            *seq += n as u32;
        }
        Err(RingError::RecordSize { .. }) => assert_ne!(extra, 0),
        Err(e) => fail(model, &e),
    }
}

fn peek(c: &mut RecordConsumer, model: &mut Option<Model>, max: usize, k: usize) {
    let rs = c.record_size();
    let result = c.peek(max);
    match result {
        Ok(pk) => {
            let got = pk.len();
            assert!(got <= max);
            assert_eq!(pk.bytes().len(), got * rs);
            let k = k.min(got);
            let taken: Vec<Vec<u8>> = (0..k).map(|i| pk.record(i).to_vec()).collect();
            if let Some(m) = model.as_ref() {
                assert_eq!(got as u32, m.peekable(m.head, max), "peek({max})");
            }
            pk.release(k);
            check_pops(model, rs, &taken);
        }
        Err(e) => fail(model, &e),
    }
}

/// Checks popped records against the model's queue front (and the model's positions).
fn check_pops(model: &mut Option<Model>, rs: usize, got: &[Vec<u8>]) {
    for r in got {
        assert_eq!(r.len(), rs);
    }
    let Some(m) = model else {
        return;
    };
    for r in got {
        let seq = m
            .queue
            .pop_front()
            .expect("popped a record the model does not have");
        assert_eq!(r, &record(seq, rs), "record {seq} corrupted");
        m.head = m.head.wrapping_add(rs as u32);
    }
}

/// Only `Corrupt`, and only after a peer broke the ring.
fn fail(model: &mut Option<Model>, e: &RingError) {
    assert!(
        matches!(e, RingError::Corrupt { .. }),
        "unexpected error {e:?}"
    );
    assert!(model.is_none(), "{e:?} on a ring nobody corrupted");
}
