//! Process-wide pool ids: [`Pool::share`] gives a pool a number that any
//! thread of the process can turn back into the pool with [`Pool::attach`]
//! (the Node binding posts it to worker_threads, which cannot share Rust
//! values directly).
//!
//! The registry holds only weak references: it never keeps a pool's memory
//! mapped. Ids are never reused, so a stale id cannot name a newer pool.

use crate::pool::PoolInner;
use crate::Pool;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

struct Registry {
    /// Shared pools by id, in id order. Entries of dropped pools are pruned
    /// on every `share`.
    entries: Vec<(u64, Weak<PoolInner>)>,
    /// Last id handed out (ids start at 1).
    last_id: u64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    last_id: 0,
});

fn registry() -> MutexGuard<'static, Registry> {
    // The registry is only pushed to and pruned; a panic while holding the
    // lock cannot leave it inconsistent, so poisoning is ignored.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    /// This pool's process-wide id (`>= 1`), registering it on the first
    /// call; later calls return the same id. Any thread can get the pool
    /// back with [`Pool::attach`] while some clone of it is alive.
    pub fn share(&self) -> u64 {
        let mut reg = registry();
        reg.entries.retain(|(_, w)| w.strong_count() > 0);
        let me = Arc::downgrade(&self.inner);
        if let Some((id, _)) = reg.entries.iter().find(|(_, w)| w.ptr_eq(&me)) {
            return *id;
        }
        reg.last_id += 1;
        let id = reg.last_id;
        reg.entries.push((id, me));
        id
    }

    /// The shared pool with id `id` (from [`Pool::share`]), or `None` if no
    /// pool was shared under that id or it has been dropped since.
    pub fn attach(id: u64) -> Option<Pool> {
        let reg = registry();
        let i = reg.entries.binary_search_by_key(&id, |(id, _)| *id).ok()?;
        let inner = reg.entries[i].1.upgrade()?;
        Some(Pool { inner })
    }

    /// Whether `self` and `other` are clones of the same pool.
    pub fn same_pool(&self, other: &Pool) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
