//! `Pool::hand_off` / `Pool::claim`: exactly-once pickup of a buffer handed
//! to another thread, and no pickup of buffers that were not handed off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use zerosock_pool::{BufHandle, Pool, PoolConfig, PoolError, SizeClass};

fn pool(count: u32) -> Pool {
    Pool::new(PoolConfig {
        classes: vec![SizeClass {
            size: 64,
            count,
            max_count: Some(count),
        }],
        populate: false,
    })
    .unwrap()
}

fn is_released(r: Result<(), PoolError>) -> bool {
    matches!(r, Err(PoolError::BufferReleased { .. }))
}

#[test]
fn claim_succeeds_once_per_hand_off() {
    let pool = pool(4);
    let local = pool.local();
    let h = local.acquire(0).unwrap();
    assert!(is_released(pool.claim(h)), "not handed off yet");
    pool.hand_off(h).unwrap();
    pool.hand_off(h).unwrap(); // idempotent
    pool.claim(h).unwrap();
    assert!(is_released(pool.claim(h)), "second claim must fail");
    // Still in use and releasable as usual; then every call refuses it.
    assert!(pool.ptr(h).is_ok());
    pool.hand_off(h).unwrap();
    local.release(h).unwrap();
    assert!(is_released(pool.claim(h)), "release cancels the hand-off");
    assert!(is_released(pool.hand_off(h)));
    // The next acquisition of the same buffer starts without the flag.
    let again = local.acquire(0).unwrap();
    assert_eq!(again.index(), h.index());
    assert!(is_released(pool.claim(again)));
    assert_eq!(pool.owner_of(again).unwrap(), local.owner_id());
}

#[test]
fn guessed_and_bad_handles_are_refused() {
    let pool = pool(4);
    let local = pool.local();
    let h = local.acquire(0).unwrap();
    let guessed = BufHandle::new(0, h.index(), h.generation());
    assert!(is_released(pool.claim(guessed)));
    let stale = BufHandle::new(0, h.index(), h.generation() + 1);
    assert!(is_released(pool.hand_off(stale)));
    for bad in [BufHandle::new(5, 0, 1), BufHandle::new(0, 1000, 1)] {
        assert_eq!(
            pool.claim(bad).unwrap_err().code(),
            "ERR_ZEROSOCK_BAD_BUFFER"
        );
        assert_eq!(
            pool.hand_off(bad).unwrap_err().code(),
            "ERR_ZEROSOCK_BAD_BUFFER"
        );
    }
    local.release(h).unwrap();
}

#[test]
fn racing_claimers_one_wins_and_the_release_is_deferred_to_the_owner() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 500;
    let pool = pool(8);
    let owner = pool.local();
    for _ in 0..ROUNDS {
        let h = owner.acquire(0).unwrap();
        pool.hand_off(h).unwrap();
        let wins = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (p, wins, go) = (pool.clone(), Arc::clone(&wins), Arc::clone(&go));
                std::thread::spawn(move || {
                    let local = p.local();
                    go.wait();
                    if p.claim(h).is_ok() {
                        wins.fetch_add(1, Ordering::Relaxed);
                        local.release(h).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(wins.load(Ordering::Relaxed), 1);
        assert!(pool.ptr(h).is_err(), "the winner released it");
    }
    let before = pool.stats();
    owner.drain_returns();
    let s = pool.stats();
    assert_eq!(s.in_use, 0, "{s:?}");
    assert_eq!(
        s.returned_via_ring + s.returned_to_shared,
        ROUNDS as u64,
        "{before:?}"
    );
}
