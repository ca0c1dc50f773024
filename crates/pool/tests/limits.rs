//! Hard limits, growth, and configuration errors.

mod common;

use common::{pool, read_tag, write_tag};
use std::collections::HashSet;
use zerosock_pool::{Pool, PoolConfig, PoolError, SizeClass};

#[test]
fn hard_limit_grows_to_the_limit_then_refuses() {
    // 4 up front, hard limit 10: regions of 4, 4 and 2 buffers.
    let pool = pool(&[(64, 4, Some(10))]);
    let local = pool.local();
    let mut held = Vec::new();
    for i in 0..10 {
        let h = local.acquire(0).unwrap();
        write_tag(&pool, h, i);
        held.push(h);
    }
    let indices: HashSet<u32> = held.iter().map(|h| h.index()).collect();
    assert_eq!(indices, (0..10).collect());
    let err = local.acquire(0).unwrap_err();
    assert_eq!(
        err,
        PoolError::Exhausted {
            class: 0,
            limit: 10
        }
    );
    assert_eq!(err.code(), "ERR_ZEROSOCK_POOL_EXHAUSTED");
    // Refusing did not disturb the buffers that are out.
    for (i, &h) in held.iter().enumerate() {
        assert_eq!(read_tag(&pool, h), i as u64);
    }
    let s = pool.stats();
    let c = &s.classes[0];
    assert_eq!((c.capacity, c.limit, c.regions, c.grows), (10, 10, 3, 2));
    assert_eq!((c.in_use, c.high_water, c.exhausted), (10, 10, 1));
    let lens: Vec<u32> = pool.regions().iter().map(|r| r.buffers).collect();
    assert_eq!(lens, [4, 4, 2]);

    // Release one: the next acquire succeeds again, without growing.
    local.release(held.pop().unwrap()).unwrap();
    held.push(local.acquire(0).unwrap());
    assert!(local.acquire(0).is_err());
    assert_eq!(pool.stats().classes[0].grows, 2);
    for h in held {
        local.release(h).unwrap();
    }
    let c = &pool.stats().classes[0];
    assert_eq!((c.in_use, c.high_water), (0, 10));
}

#[test]
fn unbounded_class_grows_by_count() {
    let pool = pool(&[(128, 3, None)]);
    let local = pool.local();
    let held: Vec<_> = (0..10).map(|_| local.acquire(0).unwrap()).collect();
    let c = &pool.stats().classes[0];
    assert_eq!((c.capacity, c.regions, c.grows), (12, 4, 3));
    assert_eq!(pool.regions().len(), 4);
    assert_eq!(pool.region_count(), 4);
    // Earlier regions never move when the class grows.
    let first = pool.regions()[0];
    for h in &held {
        let p = pool.ptr(*h).unwrap();
        assert_eq!(pool.locate(p), Some((0, h.index())));
    }
    assert_eq!(pool.regions()[0], first);
    for h in held {
        local.release(h).unwrap();
    }
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn growth_ceiling_is_reported_as_exhausted() {
    // 1 buffer per step, so the unbounded ceiling is MAX_REGIONS_PER_CLASS.
    let pool = pool(&[(64, 1, None)]);
    let limit = pool.stats().classes[0].limit;
    assert_eq!(limit, zerosock_pool::MAX_REGIONS_PER_CLASS);
    let local = pool.local();
    let held: Vec<_> = (0..limit).map(|_| local.acquire(0).unwrap()).collect();
    let err = local.acquire(0).unwrap_err();
    assert_eq!(err, PoolError::Exhausted { class: 0, limit });
    let c = &pool.stats().classes[0];
    assert_eq!(
        (c.capacity, c.regions, c.in_use),
        (limit, limit, u64::from(limit))
    );
    drop(held);
}

#[test]
fn exhaustion_of_one_class_leaves_others_working() {
    let pool = pool(&[(64, 2, Some(2)), (1024, 2, Some(2))]);
    let local = pool.local();
    let a = [local.acquire(0).unwrap(), local.acquire(0).unwrap()];
    assert!(local.acquire(0).is_err());
    let b = local.acquire(1).unwrap();
    local.release(b).unwrap();
    for h in a {
        local.release(h).unwrap();
    }
    let s = pool.stats();
    assert_eq!(s.exhausted, 1);
    assert_eq!(s.in_use, 0);
}

#[test]
fn bad_configs_are_refused() {
    let one = |size, count, max_count| PoolConfig {
        classes: vec![SizeClass {
            size,
            count,
            max_count,
        }],
        populate: false,
    };
    for cfg in [
        PoolConfig {
            classes: vec![],
            populate: false,
        },
        one(0, 1, None),
        one(65, 1, None),
        one(64, 0, None),
        one(64, 8, Some(4)),
    ] {
        let err = Pool::new(cfg).unwrap_err();
        assert_eq!(err.code(), "ERR_ZEROSOCK_POOL_CONFIG");
        assert!(err.to_string().contains("ERR_ZEROSOCK_POOL_CONFIG"));
    }
}

#[test]
fn mmap_failure_is_reported_with_errno() {
    // Just under the 1 TiB per-region cap: more than this machine can commit.
    let cfg = PoolConfig {
        classes: vec![SizeClass {
            size: 1 << 30,
            count: 1023,
            max_count: None,
        }],
        populate: false,
    };
    let always_overcommit =
        std::fs::read_to_string("/proc/sys/vm/overcommit_memory").is_ok_and(|s| s.trim() == "1");
    match Pool::new(cfg) {
        // With vm.overcommit_memory=1 the kernel grants any size.
        Ok(pool) => {
            assert!(always_overcommit, "a 1023 GiB private mapping succeeded");
            assert_eq!(pool.stats().classes[0].capacity, 1023);
        }
        Err(err) => {
            assert_eq!(err.code(), "ERR_ZEROSOCK_POOL_MMAP");
            assert!(matches!(err, PoolError::Mmap { errno, .. } if errno > 0));
        }
    }
}
