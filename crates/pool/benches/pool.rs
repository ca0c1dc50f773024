//! Criterion-free micro benchmarks: `cargo bench -p zerosock-pool`.
//! Prints ns per operation for the hot paths (and the system allocator as
//! a baseline).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use zerosock_pool::{copy_break, BufHandle, CopyBreak, Pool, PoolConfig, LARGE_CLASS, SMALL_CLASS};
use zerosock_ring::MpscRing;

fn report(name: &str, ops: u64, start: Instant) {
    let ns = start.elapsed().as_nanos() as f64 / ops as f64;
    println!("{name:<52} {ns:>8.1} ns/op  ({ops} ops)");
}

fn main() {
    let n: u64 = std::env::var("POOL_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let pool = Pool::new(PoolConfig::default()).unwrap();
    let owner = pool.local();

    let t = Instant::now();
    for _ in 0..n {
        let h = owner.acquire(SMALL_CLASS).unwrap();
        owner.release(black_box(h)).unwrap();
    }
    report("acquire+release, owner path (cache hit)", n, t);

    let mut held = Vec::with_capacity(256);
    let t = Instant::now();
    for _ in 0..n / 256 {
        for _ in 0..256 {
            held.push(owner.acquire(SMALL_CLASS).unwrap());
        }
        for h in held.drain(..) {
            owner.release(h).unwrap();
        }
    }
    report(
        "acquire+release, bursts of 256 (refill/spill)",
        n / 256 * 256,
        t,
    );

    let other = pool.local();
    let t = Instant::now();
    for _ in 0..n {
        let h = owner.acquire(SMALL_CLASS).unwrap();
        other.release(black_box(h)).unwrap();
    }
    report("acquire + deferred release via ring (one thread)", n, t);

    let t = Instant::now();
    for _ in 0..n {
        black_box(Box::new([0u8; 2048]));
    }
    report("baseline: Box<[u8; 2048]> alloc+free", n, t);

    let big = owner.acquire(LARGE_CLASS).unwrap();
    // SAFETY: we hold `big`; no other reference to its bytes exists.
    let data = unsafe { &pool.slice_mut(big).unwrap()[..128] };
    let t = Instant::now();
    for _ in 0..n {
        match copy_break(&owner, black_box(data), 2048).unwrap() {
            CopyBreak::Copied { handle, .. } => owner.release(handle).unwrap(),
            CopyBreak::Keep => unreachable!(),
        }
    }
    report("copy_break 128 B + release", n, t);
    owner.release(big).unwrap();

    cross_thread(&pool, n);
    let s = pool.stats();
    println!(
        "stats: acquired {} recycled_from_cache {} misses {} via_ring {} to_shared {} grows {} high_water {}",
        s.acquired, s.recycled_from_cache, s.misses, s.returned_via_ring, s.returned_to_shared, s.grows, s.high_water
    );
}

/// Owner thread acquires and hands handles to a worker thread (over an
/// MpscRing), which releases them: every buffer goes back over the owner's
/// return ring.
fn cross_thread(pool: &Pool, n: u64) {
    let handoff = Arc::new(MpscRing::new(1024).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let worker = {
        let (pool, handoff, done) = (pool.clone(), Arc::clone(&handoff), Arc::clone(&done));
        std::thread::spawn(move || {
            let local = pool.local();
            let mut released = 0u64;
            loop {
                match handoff.pop() {
                    Some(raw) => {
                        local.release(BufHandle::from_u64(raw)).unwrap();
                        released += 1;
                    }
                    None if done.load(Ordering::Acquire) && handoff.is_empty() => break,
                    None => std::hint::spin_loop(),
                }
            }
            released
        })
    };
    let owner = pool.local();
    let t = Instant::now();
    for _ in 0..n {
        let mut v = owner.acquire(SMALL_CLASS).unwrap().to_u64();
        while let Err(back) = handoff.push(v) {
            v = back;
            owner.drain_returns();
            std::hint::spin_loop();
        }
    }
    done.store(true, Ordering::Release);
    let released = worker.join().unwrap();
    report("cross-thread: acquire here, release there (ring)", n, t);
    assert_eq!(released, n);
    owner.drain_returns();
}
