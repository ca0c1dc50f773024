//! Loom model of `hand_off` / `claim` racing each other and a release.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p zerosock-pool --release --test loom_handoff`
#![cfg(loom)]

use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use zerosock_pool::{Pool, PoolConfig, SizeClass};

fn small_pool() -> Pool {
    Pool::new(PoolConfig {
        classes: vec![SizeClass {
            size: 64,
            count: 2,
            max_count: Some(2),
        }],
        populate: false,
    })
    .unwrap()
}

/// Runs `f` under loom (preemption bound 3); checks that it explored more
/// than one interleaving.
fn model(f: impl Fn() + Sync + Send + 'static) {
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
}

/// Two claimers and the holder cancelling by release: at most one claim
/// wins; if the release came first, none does; the buffer is freed once.
#[test]
fn claims_race_a_cancelling_release() {
    model(|| {
        let pool = small_pool();
        let owner = pool.local();
        let h = owner.acquire(0).unwrap();
        pool.hand_off(h).unwrap();
        let claimers: Vec<_> = (0..2)
            .map(|_| {
                let p = pool.clone();
                thread::spawn(move || p.claim(h).is_ok())
            })
            .collect();
        let p = pool.clone();
        let releaser = thread::spawn(move || p.release_foreign(h).is_ok());
        let wins = claimers
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&won| won)
            .count();
        assert!(releaser.join().unwrap(), "the release always succeeds");
        assert!(wins <= 1, "{wins} claims won");
        assert!(pool.claim(h).is_err());
        assert!(pool.ptr(h).is_err());
        assert_eq!(owner.drain_returns(), 1);
    });
}
