//! Steady state: acquire and release (owner path, deferred path, drains,
//! refill/spill batches, copy-break) make no heap allocation.
//!
//! A counting global allocator counts allocations made by the current
//! thread while counting is switched on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use zerosock_pool::{copy_break, BufHandle, CopyBreak, Pool, PoolConfig, LARGE_CLASS, SMALL_CLASS};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(|n| n.get())
}

#[test]
fn counting_allocator_sees_allocations() {
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);
}

#[test]
fn steady_state_acquire_release_does_not_allocate() {
    let pool = Pool::new(PoolConfig::default()).unwrap();
    let owner = pool.local();
    let other = pool.local();
    let returner = pool.returner();
    let mut held: Vec<BufHandle> = Vec::with_capacity(512);
    let rounds = 2_000;

    let work = |held: &mut Vec<BufHandle>| {
        for round in 0..rounds {
            // Bursts larger than the caches: refill and spill batches.
            let n = if round % 10 == 0 { 300 } else { 8 };
            for _ in 0..n {
                held.push(owner.acquire(SMALL_CLASS).unwrap());
            }
            held.push(owner.acquire(LARGE_CLASS).unwrap());
            // Owner path, deferred path via another local, via a returner.
            for (i, h) in held.drain(..).enumerate() {
                match i % 3 {
                    0 => owner.release(h).unwrap(),
                    1 => other.release(h).unwrap(),
                    _ => returner.release(h).unwrap(),
                }
            }
            owner.drain_returns();
            // Copy-break of a small read out of a large receive buffer.
            let big = owner.acquire(LARGE_CLASS).unwrap();
            // SAFETY: we hold `big` and make no other reference to its bytes.
            let data = unsafe { &pool.slice_mut(big).unwrap()[..100] };
            match copy_break(&owner, data, 2048).unwrap() {
                CopyBreak::Copied { handle, .. } => other.release(handle).unwrap(),
                CopyBreak::Keep => panic!("100 bytes must be copied"),
            }
            owner.release(big).unwrap();
            // Errors must not allocate either.
            assert!(owner.release(big).is_err());
        }
    };
    // Warm-up: regions, caches and shared lists reach their working size.
    work(&mut held);
    let before = pool.stats();
    let allocs = allocations_in(|| work(&mut held));
    let after = pool.stats();
    assert_eq!(allocs, 0, "steady-state acquire/release allocated");
    assert_eq!(after.grows, before.grows, "no growth in steady state");
    let n = after.acquired - before.acquired;
    assert!(n > 10_000, "{n} acquires measured");
    assert!(after.returned_via_ring > before.returned_via_ring);
    assert!(after.recycled_from_cache > before.recycled_from_cache);
    assert!(after.misses > before.misses, "refills were exercised");
    assert_eq!(after.in_use, 0);
}
