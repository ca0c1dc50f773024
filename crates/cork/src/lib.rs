//! zerosock-cork: a model of the JS auto-cork flush policy, used to test it.
//!
//! Auto-cork itself runs in JS: `Socket.send` copies small messages into the socket's cork
//! buffer and decides when they leave with the pure functions of `ts/net/socket/cork-policy.ts` — no native
//! call per message, and nothing in the engine (`zerosock-uring`) or the binding's data path
//! uses this crate. This crate states the same rules a second time, in Rust
//! ([`CorkPolicy`]), with a simulator of one socket ([`replay`]) and its flush accounting
//! ([`CorkStats`]), so they can be unit-tested without Node. The binding exposes [`replay`]
//! as `corkReplay` only for the conformance test (`__test__/cork-policy.spec.mjs`), which feeds
//! 2 000 random traces to both implementations and requires identical flushes. A change to the
//! rules is made in `ts/net/socket/cork-policy.ts` and here together; the test fails until both agree.
//!
//! The design of auto-cork (when corked bytes leave, and why) is in `docs/DESIGN.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

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
