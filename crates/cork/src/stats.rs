//! [`CorkStats`]: what a socket's corking did (`sock.stats()` in JS).

use crate::FlushReason;

/// Flush accounting of one socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorkStats {
    /// Messages sent.
    pub messages: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Flushes of corked bytes.
    pub flushes: u64,
    /// Bytes those flushes carried.
    pub flushed_bytes: u64,
    /// Flushes by reason, in [`FlushReason::ALL`] order.
    pub reasons: [u64; FlushReason::ALL.len()],
}

impl CorkStats {
    /// Counts one flush of `bytes` for `reason`.
    pub fn flushed(&mut self, reason: FlushReason, bytes: usize) {
        self.flushes += 1;
        self.flushed_bytes += bytes as u64;
        let i = FlushReason::ALL
            .iter()
            .position(|r| *r == reason)
            .expect("every reason is in ALL");
        self.reasons[i] += 1;
    }

    /// Average bytes per flush (0 before the first).
    pub fn bytes_per_flush(&self) -> f64 {
        if self.flushes == 0 {
            0.0
        } else {
            self.flushed_bytes as f64 / self.flushes as f64
        }
    }

    /// Flushes for `reason`.
    pub fn reason(&self, reason: FlushReason) -> u64 {
        FlushReason::ALL
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |i| self.reasons[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_and_reasons() {
        let mut s = CorkStats::default();
        assert_eq!(s.bytes_per_flush(), 0.0);
        s.flushed(FlushReason::EndOfTick, 100);
        s.flushed(FlushReason::Full, 300);
        assert_eq!(s.bytes_per_flush(), 200.0);
        assert_eq!(s.reason(FlushReason::Full), 1);
        assert_eq!(s.reason(FlushReason::Timer), 0);
    }
}
