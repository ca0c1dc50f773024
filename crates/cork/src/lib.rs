//! Auto-cork: coalesce small sends into pool buffers and decide when to flush.
//! (Grows with the auto-cork issue; see DESIGN.md §2–3.)
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

/// Why a cork buffer was flushed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FlushReason {
    /// The cork buffer filled up.
    Full,
    /// `maxBytes` was reached.
    MaxBytes,
    /// The end of the current tick.
    EndOfTick,
    /// The `maxDelayUs` timer fired.
    Timer,
    /// An explicit `flush()` or `end()`.
    Explicit,
    /// A large send flushed what was corked before it, to keep order.
    LargeSend,
}

impl FlushReason {
    /// Every reason, in stats order.
    pub const ALL: [FlushReason; 6] = [
        FlushReason::Full,
        FlushReason::MaxBytes,
        FlushReason::EndOfTick,
        FlushReason::Timer,
        FlushReason::Explicit,
        FlushReason::LargeSend,
    ];

    /// The name used in `sock.stats().flushReasons`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlushReason::Full => "full",
            FlushReason::MaxBytes => "maxBytes",
            FlushReason::EndOfTick => "endOfTick",
            FlushReason::Timer => "timer",
            FlushReason::Explicit => "explicit",
            FlushReason::LargeSend => "largeSend",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FlushReason;

    #[test]
    fn reason_names_are_distinct() {
        let mut names: Vec<_> = FlushReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FlushReason::ALL.len());
    }
}
