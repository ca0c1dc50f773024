//! Copy-break on the receive path.

mod common;

use common::pool;
use zerosock_pool::{copy_break, CopyBreak, Pool, PoolConfig, LARGE_CLASS, SMALL_CLASS};

#[test]
fn small_reads_move_to_a_small_buffer() {
    let pool = Pool::new(PoolConfig::default()).unwrap();
    let local = pool.local();
    let big = local.acquire(LARGE_CLASS).unwrap();
    // SAFETY: we hold `big` and make no other reference to its bytes.
    let recv = unsafe { pool.slice_mut(big).unwrap() };
    for (i, b) in recv[..300].iter_mut().enumerate() {
        *b = i as u8;
    }
    let threshold = pool.class_size(SMALL_CLASS).unwrap();
    let CopyBreak::Copied { handle, len } = copy_break(&local, &recv[..300], threshold).unwrap()
    else {
        panic!("300 bytes should be copied");
    };
    assert_eq!(handle.class(), SMALL_CLASS);
    assert_eq!(len, 300);
    // The large buffer can go back at once; the copy stays intact.
    local.release(big).unwrap();
    // SAFETY: we hold `handle`.
    let small = unsafe { pool.slice_mut(handle).unwrap() };
    assert!(small[..300].iter().enumerate().all(|(i, &b)| b == i as u8));
    local.release(handle).unwrap();
}

#[test]
fn large_reads_and_empty_classes_keep_the_receive_buffer() {
    let pool = Pool::new(PoolConfig::default()).unwrap();
    let local = pool.local();
    let data = vec![7u8; 4096];
    assert_eq!(copy_break(&local, &data, 2048).unwrap(), CopyBreak::Keep);
    assert_eq!(
        copy_break(&local, &data[..2048], 2048).unwrap(),
        CopyBreak::Keep
    );
    // Threshold above every class size: nothing can hold 70 000 bytes.
    let huge = vec![1u8; 70_000];
    assert_eq!(copy_break(&local, &huge, 1 << 20).unwrap(), CopyBreak::Keep);
    assert_eq!(pool.stats().acquired, 0);
}

#[test]
fn exhausted_small_class_keeps_instead_of_failing() {
    let pool = pool(&[(64, 1, Some(1)), (4096, 2, None)]);
    let local = pool.local();
    let first = copy_break(&local, b"hello", 64).unwrap();
    assert!(matches!(first, CopyBreak::Copied { len: 5, .. }));
    assert_eq!(copy_break(&local, b"world", 64).unwrap(), CopyBreak::Keep);
    // Between the classes: copied into the second class.
    let mid = vec![3u8; 100];
    let CopyBreak::Copied { handle, .. } = copy_break(&local, &mid, 4096).unwrap() else {
        panic!("100 bytes fit class 1");
    };
    assert_eq!(handle.class(), 1);
}
