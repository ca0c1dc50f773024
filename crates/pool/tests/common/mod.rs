//! Helpers shared by the integration tests.
#![allow(dead_code)]

use zerosock_pool::{Pool, PoolConfig, SizeClass};

/// A pool with the given `(size, count, max_count)` classes.
pub fn pool(classes: &[(usize, u32, Option<u32>)]) -> Pool {
    Pool::new(PoolConfig {
        classes: classes
            .iter()
            .map(|&(size, count, max_count)| SizeClass {
                size,
                count,
                max_count,
            })
            .collect(),
        populate: false,
    })
    .expect("pool")
}

/// Writes `tag` into the first 8 bytes of `h`'s buffer.
pub fn write_tag(pool: &Pool, h: zerosock_pool::BufHandle, tag: u64) {
    let p = pool.ptr(h).expect("ptr");
    // SAFETY: the caller holds `h`; buffers are at least 64 bytes.
    unsafe { p.cast::<u64>().write_unaligned(tag) };
}

/// Reads the first 8 bytes of `h`'s buffer.
pub fn read_tag(pool: &Pool, h: zerosock_pool::BufHandle) -> u64 {
    let p = pool.ptr(h).expect("ptr");
    // SAFETY: the caller holds `h`; buffers are at least 64 bytes.
    unsafe { p.cast::<u64>().read_unaligned() }
}
