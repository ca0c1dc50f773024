//! The ring error type and its stable codes.

use std::fmt;

/// Errors returned by the rings. Each has a stable [`RingError::code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingError {
    /// Capacity is not a power of two or is outside the allowed range.
    /// Code `ERR_ZEROSOCK_RING_CAPACITY`.
    Capacity {
        /// The capacity that was asked for.
        requested: usize,
        /// Smallest allowed capacity.
        min: usize,
        /// Largest allowed capacity.
        max: usize,
    },
    /// A byte message is longer than the ring's maximum message length
    /// (`capacity / 2 - 4`). Code `ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE`.
    MessageTooLarge {
        /// Length of the rejected message.
        len: usize,
        /// Longest message this ring accepts.
        max: usize,
    },
    /// A record ring was given a record size it cannot use (not a multiple of 4,
    /// not dividing the capacity), or a record of the wrong length was pushed.
    /// Code `ERR_ZEROSOCK_RING_RECORD_SIZE`.
    RecordSize {
        /// The record size the ring expects (or 0 when the size itself is invalid).
        expected: usize,
        /// The size that was given.
        got: usize,
    },
    /// A shared-memory header did not validate (magic, version, kind, capacity,
    /// record size or positions). Code `ERR_ZEROSOCK_RING_BAD_HEADER`.
    BadHeader {
        /// Which field was wrong.
        reason: &'static str,
    },
    /// The memory handed to `init_at`/`attach` is null, misaligned (needs 4-byte
    /// alignment) or shorter than `HEADER_LEN + capacity`.
    /// Code `ERR_ZEROSOCK_RING_BAD_MEMORY`.
    BadMemory {
        /// What was wrong with the memory.
        reason: &'static str,
    },
    /// The peer (e.g. JS code sharing the ring) wrote positions or lengths that
    /// break the protocol. The ring must be discarded.
    /// Code `ERR_ZEROSOCK_RING_CORRUPT`.
    Corrupt {
        /// What was inconsistent.
        reason: &'static str,
    },
}

impl RingError {
    /// The stable error code, e.g. `"ERR_ZEROSOCK_RING_CAPACITY"`.
    pub fn code(&self) -> &'static str {
        match self {
            RingError::Capacity { .. } => "ERR_ZEROSOCK_RING_CAPACITY",
            RingError::MessageTooLarge { .. } => "ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE",
            RingError::RecordSize { .. } => "ERR_ZEROSOCK_RING_RECORD_SIZE",
            RingError::BadHeader { .. } => "ERR_ZEROSOCK_RING_BAD_HEADER",
            RingError::BadMemory { .. } => "ERR_ZEROSOCK_RING_BAD_MEMORY",
            RingError::Corrupt { .. } => "ERR_ZEROSOCK_RING_CORRUPT",
        }
    }
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        match self {
            RingError::Capacity {
                requested,
                min,
                max,
            } => write!(
                f,
                "{code}: capacity {requested} must be a power of two in {min}..={max}"
            ),
            RingError::MessageTooLarge { len, max } => {
                write!(
                    f,
                    "{code}: message of {len} bytes exceeds the maximum {max}"
                )
            }
            RingError::RecordSize { expected, got } => {
                write!(
                    f,
                    "{code}: record size {got} is invalid (expected {expected})"
                )
            }
            RingError::BadHeader { reason } => write!(f, "{code}: bad ring header: {reason}"),
            RingError::BadMemory { reason } => write!(f, "{code}: bad ring memory: {reason}"),
            RingError::Corrupt { reason } => write!(f, "{code}: ring corrupted by peer: {reason}"),
        }
    }
}

impl std::error::Error for RingError {}
