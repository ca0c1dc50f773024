//! Loom models of the return handoff.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p zerosock-pool --release --test loom`
//!
//! The racing sides always run in spawned threads (the model's main thread
//! only sets up and checks): loom's DPOR does not explore preempting
//! operations the main thread performs before a spawned thread first runs.
#![cfg(loom)]

use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use zerosock_pool::{Pool, PoolConfig, PoolError, SizeClass};

fn small_pool(count: u32) -> Pool {
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

/// Runs `f` under loom (preemption bound 3) and returns how many
/// interleavings were explored.
fn model(f: impl Fn() + Sync + Send + 'static) -> usize {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(move || {
        counted.fetch_add(1, Relaxed);
        f();
    });
    let n = runs.load(Relaxed);
    eprintln!("explored {n} interleavings");
    assert!(n > 1, "loom explored only {n} interleaving(s)");
    n
}

/// A non-owner writes and releases while the owner acquires (draining its
/// ring because its cache is empty): the buffer reaches the owner exactly
/// once, with the bytes written before the release visible.
#[test]
fn foreign_release_races_owner_acquire() {
    model(|| {
        let pool = small_pool(2);
        let owner = pool.local();
        let a = owner.acquire(0).unwrap();
        let b = owner.acquire(0).unwrap();
        assert_eq!(owner.cached(0), 0);
        let p2 = pool.clone();
        let releaser = thread::spawn(move || {
            // SAFETY: this thread holds `a` until it releases it below.
            unsafe { p2.ptr(a).unwrap().write(0xAB) };
            p2.release_foreign(a).unwrap();
        });
        let p3 = pool.clone();
        let acquirer = thread::spawn(move || {
            let got = match owner.acquire(0) {
                Ok(h) => {
                    assert_eq!(h.index(), a.index());
                    assert_eq!(h.generation(), a.generation() + 1);
                    // SAFETY: we hold `h`.
                    assert_eq!(unsafe { p3.ptr(h).unwrap().read() }, 0xAB);
                    Some(h)
                }
                Err(e) => {
                    assert_eq!(e, PoolError::Exhausted { class: 0, limit: 2 });
                    None
                }
            };
            (owner, got)
        });
        releaser.join().unwrap();
        let (owner, got) = acquirer.join().unwrap();
        let drained = owner.drain_returns();
        assert_eq!(drained + usize::from(got.is_some()), 1);
        let s = pool.stats();
        assert_eq!((s.returned_via_ring, s.drained_from_ring), (1, 1));
        owner.release(b).unwrap();
        if let Some(h) = got {
            owner.release(h).unwrap();
        }
        assert_eq!(owner.cached(0), 2);
        assert_eq!(pool.stats().in_use, 0);
    });
}

/// The owner drops while a non-owner releases its buffer: whichever wins,
/// the buffer ends up on the shared free list exactly once.
#[test]
fn owner_drop_races_foreign_release() {
    model(|| {
        let pool = small_pool(2);
        let owner = pool.local();
        let a = owner.acquire(0).unwrap();
        let p2 = pool.clone();
        let releaser = thread::spawn(move || p2.release_foreign(a).unwrap());
        let dropper = thread::spawn(move || drop(owner));
        releaser.join().unwrap();
        dropper.join().unwrap();
        let s = pool.stats();
        assert_eq!(s.in_use, 0);
        assert_eq!(s.classes[0].shared_free, 2, "{s:?}");
        assert_eq!(s.returned_via_ring, s.drained_from_ring);
        assert_eq!(s.returned_via_ring + s.returned_to_shared, 1);
    });
}

/// The owner drops and a new local takes over its slot while a non-owner
/// releases: the buffer is free exactly once — in the new local's cache
/// (via the reused ring) or on the shared list.
#[test]
fn slot_reuse_races_foreign_release() {
    model(|| {
        let pool = small_pool(2);
        let owner = pool.local();
        let a = owner.acquire(0).unwrap();
        let p2 = pool.clone();
        let releaser = thread::spawn(move || p2.release_foreign(a).unwrap());
        let p3 = pool.clone();
        let successor = thread::spawn(move || {
            drop(owner);
            let next = p3.local();
            next.drain_returns();
            next
        });
        releaser.join().unwrap();
        let next = successor.join().unwrap();
        next.drain_returns();
        let s = pool.stats();
        assert_eq!(s.in_use, 0);
        assert_eq!(next.cached(0) + s.classes[0].shared_free, 2, "{s:?}");
        assert_eq!(s.returned_via_ring, s.drained_from_ring);
    });
}

/// Two threads release the same handle: exactly one succeeds, and the
/// buffer reaches its owner once.
#[test]
fn racing_double_release_succeeds_once() {
    model(|| {
        let pool = small_pool(2);
        let owner = pool.local();
        let a = owner.acquire(0).unwrap();
        let (p2, p3) = (pool.clone(), pool.clone());
        let t1 = thread::spawn(move || p2.release_foreign(a).is_ok());
        let t2 = thread::spawn(move || p3.release_foreign(a).is_ok());
        let (one, two) = (t1.join().unwrap(), t2.join().unwrap());
        assert!(one ^ two, "exactly one release wins");
        assert_eq!(owner.drain_returns(), 1);
        assert_eq!(owner.cached(0), 1);
        let s = pool.stats();
        assert_eq!((s.released, s.in_use, s.classes[0].shared_free), (1, 0, 1));
    });
}

/// Two buffers released on another thread while the owner acquires twice
/// and ticks: each comes back exactly once, none is lost or duplicated.
#[test]
fn two_returns_race_two_acquires_and_a_tick() {
    model(|| {
        let pool = small_pool(3);
        let owner = pool.local();
        let held = [
            owner.acquire(0).unwrap(),
            owner.acquire(0).unwrap(),
            owner.acquire(0).unwrap(),
        ];
        let p2 = pool.clone();
        let (a, b) = (held[0], held[1]);
        let releaser = thread::spawn(move || {
            p2.release_foreign(a).unwrap();
            p2.release_foreign(b).unwrap();
        });
        let acquirer = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                if let Ok(h) = owner.acquire(0) {
                    got.push(h);
                }
                owner.drain_returns();
            }
            (owner, got)
        });
        releaser.join().unwrap();
        let (owner, got) = acquirer.join().unwrap();
        owner.drain_returns();
        for h in &got {
            assert!(h.index() == a.index() || h.index() == b.index());
        }
        if got.len() == 2 {
            assert_ne!(got[0].index(), got[1].index());
        }
        assert_eq!(got.len() + owner.cached(0), 2);
        let s = pool.stats();
        assert_eq!((s.returned_via_ring, s.drained_from_ring), (2, 2));
        assert_eq!(s.in_use, 1 + got.len() as u64);
    });
}
