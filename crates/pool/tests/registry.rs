//! Process-wide pool ids: `Pool::share` / `Pool::attach`.

use zerosock_pool::{Pool, PoolConfig, SizeClass};

fn small_pool() -> Pool {
    Pool::new(PoolConfig {
        classes: vec![SizeClass {
            size: 64,
            count: 8,
            max_count: Some(8),
        }],
        populate: false,
    })
    .unwrap()
}

#[test]
fn share_is_idempotent_and_attach_finds_the_same_pool() {
    let a = small_pool();
    let b = small_pool();
    let id_a = a.share();
    assert!(id_a >= 1);
    assert_eq!(a.share(), id_a);
    assert_eq!(a.clone().share(), id_a, "clones share one id");
    let id_b = b.share();
    assert_ne!(id_a, id_b);
    let again = Pool::attach(id_a).expect("shared pool is attachable");
    assert!(again.same_pool(&a));
    assert!(!again.same_pool(&b));
    assert!(Pool::attach(id_b).unwrap().same_pool(&b));
}

#[test]
fn unknown_and_dropped_ids_do_not_attach_and_ids_are_not_reused() {
    assert!(Pool::attach(0).is_none());
    assert!(Pool::attach(u64::MAX).is_none());
    let a = small_pool();
    let id = a.share();
    drop(a);
    assert!(
        Pool::attach(id).is_none(),
        "the registry must not keep a pool alive"
    );
    let b = small_pool();
    let id_b = b.share();
    assert!(id_b > id, "ids are never reused");
    assert!(Pool::attach(id).is_none());
}

#[test]
fn attach_keeps_the_pool_alive_and_works_from_another_thread() {
    let pool = small_pool();
    let id = pool.share();
    let owner = pool.local();
    let h = owner.acquire(0).unwrap();
    let raw = h.to_u64();
    let remote = std::thread::spawn(move || {
        let p = Pool::attach(id).expect("attach from another thread");
        let local = p.local();
        local
            .release(zerosock_pool::BufHandle::from_u64(raw))
            .unwrap();
        p
    })
    .join()
    .unwrap();
    // The deferred release went onto the owner's return ring.
    assert_eq!(owner.drain_returns(), 1);
    assert_eq!(pool.stats().returned_via_ring, 1);
    drop(owner);
    drop(pool);
    // `remote` still holds the pool: the id stays valid until it goes.
    assert!(Pool::attach(id).is_some());
    drop(remote);
    assert!(Pool::attach(id).is_none());
}
