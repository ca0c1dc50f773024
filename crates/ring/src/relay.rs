//! [`relay`]: forwards every message of one byte ring to another on the calling thread (or on
//! a thread of its own, [`RelayThread`]) — the native half of the JS↔native ring round trip
//! (`ringEchoStart` in the Node binding, the ring benchmark and tests).

use crate::{ByteConsumer, ByteProducer, RingError};
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(not(loom))]
use std::sync::Arc;
#[cfg(not(loom))]
use std::thread::JoinHandle;
use std::time::Duration;

/// Messages moved per round before the output is published to and checked for a sleeper.
const BATCH: usize = 256;

/// What [`relay`] moved (the end marker not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Messages forwarded.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Pops every message of `input` and pushes it to `output`, in order, until it has forwarded a
/// zero-length message (the end marker) or `stop` is set. Copies up to a batch of input
/// messages at a time (keeping what does not fit in `output` for the next round). When the
/// consumer of `output` went to sleep (its `consumer_waiting` flag), `wake` is called after
/// messages were published — give `None` if that consumer waits with a timeout instead.
/// An empty input or a full output is waited out politely (spins, yields, then sleeps up to
/// 1 ms, so `stop` is seen within about a millisecond).
///
/// Errors: a [`RingError`] when the other party broke the ring protocol.
pub fn relay(
    mut input: ByteConsumer,
    mut output: ByteProducer,
    stop: &AtomicBool,
    wake: Option<&dyn Fn()>,
) -> Result<RelayStats, RingError> {
    let mut stats = RelayStats::default();
    let mut arena: Vec<u8> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(BATCH);
    let mut next = 0;
    let mut ending = false;
    let mut backoff = Backoff::default();
    loop {
        let before = next;
        while let Some(&(start, len)) = spans.get(next) {
            if !output.push(&arena[start..start + len])? {
                break;
            }
            next += 1;
        }
        if next > before && output.should_notify() {
            if let Some(wake) = wake {
                wake();
            }
        }
        if next < spans.len() {
            // Output full: wait for its consumer.
            if stop.load(Ordering::Acquire) {
                return Ok(stats);
            }
            backoff.snooze();
            continue;
        }
        if ending || stop.load(Ordering::Acquire) {
            return Ok(stats);
        }
        arena.clear();
        spans.clear();
        next = 0;
        while spans.len() < BATCH {
            let popped = input.pop_with(|m| {
                let start = arena.len();
                arena.extend_from_slice(m);
                (start, m.len())
            })?;
            let Some((start, len)) = popped else { break };
            spans.push((start, len));
            if len == 0 {
                ending = true;
                break;
            }
            stats.messages += 1;
            stats.bytes += len as u64;
        }
        if spans.is_empty() {
            backoff.snooze();
        } else {
            backoff.reset();
        }
    }
}

/// Polite waiting: a few spins, then yields, then sleeps growing to 1 ms.
#[derive(Default)]
struct Backoff {
    step: u32,
}

impl Backoff {
    fn snooze(&mut self) {
        match self.step {
            0..6 => (0..1 << self.step).for_each(|_| std::hint::spin_loop()),
            6..10 => std::thread::yield_now(),
            _ => std::thread::sleep(Duration::from_micros(50 << (self.step - 10).min(4))),
        }
        self.step = (self.step + 1).min(14);
    }

    fn reset(&mut self) {
        self.step = 0;
    }
}

// Not under loom: loom's cells are not `Sync`, and a std thread cannot own a loom ring.
#[cfg(not(loom))]
/// What a [`RelayThread`] ended with: its stats, a protocol error, or `None` if it panicked.
pub type RelayOutcome = Option<Result<RelayStats, RingError>>;

/// [`relay`] on a thread of its own, until the end marker or [`RelayThread::stop`]. Dropping
/// it stops and joins the thread, so memory the rings live in may be freed after the drop.
#[cfg(not(loom))]
pub struct RelayThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<RelayStats, RingError>>>,
}

#[cfg(not(loom))]
impl RelayThread {
    /// Starts relaying `input` into `output` on a new thread named `name`; `wake` as for
    /// [`relay`].
    pub fn spawn(
        name: &str,
        input: ByteConsumer,
        output: ByteProducer,
        wake: Option<Box<dyn Fn() + Send>>,
    ) -> std::io::Result<RelayThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                relay(
                    input,
                    output,
                    &flag,
                    wake.as_deref().map(|w| w as &dyn Fn()),
                )
            })?;
        Ok(RelayThread {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread (at once, or after it forwarded the end marker) and waits for it;
    /// `None` if it was stopped before.
    pub fn stop(&mut self) -> Option<RelayOutcome> {
        self.stop.store(true, Ordering::Release);
        let thread = self.thread.take()?;
        Some(thread.join().ok())
    }

    /// Whether the thread has ended (end marker forwarded, error, or stopped).
    pub fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

#[cfg(not(loom))]
impl Drop for RelayThread {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use crate::ByteRing;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn forwards_everything_in_order_through_small_rings() {
        let (mut to_relay, relay_in) = ByteRing::new(1024).unwrap().split();
        let (relay_out, mut from_relay) = ByteRing::new(512).unwrap().split();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let t = std::thread::spawn(move || relay(relay_in, relay_out, &flag, None));
        const N: u32 = 5_000;
        let msg = |i: u32| -> Vec<u8> { (0..(i % 97) + 1).map(|k| (i + k) as u8).collect() };
        let (mut sent, mut got, mut bytes) = (0u32, 0u32, 0u64);
        let mut ended = false;
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got < N || !ended {
            assert!(Instant::now() < deadline, "stuck at {got} of {N}");
            while sent < N && to_relay.push(&msg(sent)).unwrap() {
                bytes += msg(sent).len() as u64;
                sent += 1;
            }
            if sent == N && !ended {
                ended = to_relay.push(&[]).unwrap();
            }
            while let Some(len) = from_relay.pop_into(&mut out).unwrap() {
                if len == 0 {
                    assert_eq!(got, N, "end marker last");
                    break;
                }
                assert_eq!(out, msg(got), "message {got}");
                got += 1;
            }
        }
        let stats = t.join().unwrap().unwrap();
        assert_eq!(
            stats,
            RelayStats {
                messages: N as u64,
                bytes
            }
        );
        assert!(!stop.load(Ordering::Acquire));
    }

    #[test]
    fn stops_when_asked_while_the_input_is_empty() {
        let (_keep, relay_in) = ByteRing::new(256).unwrap().split();
        let (relay_out, _out) = ByteRing::new(256).unwrap().split();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let t = std::thread::spawn(move || relay(relay_in, relay_out, &flag, None));
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::Release);
        assert_eq!(t.join().unwrap().unwrap(), RelayStats::default());
    }

    #[test]
    fn a_relay_thread_ends_at_the_marker_and_reports_once() {
        let (mut to_relay, relay_in) = ByteRing::new(1024).unwrap().split();
        let (relay_out, mut from_relay) = ByteRing::new(1024).unwrap().split();
        let mut t = RelayThread::spawn("relay-test", relay_in, relay_out, None).unwrap();
        assert!(to_relay.push(b"abc").unwrap() && to_relay.push(&[]).unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !t.finished() {
            assert!(Instant::now() < deadline, "relay thread did not end");
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut out = Vec::new();
        assert_eq!(from_relay.pop_into(&mut out).unwrap(), Some(3));
        let stats = t.stop().unwrap().unwrap().unwrap();
        assert_eq!((stats.messages, stats.bytes), (1, 3));
        assert!(t.stop().is_none(), "a second stop reports nothing");
    }
}
