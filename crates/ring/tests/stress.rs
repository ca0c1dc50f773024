//! Two-thread stress tests: one producer thread, one consumer thread, every
//! message checked (sequence number + content derived from it + running checksum).
//!
//! Message count: `ZEROSOCK_RING_STRESS` env var, default 1 000 000 (20 000 under
//! miri). Every wait loop is bounded by a deadline.
#![cfg(not(loom))]

use std::time::{Duration, Instant};
use zerosock_ring::{ByteRing, RecordRing};

fn count() -> u64 {
    let default = if cfg!(miri) { 20_000 } else { 1_000_000 };
    std::env::var("ZEROSOCK_RING_STRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const DEADLINE: Duration = Duration::from_secs(300);

/// xorshift64*: deterministic per-message randomness.
fn mix(seq: u64) -> u64 {
    let mut x = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Message `seq`: mostly small, sometimes up to `max` bytes; starts with the
/// sequence number when long enough, the rest is derived from `seq`.
fn message(seq: u64, max: usize, buf: &mut Vec<u8>) {
    let r = mix(seq);
    let len = if r.is_multiple_of(16) {
        (r >> 8) as usize % (max + 1)
    } else {
        (r >> 8) as usize % 80
    };
    buf.clear();
    buf.extend((0..len).map(|i| (r >> (i % 8 * 8)) as u8 ^ i as u8));
    if len >= 8 {
        buf[..8].copy_from_slice(&seq.to_le_bytes());
    }
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
    }
    h
}

#[test]
fn byte_ring_two_threads_every_message_intact() {
    let n = count();
    let (mut p, mut c) = ByteRing::new(4096).unwrap().split();
    let max = p.max_message_len();
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        let mut sum = 0xCBF2_9CE4_8422_2325u64;
        let mut seq = 0u64;
        let mut batch: Vec<Vec<u8>> = Vec::new();
        while seq < n {
            assert!(start.elapsed() < DEADLINE, "producer stuck at {seq}");
            let k = (mix(seq ^ 0xABCD) % 16 + 1).min(n - seq) as usize;
            if k == 1 {
                let mut m = Vec::new();
                message(seq, max, &mut m);
                if p.push(&m).unwrap() {
                    sum = fnv(sum, &m);
                    seq += 1;
                } else {
                    std::thread::yield_now();
                }
                continue;
            }
            batch.resize_with(k, Vec::new);
            for (i, m) in batch.iter_mut().enumerate() {
                message(seq + i as u64, max, m);
            }
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            let pushed = p.push_batch(&refs).unwrap();
            for m in &batch[..pushed] {
                sum = fnv(sum, m);
            }
            seq += pushed as u64;
            if pushed < k {
                std::thread::yield_now();
            }
        }
        sum
    });
    let mut sum = 0xCBF2_9CE4_8422_2325u64;
    let mut seq = 0u64;
    let mut want = Vec::new();
    let mut out = Vec::new();
    while seq < n {
        assert!(start.elapsed() < DEADLINE, "consumer stuck at {seq}");
        let got = match seq % 3 {
            0 => c
                .pop_many(32, |m| {
                    message(seq, max, &mut want);
                    assert_eq!(m, want.as_slice(), "message {seq}");
                    sum = fnv(sum, m);
                    seq += 1;
                })
                .unwrap(),
            1 => match c.pop_into(&mut out).unwrap() {
                Some(len) => {
                    message(seq, max, &mut want);
                    assert_eq!((len, &out), (want.len(), &want), "message {seq}");
                    sum = fnv(sum, &out);
                    seq += 1;
                    1
                }
                None => 0,
            },
            _ => c
                .pop_with(|m| {
                    message(seq, max, &mut want);
                    assert_eq!(m, want.as_slice(), "message {seq}");
                    sum = fnv(sum, m);
                    seq += 1;
                })
                .unwrap()
                .map_or(0, |()| 1),
        };
        if got == 0 {
            std::thread::yield_now();
        }
    }
    assert_eq!(producer.join().unwrap(), sum, "checksums differ");
    assert_eq!(c.pop_into(&mut out), Ok(None));
    eprintln!("byte ring: {n} messages in {:?}", start.elapsed());
}

#[test]
fn record_ring_two_threads_reserve_commit_peek_release() {
    let n = count();
    let (mut p, mut c) = RecordRing::new(4096, 16).unwrap().split();
    let record = |seq: u64| {
        let mut r = [0u8; 16];
        r[..8].copy_from_slice(&seq.to_le_bytes());
        r[8..].copy_from_slice(&mix(seq).to_le_bytes());
        r
    };
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        let mut seq = 0u64;
        while seq < n {
            assert!(start.elapsed() < DEADLINE, "producer stuck at {seq}");
            let want = (mix(seq) % 64 + 1).min(n - seq) as usize;
            let mut res = p.reserve(want).unwrap();
            if res.is_empty() {
                std::thread::yield_now();
                continue;
            }
            // Commit a prefix sometimes, to exercise k < reserved.
            let k = if mix(seq ^ 1).is_multiple_of(4) {
                res.len().div_ceil(2)
            } else {
                res.len()
            };
            for i in 0..res.len() {
                let r = record(seq + i as u64);
                res.record_mut(i).copy_from_slice(&r);
            }
            res.commit(k);
            seq += k as u64;
        }
    });
    let mut seq = 0u64;
    while seq < n {
        assert!(start.elapsed() < DEADLINE, "consumer stuck at {seq}");
        let got = if seq.is_multiple_of(2) {
            let peek = c.peek(48).unwrap();
            let len = peek.len();
            for i in 0..len {
                assert_eq!(
                    peek.record(i),
                    record(seq + i as u64),
                    "record {}",
                    seq + i as u64
                );
            }
            // Release all or a prefix.
            let k = if mix(seq).is_multiple_of(3) {
                len / 2
            } else {
                len
            };
            peek.release(k);
            k
        } else {
            let mut i = 0;
            c.pop_many(100, |r| {
                assert_eq!(r, record(seq + i), "record {}", seq + i);
                i += 1;
            })
            .unwrap()
        };
        seq += got as u64;
        if got == 0 {
            std::thread::yield_now();
        }
    }
    producer.join().unwrap();
    assert!(c.peek(1).unwrap().is_empty());
    eprintln!("record ring: {n} records in {:?}", start.elapsed());
}
