//! zerosock's napi-rs binding. It only converts types between JS and the crates that do the
//! work (ring, pool, cork, uring); errors go through [`errors::to_napi`].
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
// napi items are only registered in the cdylib build, so the unit-test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod cork;
mod engine;
mod errors;
mod pool;
mod probe;
mod records;
mod ring;
mod shared_mem;
mod uv;
mod zerocopy;
