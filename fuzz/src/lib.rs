//! zerosock-fuzz: fuzz targets for the pieces of zerosock that parse what another party wrote
//! — ring headers, positions and record framing in shared memory (a JS peer may be buggy or
//! hostile), the 8-int submission records JS hands the engine (applied by the real
//! `zerosock_wire::Session`, the code the binding runs), and the event records it gets back — the TLS records a peer sends a server session (`zerosock_tls::TlsSession`, as the engine feeds it) — plus a bounded random driver that runs them on the stable toolchain.
//!
//! Each target takes arbitrary bytes and decodes them with `arbitrary::Unstructured` into a
//! structured scenario (so random input reaches deep states), then checks invariants with
//! `assert!`: a panic is a finding. Run under valgrind (`.ci/memcheck.sh`) the same driver
//! also catches reads and writes outside the ring memory.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod byte_ring;
pub mod event_records;
pub mod record_ring;
pub mod ring_mem;
pub mod rng;
pub mod setup;
pub mod submit_records;
pub mod tls_records;

/// A fuzz target: runs one input; panics on a finding.
pub type Target = fn(&[u8]);

/// Every target by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("byte_ring", byte_ring::run),
    ("record_ring", record_ring::run),
    ("event_records", event_records::run),
    ("submit_records", submit_records::run),
    ("tls_records", tls_records::run),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
