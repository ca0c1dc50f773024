//! Kind-2 fixed-record ring: reserve/commit, peek/release, batches, limits.
#![cfg(not(loom))]

use zerosock_ring::{RecordRing, RingError};

fn rec(i: u32) -> [u8; 8] {
    let mut r = [0; 8];
    r[..4].copy_from_slice(&i.to_le_bytes());
    r[4..].copy_from_slice(&(!i).to_le_bytes());
    r
}

#[test]
fn rejects_bad_record_sizes() {
    for rs in [0, 2, 3, 6, 12, 24, 128] {
        let e = RecordRing::new(64, rs).unwrap_err();
        assert_eq!(
            e.code(),
            "ERR_ZEROSOCK_RING_RECORD_SIZE",
            "record size {rs}"
        );
    }
    assert_eq!(
        RecordRing::new(48, 8).unwrap_err().code(),
        "ERR_ZEROSOCK_RING_CAPACITY"
    );
    let r = RecordRing::new(64, 64).unwrap();
    assert_eq!(r.slots(), 1);
}

#[test]
fn push_checks_length_and_reports_full() {
    let (mut p, mut c) = RecordRing::new(64, 8).unwrap().split();
    assert_eq!(
        p.push(&[0; 7]),
        Err(RingError::RecordSize {
            expected: 8,
            got: 7
        })
    );
    for i in 0..8 {
        assert_eq!(p.push(&rec(i)), Ok(true));
    }
    assert_eq!(p.push(&rec(8)), Ok(false));
    assert_eq!(p.used_records(), Ok(8));
    let mut out = Vec::new();
    for i in 0..8 {
        assert_eq!(c.pop_into(&mut out), Ok(true));
        assert_eq!(out, rec(i));
    }
    assert_eq!(c.pop_into(&mut out), Ok(false));
}

#[test]
fn reserve_commit_partial_and_contiguous_spans() {
    let (mut p, mut c) = RecordRing::new(64, 8).unwrap().split();
    let mut r = p.reserve(5).unwrap();
    assert_eq!(r.len(), 5);
    for i in 0..5 {
        r.record_mut(i).copy_from_slice(&rec(i as u32));
    }
    r.commit(3);
    // Uncommitted records 3 and 4 are not visible; the next reservation reuses them.
    let peek = c.peek(10).unwrap();
    assert_eq!(peek.len(), 3);
    assert_eq!(peek.record(2), rec(2));
    peek.release(2);
    let mut r = p.reserve(100).unwrap();
    // 8 slots, 1 in use: 7 free, but only 5 contiguous up to the end.
    assert_eq!(r.len(), 5);
    for i in 0..5 {
        r.record_mut(i).copy_from_slice(&rec(3 + i as u32));
    }
    r.commit(5);
    let mut r = p.reserve(100).unwrap();
    assert_eq!(r.len(), 2, "wrapped span: the 2 slots released so far");
    r.bytes_mut()[..8].copy_from_slice(&rec(8));
    r.bytes_mut()[8..].copy_from_slice(&rec(9));
    r.commit(2);
    assert!(p.reserve(1).unwrap().is_empty());
    let mut got = Vec::new();
    assert_eq!(c.pop_many(100, |r| got.push(r.to_vec())), Ok(8));
    let want: Vec<Vec<u8>> = (2..10).map(|i| rec(i).to_vec()).collect();
    assert_eq!(got, want);
}

#[test]
fn dropped_reservation_and_peek_change_nothing() {
    let (mut p, mut c) = RecordRing::new(64, 16).unwrap().split();
    {
        let mut r = p.reserve(2).unwrap();
        r.bytes_mut().fill(0xAA);
    }
    assert!(c.peek(4).unwrap().is_empty());
    assert!(p.push(&[7; 16]).unwrap());
    let _unreleased = c.peek(4).unwrap().len();
    assert_eq!(c.pop_with(|r| r.to_vec()), Ok(Some(vec![7; 16])));
    assert_eq!(c.pop_with(|r| r.len()), Ok(None));
}

#[test]
#[should_panic(expected = "commit 3 > reserved 2")]
fn committing_more_than_reserved_panics() {
    let (mut p, _c) = RecordRing::new(64, 32).unwrap().split();
    p.reserve(5).unwrap().commit(3);
}

#[test]
fn push_batch_spans_the_wrap_with_one_publish() {
    let (mut p, mut c) = RecordRing::new(64, 8).unwrap().split();
    let all: Vec<u8> = (0..12).flat_map(rec).collect();
    assert_eq!(p.push_batch(&all[..5 * 8]), Ok(5));
    assert_eq!(c.pop_many(5, |_| ()), Ok(5));
    // head = tail = 40: 3 slots to the end, 5 after the wrap.
    assert_eq!(p.push_batch(&all[5 * 8..]), Ok(7));
    let mut got = Vec::new();
    assert_eq!(c.pop_many(3, |r| got.extend_from_slice(r)), Ok(3));
    assert_eq!(c.pop_many(10, |r| got.extend_from_slice(r)), Ok(4));
    assert_eq!(got, all[5 * 8..]);
    assert_eq!(
        p.push_batch(&[0; 12]).unwrap_err().code(),
        "ERR_ZEROSOCK_RING_RECORD_SIZE"
    );
}

#[test]
fn pop_many_across_the_wrap_in_one_call() {
    let (mut p, mut c) = RecordRing::new(64, 8).unwrap().split();
    for lap in 0..50u32 {
        for i in 0..6 {
            assert!(p.push(&rec(lap * 6 + i)).unwrap());
        }
        let mut next = lap * 6;
        assert_eq!(
            c.pop_many(usize::MAX, |r| {
                assert_eq!(r, rec(next));
                next += 1;
            }),
            Ok(6)
        );
    }
}
