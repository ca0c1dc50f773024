//! Auto-cork (DESIGN.md §2–3): small sends are coalesced into pool buffers and flushed
//! together, so the peer is not woken per message. The copying happens in JS (no native call
//! per message); this crate holds the rules — [`CorkPolicy`] — and the flush accounting
//! ([`CorkStats`]), both tested here without Node and replayed against the JS implementation.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod policy;
mod replay;
mod stats;

pub use policy::{Append, CorkPolicy, Tick};
pub use replay::{replay, Out, Step};
pub use stats::CorkStats;

/// Why a cork buffer was flushed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FlushReason {
    /// The cork buffer (`maxBytes`) filled up.
    Full,
    /// The end of the current tick.
    EndOfTick,
    /// The `maxDelayUs` timer fired.
    Timer,
    /// An explicit `flush()` (or `cork: false`).
    Explicit,
    /// A large send flushed what was corked before it, to keep order.
    LargeSend,
    /// The in-flight flush this socket waited for completed.
    Completion,
    /// `end()` sealed what was corked before FIN.
    End,
}

impl FlushReason {
    /// Every reason, in stats order.
    pub const ALL: [FlushReason; 7] = [
        FlushReason::Full,
        FlushReason::EndOfTick,
        FlushReason::Timer,
        FlushReason::Explicit,
        FlushReason::LargeSend,
        FlushReason::Completion,
        FlushReason::End,
    ];

    /// The name used in `sock.stats().flushReasons`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlushReason::Full => "full",
            FlushReason::EndOfTick => "endOfTick",
            FlushReason::Timer => "timer",
            FlushReason::Explicit => "explicit",
            FlushReason::LargeSend => "largeSend",
            FlushReason::Completion => "completion",
            FlushReason::End => "end",
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
