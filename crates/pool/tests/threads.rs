//! Cross-thread releases: the deferred path back to the owner, ring
//! overflow, returners, and owners dropped with buffers still out.

mod common;

use common::{pool, read_tag, write_tag};
use std::collections::HashSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zerosock_pool::{BufHandle, Pool, PoolError};

/// With every local dropped, a fresh local must get each of the class's
/// `limit` buffers exactly once, and then be refused.
fn assert_every_buffer_free_once(pool: &Pool, class: usize, limit: u32) {
    let s = pool.stats();
    assert_eq!(s.classes[class].in_use, 0, "{s:?}");
    assert_eq!(s.classes[class].shared_free, limit as usize, "{s:?}");
    let local = pool.local();
    let mut seen = HashSet::new();
    let mut held = Vec::new();
    for _ in 0..limit {
        let h = local.acquire(class).unwrap();
        assert!(
            seen.insert(h.index()),
            "buffer {} handed out twice",
            h.index()
        );
        held.push(h);
    }
    assert!(matches!(
        local.acquire(class),
        Err(PoolError::Exhausted { .. })
    ));
    for h in held {
        local.release(h).unwrap();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Each thread hands its buffers to the next one, which releases them
/// (deferred). Every buffer must come back to its owner's cache exactly
/// once: the owner's next acquires return exactly the same buffers, one
/// generation later, and its `drained_from_ring` counts exactly them.
#[test]
fn buffers_released_by_other_threads_come_back_to_their_owner_once() {
    const THREADS: usize = 4;
    const PER_ROUND: usize = 32; // = refill batch for count 1024
    const ROUNDS: usize = 200;
    const LIMIT: u32 = 1024;
    let pool = pool(&[(64, LIMIT, Some(LIMIT))]);
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..THREADS)
        .map(|_| mpsc::channel::<Vec<BufHandle>>())
        .unzip();
    std::thread::scope(|s| {
        for (me, rx) in rxs.into_iter().enumerate() {
            let next = txs[(me + 1) % THREADS].clone();
            let pool = pool.clone();
            s.spawn(move || {
                let local = pool.local();
                let mut prev: Vec<BufHandle> = Vec::new();
                let mut others_released = 0u64;
                for round in 0..ROUNDS {
                    let mine: Vec<BufHandle> =
                        (0..PER_ROUND).map(|_| local.acquire(0).unwrap()).collect();
                    if round > 0 {
                        let want: HashSet<(u32, u32)> = prev
                            .iter()
                            .map(|h| (h.index(), h.generation() + 1))
                            .collect();
                        let got: HashSet<(u32, u32)> =
                            mine.iter().map(|h| (h.index(), h.generation())).collect();
                        assert_eq!(got, want, "thread {me} round {round}");
                    }
                    for h in &mine {
                        assert!(local.owns(*h));
                        write_tag(
                            &pool,
                            *h,
                            ((me as u64) << 48) | h.to_u64() & 0xFFFF_FFFF_FFFF,
                        );
                    }
                    next.send(mine.clone()).unwrap();
                    let theirs = rx.recv().unwrap();
                    for h in theirs {
                        let owner = (THREADS + me - 1) % THREADS;
                        assert_eq!(read_tag(&pool, h) >> 48, owner as u64);
                        assert!(!local.owns(h));
                        local.release(h).unwrap();
                        others_released += 1;
                    }
                    let mut back = 0;
                    wait_until("returns", || {
                        back += local.drain_returns();
                        back == PER_ROUND
                    });
                    assert_eq!(local.cached(0), PER_ROUND);
                    prev = mine;
                }
                let ls = local.stats();
                let n = (PER_ROUND * ROUNDS) as u64;
                assert_eq!(ls.acquired, n);
                assert_eq!(ls.drained_from_ring, n, "{ls:?}");
                assert_eq!(ls.returned_via_ring, others_released);
                assert_eq!(ls.returned_to_shared, 0);
                // Give back the last round's buffers ourselves: cache hits.
                for h in prev {
                    assert_eq!(
                        local.release(h).unwrap_err().code(),
                        "ERR_ZEROSOCK_BUFFER_RELEASED"
                    );
                }
            });
        }
    });
    let s = pool.stats();
    let n = (THREADS * PER_ROUND * ROUNDS) as u64;
    assert_eq!((s.acquired, s.released, s.in_use), (n, n, 0));
    assert_eq!(s.returned_via_ring, n);
    assert_eq!(s.drained_from_ring, n);
    assert_eq!(s.returned_to_shared, 0);
    // A thread acquires again only after all of its buffers came back.
    assert!(s.high_water <= (THREADS * PER_ROUND) as u64, "{s:?}");
    assert!(s.high_water >= PER_ROUND as u64, "{s:?}");
    assert_eq!(s.owners, 0);
    assert_every_buffer_free_once(&pool, 0, LIMIT);
}

#[test]
fn a_full_return_ring_overflows_to_the_shared_list() {
    // Ring capacity is derived from the total `count` (64 here, the minimum).
    let pool = pool(&[(64, 64, Some(256))]);
    let owner = pool.local();
    let held: Vec<_> = (0..200).map(|_| owner.acquire(0).unwrap()).collect();
    let returner = pool.returner();
    std::thread::scope(|s| {
        s.spawn(|| {
            for h in &held {
                returner.release(*h).unwrap();
            }
        });
    });
    let s = pool.stats();
    assert_eq!(s.returned_via_ring, 64);
    assert_eq!(s.returned_to_shared, 136);
    assert_eq!(owner.drain_returns(), 64);
    assert_eq!(owner.drain_returns(), 0);
    assert_eq!(owner.stats().drained_from_ring, 64);
    drop(owner);
    assert_every_buffer_free_once(&pool, 0, 256);
}

#[test]
fn acquire_with_empty_cache_drains_the_return_ring_first() {
    let pool = pool(&[(64, 16, Some(16))]);
    let owner = pool.local();
    let held: Vec<_> = (0..16).map(|_| owner.acquire(0).unwrap()).collect();
    assert_eq!(owner.cached(0), 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for h in &held {
                pool.release_foreign(*h).unwrap();
            }
        });
    });
    // No drain_returns call: acquire finds them on the ring.
    let again: HashSet<u32> = (0..16).map(|_| owner.acquire(0).unwrap().index()).collect();
    assert_eq!(again, held.iter().map(|h| h.index()).collect());
    let ls = owner.stats();
    assert_eq!(ls.drained_from_ring, 16);
    assert_eq!(pool.stats().returned_via_ring, 16);
}

#[test]
fn dropping_an_owner_with_buffers_out_loses_nothing() {
    const LIMIT: u32 = 64;
    let pool = pool(&[(64, LIMIT, Some(LIMIT))]);
    // Made before the owner drops, so it does not take over the owner's id
    // (see the slot-reuse test below).
    let other = pool.local();
    let owner = pool.local();
    let owner_id = owner.owner_id();
    let out: Vec<_> = (0..20).map(|_| owner.acquire(0).unwrap()).collect();
    for (i, h) in out.iter().enumerate() {
        write_tag(&pool, *h, i as u64);
    }
    // Five come back to the ring before the owner goes away...
    for h in &out[..5] {
        pool.release_foreign(*h).unwrap();
    }
    assert_eq!(pool.stats().returned_via_ring, 5);
    drop(owner);
    let s = pool.stats();
    assert_eq!(s.drained_from_ring, 5, "drop empties the ring");
    assert_eq!(s.owners, 1);
    // ...the rest stay valid and usable after the drop.
    for (i, h) in out.iter().enumerate().skip(5) {
        assert_eq!(read_tag(&pool, *h), i as u64);
        assert_eq!(pool.owner_of(*h).unwrap(), owner_id);
    }
    // Released on another thread with a local of its own, and by a returner.
    std::thread::scope(|s| {
        s.spawn(|| {
            for h in &out[5..12] {
                other.release(*h).unwrap();
            }
            assert_eq!(other.stats().returned_to_shared, 7);
            drop(other);
        });
    });
    let returner = pool.returner();
    for h in &out[12..] {
        returner.release(*h).unwrap();
    }
    for h in &out {
        assert!(pool.release_foreign(*h).is_err(), "released twice");
    }
    let s = pool.stats();
    assert_eq!(s.returned_to_shared, 15);
    assert_eq!(s.in_use, 0);
    assert_every_buffer_free_once(&pool, 0, LIMIT);
}

#[test]
fn a_reused_owner_slot_recycles_buffers_of_its_previous_owner() {
    let pool = pool(&[(64, 8, Some(8))]);
    let first = pool.local();
    let id = first.owner_id();
    let h = first.acquire(0).unwrap();
    drop(first);
    let second = pool.local();
    assert_eq!(second.owner_id(), id, "slot reused");
    assert!(second.owns(h), "same owner id");
    pool.release_foreign(h).unwrap();
    assert_eq!(second.drain_returns(), 1);
    assert_eq!(second.stats().drained_from_ring, 1);
    drop(second);
    assert_every_buffer_free_once(&pool, 0, 8);
}

/// Owners drop while other threads release their buffers: every buffer ends
/// up free exactly once, whichever side wins each race.
#[test]
fn owner_drop_racing_foreign_releases() {
    const LIMIT: u32 = 128;
    let pool = pool(&[(64, LIMIT, Some(LIMIT))]);
    let iterations = if cfg!(debug_assertions) { 200 } else { 1000 };
    for _ in 0..iterations {
        let owner = pool.local();
        let out: Vec<_> = (0..64).map(|_| owner.acquire(0).unwrap()).collect();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            let pool = &pool;
            let out = &out;
            s.spawn(move || {
                go_rx.recv().unwrap();
                for h in out {
                    pool.release_foreign(*h).unwrap();
                }
            });
            go_tx.send(()).unwrap();
            drop(owner);
        });
        let s = pool.stats();
        assert_eq!(s.in_use, 0);
        assert_eq!(s.classes[0].shared_free, LIMIT as usize, "{s:?}");
        assert_eq!(s.returned_via_ring, s.drained_from_ring);
    }
    assert_every_buffer_free_once(&pool, 0, LIMIT);
}

#[test]
fn more_locals_than_owner_slots_still_work() {
    let pool = pool(&[(64, 4, None)]);
    let locals: Vec<_> = (0..zerosock_pool::MAX_OWNERS)
        .map(|_| pool.local())
        .collect();
    assert_eq!(pool.stats().owners, zerosock_pool::MAX_OWNERS);
    let extra = pool.local();
    assert_eq!(extra.owner_id(), None);
    let h = extra.acquire(0).unwrap();
    assert_eq!(pool.owner_of(h).unwrap(), None);
    assert!(!extra.owns(h));
    locals[0].release(h).unwrap();
    assert_eq!(locals[0].stats().returned_to_shared, 1);
    let h = extra.acquire(0).unwrap();
    extra.release(h).unwrap();
    drop(locals);
    assert_eq!(pool.stats().owners, 0);
    assert!(pool.local().owner_id().is_some());
}
