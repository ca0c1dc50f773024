//! Handles: generations, stale and double releases, bad handles, addresses.

mod common;

use common::{pool, read_tag, write_tag};
use std::collections::HashSet;
use zerosock_pool::{BufHandle, Pool, PoolConfig, PoolError, RegionInfo, LARGE_CLASS, SMALL_CLASS};

#[test]
fn release_bumps_generation_and_refuses_stale_handles() {
    let pool = pool(&[(64, 4, Some(4))]);
    let local = pool.local();
    let h = local.acquire(0).unwrap();
    assert_eq!(h.class(), 0);
    assert_eq!(h.generation(), 1);
    assert_ne!(h.to_u64(), 0);
    local.release(h).unwrap();

    // Double release: refused, and nothing changes.
    let err = local.release(h).unwrap_err();
    assert_eq!(err, PoolError::BufferReleased { handle: h });
    assert_eq!(err.code(), "ERR_ZEROSOCK_BUFFER_RELEASED");
    assert!(err.to_string().starts_with("ERR_ZEROSOCK_BUFFER_RELEASED"));
    assert_eq!(pool.release_foreign(h).unwrap_err().code(), err.code());
    assert_eq!(pool.ptr(h).unwrap_err().code(), err.code());
    assert_eq!(pool.owner_of(h).unwrap_err().code(), err.code());

    // LIFO: the same buffer comes back, under the next generation.
    let h2 = local.acquire(0).unwrap();
    assert_eq!(h2.index(), h.index());
    assert_eq!(h2.generation(), 2);
    // The stale handle cannot release the buffer's new user.
    assert_eq!(
        local.release(h).unwrap_err(),
        PoolError::BufferReleased { handle: h }
    );
    assert!(pool.ptr(h2).is_ok());
    local.release(h2).unwrap();

    let s = pool.stats();
    assert_eq!((s.acquired, s.released, s.in_use), (2, 2, 0));
}

#[test]
fn racing_double_releases_succeed_exactly_once() {
    let pool = pool(&[(64, 64, Some(64))]);
    let local = pool.local();
    for _round in 0..50 {
        let handles: Vec<BufHandle> = (0..8).map(|_| local.acquire(0).unwrap()).collect();
        let ok = std::thread::scope(|s| {
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let pool = pool.clone();
                    let handles = &handles;
                    s.spawn(move || {
                        handles
                            .iter()
                            .filter(|&&h| pool.release_foreign(h).is_ok())
                            .count()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(ok, handles.len(), "each handle released exactly once");
        local.drain_returns();
    }
    let s = pool.stats();
    assert_eq!(s.in_use, 0);
    assert_eq!(s.acquired, s.released);
    assert_eq!(s.returned_via_ring, s.drained_from_ring);
}

#[test]
fn bad_handles_are_refused_without_damage() {
    let pool = pool(&[(64, 4, Some(8)), (128, 2, None)]);
    let local = pool.local();
    let held = local.acquire(0).unwrap();
    let bad = [
        BufHandle::new(7, 0, 1),       // unknown class
        BufHandle::new(0, 4, 1),       // index not mapped yet
        BufHandle::new(0, 1 << 20, 1), // far beyond
        BufHandle::from_u64(u64::MAX),
    ];
    for h in bad {
        let e = local.release(h).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_BAD_BUFFER", "{h:?}");
        assert_eq!(pool.release_foreign(h).unwrap_err().code(), e.code());
        assert_eq!(pool.ptr(h).unwrap_err().code(), e.code());
        assert_eq!(pool.returner().release(h).unwrap_err().code(), e.code());
    }
    // A free buffer under a guessed generation: "released", not corrupted.
    let free = BufHandle::new(0, 3, 1);
    assert_eq!(
        local.release(free).unwrap_err().code(),
        "ERR_ZEROSOCK_BUFFER_RELEASED"
    );
    // Handle zero (generation 0) is never valid.
    assert!(pool.ptr(BufHandle::from_u64(0)).is_err());
    assert_eq!(
        local.acquire(2).unwrap_err().code(),
        "ERR_ZEROSOCK_BAD_BUFFER"
    );
    assert_eq!(pool.class_size(2), None);

    // The pool still works: every buffer comes out once.
    let mut seen = HashSet::new();
    seen.insert(held.index());
    for _ in 0..7 {
        assert!(seen.insert(local.acquire(0).unwrap().index()));
    }
    assert_eq!(pool.stats().classes[0].in_use, 8);
}

#[test]
fn pointers_positions_and_locate_agree() {
    let pool = pool(&[(256, 8, None), (4096, 4, None)]);
    let local = pool.local();
    let regions = pool.regions();
    assert_eq!(regions.len(), 2);
    assert_eq!(pool.region_count(), 2);
    for (class, r) in regions.iter().enumerate() {
        assert_eq!(r.class, class);
        assert_eq!(r.region, 0);
        assert_eq!(r.first_index, 0);
        assert_eq!(r.len, r.buffers as usize * r.buffer_size);
        assert_eq!(Some(r.buffer_size), pool.class_size(class));
    }
    let a = local.acquire(0).unwrap();
    let b = local.acquire(1).unwrap();
    for h in [a, b] {
        let p = pool.ptr(h).unwrap();
        let pos = pool.position(h).unwrap();
        let r = regions[h.class()];
        assert_eq!(pos.class, h.class());
        // SAFETY: pointer arithmetic inside the region, for comparison only.
        assert_eq!(unsafe { r.base.add(pos.offset) }, p);
        assert_eq!(pos.len, r.buffer_size);
        assert_eq!(pool.locate(p), Some((h.class(), h.index())));
        // SAFETY: as above, last byte of the buffer.
        let last = unsafe { p.add(pos.len - 1) };
        assert_eq!(pool.locate(last), Some((h.class(), h.index())));
    }
    write_tag(&pool, a, 0xA);
    write_tag(&pool, b, 0xB);
    assert_eq!((read_tag(&pool, a), read_tag(&pool, b)), (0xA, 0xB));
    let outside = 0u64;
    assert_eq!(pool.locate(std::ptr::addr_of!(outside).cast()), None);
    assert_eq!(pool.owner_of(a).unwrap(), local.owner_id());
    assert!(local.owner_id().is_some());
    assert!(local.owns(a));
    assert!(!pool.local().owns(a));
}

#[test]
fn default_config_has_small_and_large_classes() {
    let pool = Pool::new(PoolConfig::default()).unwrap();
    assert_eq!(pool.class_count(), 2);
    assert_eq!(pool.class_size(SMALL_CLASS), Some(2048));
    assert_eq!(pool.class_size(LARGE_CLASS), Some(65536));
    assert_eq!(pool.class_for_len(100), Some(SMALL_CLASS));
    assert_eq!(pool.class_for_len(2049), Some(LARGE_CLASS));
    assert_eq!(pool.class_for_len(65537), None);
    // 2 MiB and 16 MiB regions: both huge-page aligned.
    for r in pool.regions() {
        assert_eq!(r.base as usize % (2 << 20), 0, "{r:?}");
    }
    let local = pool.local();
    let h = local.acquire(LARGE_CLASS).unwrap();
    // SAFETY: we hold `h` and make no other reference to its bytes.
    let bytes = unsafe { pool.slice_mut(h).unwrap() };
    assert_eq!(bytes.len(), 65536);
    bytes.fill(0x5A);
    assert!(bytes.iter().all(|&b| b == 0x5A));
    local.release(h).unwrap();
}

#[test]
fn populate_maps_memory_up_front() {
    let pool = Pool::new(PoolConfig {
        populate: true,
        ..PoolConfig::default()
    })
    .unwrap();
    let local = pool.local();
    let h = local.acquire(SMALL_CLASS).unwrap();
    write_tag(&pool, h, 42);
    assert_eq!(read_tag(&pool, h), 42);
}

#[test]
fn thread_safety_of_the_public_types() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync_clone::<Pool>();
    send_sync_clone::<zerosock_pool::PoolReturner>();
    send_sync_clone::<zerosock_pool::RegionInfo>();
    send::<zerosock_pool::LocalPool>();
    // A LocalPool can move to another thread and keep working there.
    let pool = pool(&[(64, 4, None)]);
    let local = pool.local();
    let h = local.acquire(0).unwrap();
    let local = std::thread::spawn(move || {
        local.release(h).unwrap();
        local
    })
    .join()
    .unwrap();
    assert_eq!(local.cached(0), local.stats().released as usize);
}

#[test]
fn region_positions_never_move_when_classes_grow_in_turn() {
    // Class 1 grows first, then class 0, then class 1 again: every region keeps the position
    // it was given (engines and JS name regions by it and cache a view per position).
    let pool = pool(&[(256, 2, None), (4096, 2, None)]);
    let local = pool.local();
    let mut held = Vec::new();
    let mut seen: Vec<RegionInfo> = pool.regions();
    for class in [1, 0, 1, 0, 0, 1] {
        let before = pool.region_count();
        while pool.region_count() == before {
            held.push(local.acquire(class).unwrap());
        }
        let now = pool.regions();
        assert_eq!(now.len(), before + 1);
        assert_eq!(
            &now[..before],
            &seen[..],
            "a region moved when class {class} grew"
        );
        let last = now[before];
        assert_eq!(last.class, class);
        seen = now;
    }
    // Every buffer held lies in the region its class and step name.
    for h in held {
        let pos = pool.position(h).unwrap();
        let r = seen
            .iter()
            .find(|r| r.class == pos.class && r.region == pos.region)
            .unwrap();
        // SAFETY: pointer arithmetic inside the region, for comparison only.
        assert_eq!(unsafe { r.base.add(pos.offset) }, pool.ptr(h).unwrap());
    }
}
