//! Target `byte_ring`: a kind-1 ring (`ByteRing`) attached over fuzzed memory, then a fuzzed
//! sequence of producer and consumer calls interleaved with a hostile peer's writes.
//!
//! Must hold for every input: no panic, no access outside the region (valgrind checks the
//! driver), errors only of the documented kinds. For a freshly initialised ring that no peer
//! touched, an exact model of the layout must agree with every result: which pushes fit,
//! what each pop returns, the used byte count.

use crate::setup::{self, Origin, Region};
use arbitrary::{Result, Unstructured};
use std::collections::VecDeque;
use zerosock_ring::{layout, ByteConsumer, ByteProducer, ByteRing, RingError};

/// Calls per input at most.
const MAX_OPS: usize = 256;

/// Exact model of a kind-1 ring: positions and the queued messages.
struct Model {
    capacity: u32,
    head: u32,
    tail: u32,
    /// (sequence number, length, position after the message).
    queue: VecDeque<(u32, usize, u32)>,
}

impl Model {
    /// Position after pushing `len` bytes, or None when it does not fit.
    fn place(&self, tail: u32, len: usize) -> Option<u32> {
        let cap = self.capacity;
        let total = layout::message_footprint(len) as u32;
        let off = tail & (cap - 1);
        let to_end = cap - off;
        let need = if total <= to_end {
            total
        } else {
            to_end + total
        };
        let free = cap - tail.wrapping_sub(self.head);
        (need <= free).then(|| tail.wrapping_add(need))
    }
}

/// Message bytes are a function of a sequence number, so a pop can be checked.
fn message(seq: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq.wrapping_mul(131).wrapping_add(i as u32 * 7)) as u8)
        .collect()
}

fn corrupt_only(e: &RingError) {
    assert!(
        matches!(e, RingError::Corrupt { .. }),
        "unexpected error {e:?} ({})",
        e.code()
    );
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let _ = run_inner(&mut Unstructured::new(data));
}

fn run_inner(u: &mut Unstructured<'_>) -> Result<()> {
    let r = setup::region(u, layout::KIND_BYTES, |_, _| Ok(0))?;
    let ring = match attach(u, &r)? {
        Some(ring) => ring,
        None => return Ok(()),
    };
    if r.origin == Origin::Fresh {
        assert_eq!(ring.capacity(), r.capacity);
    }
    let max = ring.max_message_len();
    assert_eq!(max, layout::max_message_len(ring.capacity()));
    let (mut p, mut c) = ring.split();
    let mut model = (r.origin == Origin::Fresh).then(|| Model {
        capacity: p.capacity() as u32,
        head: 0,
        tail: 0,
        queue: VecDeque::new(),
    });
    let mut seq = 0u32;
    let trace = std::env::var_os("ZEROSOCK_FUZZ_TRACE").is_some();
    let t0 = std::time::Instant::now();
    if trace {
        eprintln!(
            "origin {:?} capacity {} shift {} len {}",
            r.origin,
            p.capacity(),
            r.shift,
            r.len
        );
    }
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let op = u.int_in_range(0u8..=8)?;
        if trace {
            eprintln!(
                "{:?} op {op} head {} tail {}",
                t0.elapsed(),
                r.mem.load_header(layout::OFF_HEAD),
                r.mem.load_header(layout::OFF_TAIL)
            );
        }
        match op {
            0 | 1 => {
                let len = pick_len(u, max)?;
                seq += 1;
                push_one(&mut p, &mut model, seq, len, max);
            }
            2 => {
                let n = u.int_in_range(0usize..=6)?;
                let lens = (0..n)
                    .map(|_| pick_len(u, max))
                    .collect::<Result<Vec<_>>>()?;
                push_batch(&mut p, &mut model, &mut seq, &lens, max);
            }
            3 | 4 => pop_one(&mut c, &mut model),
            5 => {
                let n = u.int_in_range(0usize..=8)?;
                pop_many(&mut c, &mut model, n);
            }
            6 => {
                let mut out = Vec::new();
                match c.pop_into(&mut out) {
                    Ok(got) => check_pop(&mut model, got.map(|n| (n, out.as_slice()))),
                    Err(e) => fail(&mut model, &e),
                }
            }
            7 => {
                match p.used_bytes() {
                    Ok(used) => {
                        assert!(used <= p.capacity());
                        if let Some(m) = &model {
                            assert_eq!(used as u32, m.tail.wrapping_sub(m.head));
                        }
                    }
                    Err(e) => fail(&mut model, &e),
                }
                match c.prepare_wait() {
                    Ok(sleep) => {
                        if let Some(m) = &model {
                            assert_eq!(sleep, m.queue.is_empty());
                        }
                        c.finish_wait();
                    }
                    Err(e) => fail(&mut model, &e),
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

/// Attaches (or initialises, for a fresh region) as the fuzzer decided; checks that a
/// refusal is of the right kind.
fn attach(u: &mut Unstructured<'_>, r: &Region) -> Result<Option<ByteRing>> {
    // SAFETY: `shift + len` stays inside `mem`, which outlives the ring (both live until the
    // end of `run_inner`, the ring dropped first); only this thread uses the memory.
    let ptr = unsafe { r.mem.ptr().add(r.shift) };
    if r.origin == Origin::Fresh {
        // SAFETY: as above.
        let ring = unsafe { ByteRing::init_at(ptr, r.len, r.capacity) };
        return Ok(Some(ring.expect("init_at on good memory")));
    }
    let _ = u;
    // SAFETY: as above.
    match unsafe { ByteRing::attach(ptr, r.len) } {
        Ok(ring) => {
            assert!(
                r.shift.is_multiple_of(4),
                "attached at a misaligned address"
            );
            assert!(
                r.len >= ring.region_len(),
                "attached over too little memory"
            );
            Ok(Some(ring))
        }
        Err(e) => {
            assert!(
                matches!(e, RingError::BadHeader { .. } | RingError::BadMemory { .. }),
                "attach failed with {e:?}"
            );
            Ok(None)
        }
    }
}

fn pick_len(u: &mut Unstructured<'_>, max: usize) -> Result<usize> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 => 0,
        1 => u.int_in_range(1..=16)?,
        2 => u.int_in_range(0..=max)?,
        3 => max,
        4 => max + u.int_in_range(1..=8)?,
        _ => u.int_in_range(0..=max / 4)?,
    })
}

fn push_one(p: &mut ByteProducer, model: &mut Option<Model>, seq: u32, len: usize, max: usize) {
    let msg = message(seq, len);
    match p.push(&msg) {
        Ok(pushed) => {
            assert!(len <= max, "pushed {len} > max {max}");
            if let Some(m) = model {
                let at = m.place(m.tail, len);
                assert_eq!(pushed, at.is_some(), "push({len}) fits?");
                if let Some(next) = at {
                    m.tail = next;
                    m.queue.push_back((seq, len, next));
                }
            }
        }
        Err(RingError::MessageTooLarge { len: l, max: mx }) => {
            assert_eq!((l, mx), (len, max));
            assert!(len > max);
        }
        Err(e) => fail(model, &e),
    }
}

fn push_batch(
    p: &mut ByteProducer,
    model: &mut Option<Model>,
    seq: &mut u32,
    lens: &[usize],
    max: usize,
) {
    let first = *seq + 1;
    let msgs: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &len)| message(first + i as u32, len))
        .collect();
    *seq += lens.len() as u32;
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    match p.push_batch(&refs) {
        Ok(n) => {
            assert!(lens.iter().all(|&l| l <= max));
            assert!(n <= lens.len());
            if let Some(m) = model {
                let mut tail = m.tail;
                let mut k = 0;
                for (i, &len) in lens.iter().enumerate() {
                    let Some(next) = m.place(tail, len) else {
                        break;
                    };
                    tail = next;
                    m.queue.push_back((first + i as u32, len, next));
                    k += 1;
                }
                assert_eq!(n, k, "push_batch count");
                m.tail = tail;
            }
        }
        Err(RingError::MessageTooLarge { .. }) => assert!(lens.iter().any(|&l| l > max)),
        Err(e) => fail(model, &e),
    }
}

fn pop_one(c: &mut ByteConsumer, model: &mut Option<Model>) {
    match c.pop_with(|m| m.to_vec()) {
        Ok(got) => check_pop(model, got.as_ref().map(|v| (v.len(), v.as_slice()))),
        Err(e) => fail(model, &e),
    }
}

fn pop_many(c: &mut ByteConsumer, model: &mut Option<Model>, n: usize) {
    let mut got = Vec::new();
    let result = c.pop_many(n, |m| got.push(m.to_vec()));
    for v in &got {
        check_pop(model, Some((v.len(), v.as_slice())));
    }
    match result {
        Ok(k) => {
            assert_eq!(k, got.len());
            assert!(k <= n);
            if let Some(m) = model {
                if k < n {
                    assert!(m.queue.is_empty(), "pop_many stopped early");
                }
            }
        }
        Err(e) => fail(model, &e),
    }
}

/// Checks one pop result against the model (if any) and the ring's limits.
fn check_pop(model: &mut Option<Model>, got: Option<(usize, &[u8])>) {
    if let Some((n, bytes)) = got {
        assert_eq!(n, bytes.len());
    }
    let Some(m) = model else {
        return;
    };
    match (got, m.queue.pop_front()) {
        (None, None) => {}
        (Some((_, bytes)), Some((seq, len, next))) => {
            assert_eq!(
                bytes,
                message(seq, len).as_slice(),
                "message {seq} corrupted"
            );
            m.head = next;
        }
        (got, want) => panic!(
            "pop returned {:?}, model expected {want:?}",
            got.map(|g| g.0)
        ),
    }
}

/// An error: only `Corrupt` is allowed, and only once a peer broke the ring.
fn fail(model: &mut Option<Model>, e: &RingError) {
    corrupt_only(e);
    assert!(
        model.is_none(),
        "{e:?} on a ring nobody corrupted (fresh, model-tracked)"
    );
}
