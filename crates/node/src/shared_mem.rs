//! Shared ints (`zerosock_wire::SharedInts`: records, a pool's cache block) as one external
//! `ArrayBuffer`; the buffer holds a clone, so the memory outlives both sides' use of it.

use napi::bindgen_prelude::{ArrayBuffer, Env, Result};
use zerosock_wire::SharedInts;

/// The block as an external `ArrayBuffer`. Call once per block.
pub fn array_buffer<'env>(env: &'env Env, ints: &SharedInts) -> Result<ArrayBuffer<'env>> {
    let keep = ints.clone();
    // SAFETY: the memory lives as long as `keep`, which the finalizer drops; the length is
    // the block's size in bytes. JS and native touch it on this thread only, never at once.
    unsafe {
        ArrayBuffer::from_external(env, ints.ptr().cast(), ints.len() * 4, keep, |_, k| drop(k))
    }
}
