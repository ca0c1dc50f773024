//! zerosock's napi-rs binding. It only converts types between JS and the crates that do the
//! work (ring, pool, cork, uring); errors go through [`errors::to_napi`].
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod errors;
mod probe;
