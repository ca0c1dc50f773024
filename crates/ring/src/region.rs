//! Access to one ring region (header + data area).
//!
//! Normally the region is raw memory (owned, or given from outside) accessed
//! through `u32` atomics for the header and plain reads/writes for the data.
//! Under `--cfg loom` it is a model made of loom atomics and loom `UnsafeCell`s,
//! so loom checks both the atomics and the data accesses of the ring protocol.
//!
//! Both versions have the same interface: `capacity`, `head`, `tail`,
//! `consumer_waiting`, `read_u32`, `write_u32`, `write_bytes`, `bytes`,
//! `bytes_mut`. Data offsets are relative to the data area; every data access is
//! bounds-checked (a peer can never make the ring touch memory outside the region).

#[cfg(loom)]
mod model;
#[cfg(not(loom))]
mod native;

#[cfg(loom)]
pub(crate) use model::{DataMut, DataRef, Region};
#[cfg(not(loom))]
pub(crate) use native::{DataMut, DataRef, Region};

/// Panics unless `[off, off + len)` lies within a data area of `capacity` bytes.
#[inline]
fn check_bounds(capacity: u32, off: u32, len: usize) {
    let end = off as usize + len;
    assert!(
        end <= capacity as usize,
        "ring data access {off}..{end} outside capacity {capacity}"
    );
}
