//! [`replay`]: runs one socket's corking over a trace of steps and returns its flushes. The JS
//! implementation (`ts/net/socket/cork-policy.ts`) has the same simulator; the ava suite feeds both the same
//! random traces (through the binding's `corkReplay`) and requires the same output.

use crate::policy::{Append, CorkPolicy, Tick};
use crate::stats::CorkStats;
use crate::FlushReason;

/// One thing that happens to a socket.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `send()` of a message of this many bytes.
    Send(usize),
    /// `flush()`.
    Flush,
    /// The end of the current tick.
    EndOfTick,
    /// The kernel took this many bytes of earlier flushes.
    Complete(usize),
    /// The `maxDelayUs` timer fired.
    Timer,
    /// `end()`.
    End,
}

/// What left the socket: corked bytes sealed for a reason, or a large message sent directly.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Out {
    /// Corked bytes sealed.
    Flush(FlushReason, usize),
    /// A message that bypassed the cork buffer.
    Direct(usize),
}

#[derive(Default)]
struct Socket {
    corked: usize,
    in_flight: usize,
    holding: bool,
    ending: bool,
}

impl Socket {
    fn seal(&mut self, reason: FlushReason, out: &mut Vec<Out>, stats: &mut CorkStats) {
        if self.corked == 0 {
            return;
        }
        out.push(Out::Flush(reason, self.corked));
        stats.flushed(reason, self.corked);
        self.in_flight += self.corked;
        self.corked = 0;
        self.holding = false;
    }
}

/// Replays `steps` under `policy`.
pub fn replay(policy: &CorkPolicy, steps: &[Step]) -> (Vec<Out>, CorkStats) {
    let mut s = Socket::default();
    let mut out = Vec::new();
    let mut stats = CorkStats::default();
    for step in steps {
        match *step {
            Step::Send(len) if !s.ending => {
                stats.messages += 1;
                stats.bytes += len as u64;
                match policy.append(s.corked, len) {
                    Append::Cork => s.corked += len,
                    Append::SealThenCork => {
                        s.seal(FlushReason::Full, &mut out, &mut stats);
                        s.corked = len;
                    }
                    Append::Bypass => {
                        s.seal(FlushReason::LargeSend, &mut out, &mut stats);
                        out.push(Out::Direct(len));
                        s.in_flight += len;
                    }
                }
                if policy.seal_each() {
                    s.seal(FlushReason::Explicit, &mut out, &mut stats);
                }
            }
            Step::Send(_) => {}
            Step::Flush => s.seal(FlushReason::Explicit, &mut out, &mut stats),
            Step::EndOfTick => match policy.end_of_tick(s.corked, s.in_flight, s.ending) {
                Tick::Idle => {}
                Tick::Flush => s.seal(FlushReason::EndOfTick, &mut out, &mut stats),
                Tick::Hold => s.holding = true,
            },
            Step::Complete(bytes) => {
                s.in_flight -= bytes.min(s.in_flight);
                if let Some(reason) = policy.on_completion(s.corked, s.in_flight, s.holding) {
                    s.seal(reason, &mut out, &mut stats);
                }
            }
            Step::Timer => {
                if s.holding {
                    s.seal(FlushReason::Timer, &mut out, &mut stats);
                }
            }
            Step::End => {
                s.seal(FlushReason::End, &mut out, &mut stats);
                s.ending = true;
            }
        }
    }
    (out, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sustained_small_sends_coalesce_behind_the_in_flight_flush() {
        let p = CorkPolicy::default();
        let mut steps = vec![Step::Send(64), Step::EndOfTick];
        for _ in 0..10 {
            steps.extend([Step::Send(64), Step::Send(64), Step::EndOfTick]);
        }
        steps.push(Step::Complete(64));
        let (out, stats) = replay(&p, &steps);
        assert_eq!(
            out,
            vec![
                Out::Flush(FlushReason::EndOfTick, 64),
                Out::Flush(FlushReason::Completion, 1280)
            ]
        );
        assert_eq!(stats.messages, 21);
        assert_eq!(stats.bytes_per_flush(), 672.0);
    }

    #[test]
    fn order_is_kept_around_large_sends() {
        let p = CorkPolicy::default();
        let (out, _) = replay(
            &p,
            &[Step::Send(10), Step::Send(20_000), Step::Send(5), Step::End],
        );
        assert_eq!(
            out,
            vec![
                Out::Flush(FlushReason::LargeSend, 10),
                Out::Direct(20_000),
                Out::Flush(FlushReason::End, 5)
            ]
        );
    }

    #[test]
    fn the_timer_releases_held_bytes_and_sends_after_end_are_ignored() {
        let p = CorkPolicy::default();
        let steps = [
            Step::Send(100),
            Step::EndOfTick,
            Step::Send(7),
            Step::EndOfTick,
            Step::Timer,
            Step::End,
            Step::Send(1),
            Step::EndOfTick,
        ];
        let (out, stats) = replay(&p, &steps);
        assert_eq!(
            out,
            vec![
                Out::Flush(FlushReason::EndOfTick, 100),
                Out::Flush(FlushReason::Timer, 7)
            ]
        );
        assert_eq!(stats.messages, 2);
    }
}
