//! zerosock's napi-rs binding. It only converts types between JS and the crates that do the
//! work (wire, ring, pool, cork, uring); errors go through [`errors::to_napi`] and reach JS
//! with their code in `err.code`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
// napi items are only registered in the cdylib build, so the unit-test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod cork;
mod engine;
mod errors;
mod js_call;
mod mapped;
mod pool;
mod probe;
mod ring;
mod shared_mem;
