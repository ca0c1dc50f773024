//! Kind-1 byte-message ring: round trips, full/empty, wrap, limits, batches, waiting.
#![cfg(not(loom))]

use zerosock_ring::layout::{DATA_OFFSET, OFF_CONSUMER_WAITING, WRAP_MARKER};
use zerosock_ring::{ByteRing, RingError};

fn read_u32(ring_ptr: *mut u8, off: usize) -> u32 {
    // SAFETY: test-only read of a live ring's region while no half is active.
    unsafe { ring_ptr.add(off).cast::<u32>().read_unaligned() }
}

#[test]
fn rejects_bad_capacities() {
    for c in [0, 1, 32, 63, 65, 100, 3 << 10, (1 << 30) * 2] {
        let e = ByteRing::new(c).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_CAPACITY", "capacity {c}");
        assert!(e.to_string().starts_with("ERR_ZEROSOCK_RING_CAPACITY"));
    }
    assert_eq!(ByteRing::new(64).unwrap().capacity(), 64);
}

#[test]
fn round_trips_every_length_up_to_max() {
    let (mut p, mut c) = ByteRing::new(64).unwrap().split();
    assert_eq!(p.max_message_len(), 28);
    let mut out = Vec::new();
    for len in 0..=28usize {
        let msg: Vec<u8> = (0..len as u8).map(|i| i ^ len as u8).collect();
        assert_eq!(p.push(&msg), Ok(true));
        assert_eq!(c.pop_into(&mut out), Ok(Some(len)));
        assert_eq!(out, msg);
        assert_eq!(c.pop_into(&mut out), Ok(None));
    }
}

#[test]
fn too_large_message_is_an_error_not_a_hang() {
    let (mut p, mut c) = ByteRing::new(64).unwrap().split();
    let e = p.push(&[0; 29]).unwrap_err();
    assert_eq!(e, RingError::MessageTooLarge { len: 29, max: 28 });
    assert_eq!(e.code(), "ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE");
    let e = p
        .push_with(1 << 20, |_| panic!("must not fill"))
        .unwrap_err();
    assert_eq!(e.code(), "ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE");
    assert_eq!(c.pop_into(&mut Vec::new()), Ok(None));
}

#[test]
fn full_then_empty_in_order() {
    let (mut p, mut c) = ByteRing::new(64).unwrap().split();
    // 5-byte messages take 4 + 8 = 12 bytes: 5 fit in 64 bytes.
    let mut n = 0u8;
    while p.push(&[n; 5]).unwrap() {
        n += 1;
        assert!(n < 10);
    }
    assert_eq!(n, 5);
    assert_eq!(p.used_bytes(), Ok(60));
    assert!(!p
        .push_with(5, |_| panic!("full: fill must not run"))
        .unwrap());
    for i in 0..5 {
        assert_eq!(c.pop_with(|m| m.to_vec()), Ok(Some(vec![i; 5])));
    }
    assert_eq!(c.pop_with(|m| m.len()), Ok(None));
    assert_eq!(p.used_bytes(), Ok(0));
}

#[test]
fn wraps_with_marker_and_continues_at_zero() {
    let ring = ByteRing::new(64).unwrap();
    let base = ring.as_ptr();
    let (mut p, mut c) = ring.split();
    let mut out = Vec::new();
    // Two 20-byte messages (footprint 24 each): tail = 48.
    assert!(p.push(&[1; 20]).unwrap());
    assert!(p.push(&[2; 20]).unwrap());
    assert_eq!(c.pop_into(&mut out), Ok(Some(20)));
    assert_eq!(c.pop_into(&mut out), Ok(Some(20)));
    // 16 bytes left to the end < 24: marker at 48, message at 0.
    assert!(p.push(&[3; 20]).unwrap());
    assert_eq!(read_u32(base, DATA_OFFSET + 48), WRAP_MARKER);
    assert_eq!(read_u32(base, DATA_OFFSET), 20);
    assert_eq!(p.used_bytes(), Ok(40));
    assert_eq!(c.pop_into(&mut out), Ok(Some(20)));
    assert_eq!(out, [3; 20]);
    assert_eq!(c.pop_into(&mut out), Ok(None));
}

#[test]
fn max_message_fits_an_empty_ring_at_every_offset() {
    let (mut p, mut c) = ByteRing::new(64).unwrap().split();
    let big: Vec<u8> = (0..28).collect();
    let mut out = Vec::new();
    for shift in 0..40 {
        // Advance both positions by 4 bytes (an empty message).
        assert!(p.push(&[]).unwrap());
        assert_eq!(c.pop_into(&mut out), Ok(Some(0)));
        assert!(
            p.push(&big).unwrap(),
            "max message refused at shift {shift}"
        );
        assert_eq!(c.pop_into(&mut out), Ok(Some(28)));
        assert_eq!(out, big);
    }
}

#[test]
fn mixed_sizes_many_laps() {
    let (mut p, mut c) = ByteRing::new(128).unwrap().split();
    let mut out = Vec::new();
    let (mut sent, mut got) = (0u32, 0u32);
    for _ in 0..5_000 {
        loop {
            let len = (sent * 7 % 61) as usize;
            let msg = vec![sent as u8; len];
            if !p.push(&msg).unwrap() {
                break;
            }
            sent += 1;
        }
        for _ in 0..3 {
            match c.pop_into(&mut out).unwrap() {
                Some(len) => {
                    assert_eq!(len, (got * 7 % 61) as usize);
                    assert!(out.iter().all(|&b| b == got as u8));
                    got += 1;
                }
                None => break,
            }
        }
    }
    assert!(sent > 10_000);
    while c.pop_into(&mut out).unwrap().is_some() {
        got += 1;
    }
    assert_eq!(got, sent);
}

#[test]
fn push_batch_pushes_what_fits_and_validates_first() {
    let (mut p, mut c) = ByteRing::new(64).unwrap().split();
    let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 8]).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    // 12 bytes each: 5 fit.
    assert_eq!(p.push_batch(&refs), Ok(5));
    let e = p.push_batch(&[&[1; 4], &[0; 29]]).unwrap_err();
    assert_eq!(e.code(), "ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE");
    let mut seen = Vec::new();
    assert_eq!(c.pop_many(3, |m| seen.push(m.to_vec())), Ok(3));
    assert_eq!(c.pop_many(10, |m| seen.push(m.to_vec())), Ok(2));
    assert_eq!(seen, msgs[..5]);
    // Batch across the wrap point.
    assert_eq!(p.push_batch(&refs[5..]), Ok(3));
    seen.clear();
    assert_eq!(c.pop_many(10, |m| seen.push(m.to_vec())), Ok(3));
    assert_eq!(seen, msgs[5..]);
    assert_eq!(p.push_batch(&[]), Ok(0));
}

#[test]
fn push_with_writes_in_place() {
    let (mut p, mut c) = ByteRing::new(256).unwrap().split();
    assert!(p
        .push_with(10, |dst| {
            assert_eq!(dst.len(), 10);
            dst.copy_from_slice(b"0123456789")
        })
        .unwrap());
    assert_eq!(c.pop_with(|m| m == b"0123456789"), Ok(Some(true)));
}

#[test]
fn consumer_waiting_protocol() {
    let ring = ByteRing::new(64).unwrap();
    let base = ring.as_ptr();
    let (mut p, mut c) = ring.split();
    assert!(!p.should_notify());
    assert_eq!(c.prepare_wait(), Ok(true));
    assert_eq!(read_u32(base, OFF_CONSUMER_WAITING), 1);
    let before = c.observed_tail();
    assert!(p.push(b"wake").unwrap());
    assert!(p.should_notify(), "producer must see the sleeping consumer");
    assert!(!p.should_notify(), "notify once per sleep");
    assert_eq!(read_u32(base, OFF_CONSUMER_WAITING), 0);
    c.finish_wait();
    assert_eq!(c.prepare_wait(), Ok(false), "data present: don't sleep");
    assert_ne!(c.observed_tail(), before);
    assert_eq!(read_u32(base, OFF_CONSUMER_WAITING), 0);
    assert!(!p.should_notify());
    assert_eq!(c.pop_with(|m| m == b"wake"), Ok(Some(true)));
}

#[test]
fn halves_are_send() {
    fn is_send<T: Send>() {}
    is_send::<zerosock_ring::ByteProducer>();
    is_send::<zerosock_ring::ByteConsumer>();
    is_send::<ByteRing>();
    is_send::<zerosock_ring::RecordProducer>();
    is_send::<zerosock_ring::RecordConsumer>();
    is_send::<zerosock_ring::RecordRing>();
}
