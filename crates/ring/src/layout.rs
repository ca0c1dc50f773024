//! The shared-memory layout of the SPSC rings, byte for byte (see `docs/LAYOUT.md`).
//!
//! The same numbers are used by the JS side (`Int32Array` + `Atomics`), so they
//! must never change without bumping [`VERSION`]. All header fields are `u32` in
//! native byte order (little-endian on every supported target), 4-byte aligned.
//! The `I32_*` constants are the same offsets divided by 4, i.e. indexes into an
//! `Int32Array` over the region.

/// `"ZSRG"` read as a little-endian `u32`: marks an initialised ring.
pub const MAGIC: u32 = 0x5A53_5247;
/// Layout version described here.
pub const VERSION: u32 = 1;
/// `kind` value: variable-length byte messages.
pub const KIND_BYTES: u32 = 1;
/// `kind` value: fixed-size records.
pub const KIND_RECORDS: u32 = 2;

/// Byte offset of `magic`.
pub const OFF_MAGIC: usize = 0;
/// Byte offset of `version`.
pub const OFF_VERSION: usize = 4;
/// Byte offset of `kind`.
pub const OFF_KIND: usize = 8;
/// Byte offset of `capacity` (size of the data area in bytes).
pub const OFF_CAPACITY: usize = 12;
/// Byte offset of `record_size` (kind 2; 0 for kind 1).
pub const OFF_RECORD_SIZE: usize = 16;
/// Byte offset of `head`: the consumer position (free-running, wrapping `u32`).
pub const OFF_HEAD: usize = 128;
/// Byte offset of the consumer-waiting flag (0 or 1), see `docs/LAYOUT.md`.
pub const OFF_CONSUMER_WAITING: usize = 132;
/// Byte offset of `tail`: the producer position (free-running, wrapping `u32`).
pub const OFF_TAIL: usize = 256;
/// Size of the header; the data area starts here.
pub const HEADER_LEN: usize = 384;
/// Byte offset of the data area (same as [`HEADER_LEN`]).
pub const DATA_OFFSET: usize = HEADER_LEN;

/// `Int32Array` index of `head`.
pub const I32_HEAD: usize = OFF_HEAD / 4;
/// `Int32Array` index of the consumer-waiting flag.
pub const I32_CONSUMER_WAITING: usize = OFF_CONSUMER_WAITING / 4;
/// `Int32Array` index of `tail` (also the word a sleeping consumer waits on).
pub const I32_TAIL: usize = OFF_TAIL / 4;

/// Smallest data capacity in bytes.
pub const MIN_CAPACITY: usize = 64;
/// Largest data capacity in bytes (2^30).
pub const MAX_CAPACITY: usize = 1 << 30;
/// Required alignment of the region's start address (for the `u32` atomics).
/// 128 is recommended so head and tail sit on their own cache lines.
pub const REGION_ALIGN: usize = 4;

/// Length word written instead of a message length when the producer skips the
/// rest of the data area and continues at offset 0 (kind 1).
pub const WRAP_MARKER: u32 = 0xFFFF_FFFF;
/// Size of the length prefix of a byte message.
pub const LEN_PREFIX: usize = 4;

/// Total region length (header + data) for a data capacity.
pub const fn region_len(capacity: usize) -> usize {
    HEADER_LEN + capacity
}

/// Longest byte message a kind-1 ring of `capacity` accepts: `capacity / 2 - 4`.
/// This bound guarantees that a message always fits into an empty ring, even
/// when it needs a wrap marker first.
pub const fn max_message_len(capacity: usize) -> usize {
    capacity / 2 - LEN_PREFIX
}

/// Bytes a kind-1 message of `len` payload bytes occupies: the length prefix
/// plus the payload rounded up to a multiple of 4.
pub const fn message_footprint(len: usize) -> usize {
    LEN_PREFIX + ((len + 3) & !3)
}

/// Whether `capacity` is a valid data capacity (power of two in
/// [`MIN_CAPACITY`]`..=`[`MAX_CAPACITY`]).
pub const fn is_valid_capacity(capacity: usize) -> bool {
    capacity.is_power_of_two() && capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY
}

/// Whether `record_size` is valid for a kind-2 ring of `capacity`: a multiple of
/// 4 that divides the capacity (so, a power of two from 4 up to `capacity`).
pub const fn is_valid_record_size(capacity: usize, record_size: usize) -> bool {
    record_size >= 4
        && record_size <= capacity
        && record_size.is_multiple_of(4)
        && capacity.is_multiple_of(record_size)
}
