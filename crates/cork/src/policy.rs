//! [`CorkPolicy`]: when corked bytes leave — the Rust model of the rules `ts/net/socket/cork-policy.ts` applies on
//! the hot path (with no native call per message). A conformance test replays random traces
//! through both and requires identical decisions.
//!
//! The rules, after Linux TCP autocorking and skmsg's cork:
//! - a message that doesn't fit in the cork buffer seals the buffer first (`Full`);
//! - a message of `large_send` bytes or more bypasses the cork buffer, sealing it first so
//!   order holds (`LargeSend`);
//! - at the end of a tick corked bytes leave (`EndOfTick`) — unless an earlier flush of the
//!   socket is still with the kernel and `max_delay_us > 0`: then they wait for that flush's
//!   completion (`Completion`) or the delay (`Timer`), whichever comes first, coalescing more;
//! - `flush()` (`Explicit`) and `end()` (`End`) always seal.
//!
//! A send after idle has nothing in flight, so it never waits for the timer.

use crate::FlushReason;

/// Settings of one socket's corking.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CorkPolicy {
    /// Capacity of a cork buffer (`cork.maxBytes`, at most one pool buffer).
    pub max_bytes: usize,
    /// How long corked bytes may wait for an in-flight flush (`cork.maxDelayUs`); 0 never waits.
    pub max_delay_us: u32,
    /// Messages this big or bigger bypass the cork buffer.
    pub large_send: usize,
    /// `cork: false`: every message is sealed on its own.
    pub enabled: bool,
}

impl Default for CorkPolicy {
    fn default() -> Self {
        CorkPolicy {
            max_bytes: 64 * 1024,
            max_delay_us: 50,
            large_send: 16 * 1024,
            enabled: true,
        }
    }
}

/// What to do with one outgoing message of `len` bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Append {
    /// Copy it into the current cork buffer.
    Cork,
    /// Seal the current buffer (`Full`), then copy it into a fresh one.
    SealThenCork,
    /// Seal the current buffer (`LargeSend`) and send the message on its own.
    Bypass,
}

/// What to do at the end of a tick.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Nothing is corked.
    Idle,
    /// Seal now (`EndOfTick`).
    Flush,
    /// Keep corking until the in-flight flush completes or `max_delay_us` passes.
    Hold,
}

impl CorkPolicy {
    /// Where a message of `len` bytes goes when `corked` bytes are already corked.
    pub fn append(&self, corked: usize, len: usize) -> Append {
        if len >= self.large_send || len > self.max_bytes {
            Append::Bypass
        } else if corked > 0 && corked + len > self.max_bytes {
            Append::SealThenCork
        } else {
            Append::Cork
        }
    }

    /// Whether the message just corked must be sealed at once (`cork: false`).
    pub fn seal_each(&self) -> bool {
        !self.enabled
    }

    /// The end-of-tick decision. `in_flight` = bytes of earlier flushes not yet completed.
    pub fn end_of_tick(&self, corked: usize, in_flight: usize, ending: bool) -> Tick {
        if corked == 0 {
            Tick::Idle
        } else if in_flight > 0 && self.max_delay_us > 0 && self.enabled && !ending {
            Tick::Hold
        } else {
            Tick::Flush
        }
    }

    /// A flush completed; `in_flight` is what is still with the kernel. Held bytes leave
    /// (`Completion`) once nothing earlier is in flight.
    pub fn on_completion(
        &self,
        corked: usize,
        in_flight: usize,
        holding: bool,
    ) -> Option<FlushReason> {
        (holding && corked > 0 && in_flight == 0).then_some(FlushReason::Completion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_cork_until_the_buffer_is_full() {
        let p = CorkPolicy::default();
        assert_eq!(p.append(0, 64), Append::Cork);
        assert_eq!(p.append(64 * 1024 - 64, 64), Append::Cork);
        assert_eq!(p.append(64 * 1024 - 63, 64), Append::SealThenCork);
    }

    #[test]
    fn large_messages_bypass_and_seal_first() {
        let p = CorkPolicy::default();
        assert_eq!(p.append(10, 16 * 1024), Append::Bypass);
        let tiny = CorkPolicy {
            max_bytes: 100,
            ..CorkPolicy::default()
        };
        assert_eq!(tiny.append(0, 101), Append::Bypass);
    }

    #[test]
    fn a_send_after_idle_flushes_at_the_end_of_the_tick() {
        let p = CorkPolicy::default();
        assert_eq!(p.end_of_tick(0, 0, false), Tick::Idle);
        assert_eq!(p.end_of_tick(64, 0, false), Tick::Flush);
    }

    #[test]
    fn in_flight_data_makes_new_bytes_wait_for_its_completion() {
        let p = CorkPolicy::default();
        assert_eq!(p.end_of_tick(64, 4096, false), Tick::Hold);
        assert_eq!(p.on_completion(64, 1024, true), None);
        assert_eq!(p.on_completion(64, 0, true), Some(FlushReason::Completion));
        assert_eq!(p.on_completion(64, 0, false), None);
    }

    #[test]
    fn ending_disabled_or_zero_delay_never_holds() {
        let p = CorkPolicy::default();
        assert_eq!(p.end_of_tick(64, 4096, true), Tick::Flush);
        let no_delay = CorkPolicy {
            max_delay_us: 0,
            ..CorkPolicy::default()
        };
        assert_eq!(no_delay.end_of_tick(64, 4096, false), Tick::Flush);
        let off = CorkPolicy {
            enabled: false,
            ..CorkPolicy::default()
        };
        assert!(off.seal_each());
        assert_eq!(off.end_of_tick(64, 4096, false), Tick::Flush);
    }
}
