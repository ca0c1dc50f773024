//! zerosock-ring: the lock-free rings of the zerosock data path.
//!
//! - [`MpscRing`]: bounded multi-producer ring of `u64` (buffer handles returned
//!   to their owning thread).
//! - [`ByteRing`] / [`RecordRing`]: single-producer single-consumer rings over one
//!   documented shared-memory layout ([`layout`], `docs/LAYOUT.md`) that can live in a
//!   Rust allocation or in memory given from outside (a JS `SharedArrayBuffer`,
//!   pool memory).
//! - [`relay`]: forwards one byte ring into another on a native thread.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod byte_ring;
mod error;
pub mod layout;
mod mpsc;
mod record_ring;
mod region;
mod relay;
mod spsc;
mod sync;

pub use byte_ring::{ByteConsumer, ByteProducer, ByteRing, Messages};
pub use error::RingError;
pub use mpsc::{MpscRing, MPSC_MAX_CAPACITY, MPSC_MIN_CAPACITY};
pub use record_ring::{Peek, RecordConsumer, RecordProducer, RecordRing, Records, Reservation};
pub use relay::{relay, RelayStats};
#[cfg(not(loom))]
pub use relay::{RelayOutcome, RelayThread};
pub use spsc::{Consumer, Producer};
