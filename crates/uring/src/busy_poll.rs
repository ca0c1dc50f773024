//! Busy polling before the event loop sleeps, with an adaptive budget.
//!
//! Right before the event loop blocks waiting for I/O, the JS thread may spin a few µs until the
//! engine has work ([`Engine::busy_wait`](crate::Engine::busy_wait)): a reply that comes back
//! within the spin is handled without a sleep and a wake-up (SO_BUSY_POLL's trade). How long it
//! spins adapts to how long the loop actually waits for the engine, like KVM's halt polling
//! (virt/kvm/kvm_main.c, `grow_halt_poll_ns` / `shrink_halt_poll_ns`):
//!
//! - a wait for engine work that ended within the *window* (twice the maximum) grows the budget
//!   (to a fifth of the maximum, then doubling, up to the maximum): spinning a little longer
//!   would likely have caught it, or the peer will answer faster once it spins too;
//! - a longer wait halves it, to 0 below a fifth of the maximum: the traffic is sparse, spinning
//!   only burns CPU.
//!
//! So request/response traffic with short gaps converges to spinning and sparse traffic to
//! sleeping, at most one short spin per long wait. It spins only after iterations in which the
//! engine had work, never when the loop would not block, and never past the next timer.

use std::time::{Duration, Instant};

/// How a busy wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpinEnd {
    /// The engine has work ([`Engine::poll`](crate::Engine::poll) will find it).
    Work,
    /// Something else the event loop watches is ready (it will not sleep).
    Other,
    /// The budget ran out.
    Budget,
}

/// The adaptive busy-poll budget of one engine's event loop (see the module docs).
#[derive(Debug, Clone)]
pub struct BusyPoll {
    max: Duration,
    budget: Duration,
    /// When the loop started waiting (spin included) after engine work without finding more;
    /// the next engine wake-up measures the wait from here.
    waiting_since: Option<Instant>,
    /// The engine had work since the last wait.
    hot: bool,
}

impl BusyPoll {
    /// Busy polling with budgets up to `max` (zero: off). It starts at 0 and grows.
    pub fn new(max: Duration) -> BusyPoll {
        BusyPoll {
            max,
            budget: Duration::ZERO,
            waiting_since: None,
            hot: false,
        }
    }

    /// Changes the maximum (zero turns busy polling off); the budget is cut to it.
    pub fn set_max(&mut self, max: Duration) {
        self.max = max;
        self.budget = self.budget.min(max);
        if max.is_zero() {
            self.waiting_since = None;
            self.hot = false;
        }
    }

    /// The budget the next spin gets (before the cut to the next timer).
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The engine handed out work (events) on this loop iteration.
    pub fn engine_work(&mut self) {
        self.hot = !self.max.is_zero();
    }

    /// The event loop woke up for the engine (its notify fd fired) at `now`.
    pub fn engine_woke(&mut self, now: Instant) {
        if let Some(since) = self.waiting_since.take() {
            self.adapt(now.saturating_duration_since(since));
        }
    }

    /// Right before the event loop blocks (libuv's `uv_backend_timeout` is `loop_timeout_ms`:
    /// 0 when it will not block, -1 with no timer, else ms to the next timer): how long to spin,
    /// if at all. After a spin, report how it ended with [`spun`](BusyPoll::spun).
    pub fn before_wait(&mut self, loop_timeout_ms: i32, now: Instant) -> Option<Duration> {
        if let Some(since) = self.waiting_since {
            // The loop woke for something else while waiting for the engine: the wait goes on,
            // unless it is already a long one.
            if now.saturating_duration_since(since) > self.window() {
                self.shrink();
                self.waiting_since = None;
            }
        }
        if !std::mem::take(&mut self.hot) || loop_timeout_ms == 0 {
            return None;
        }
        if self.budget.is_zero() {
            // No spin, but learn how long this wait for the engine turns out to be.
            self.waiting_since = Some(now);
            return None;
        }
        Some(match u64::try_from(loop_timeout_ms) {
            Ok(ms) => self.budget.min(Duration::from_millis(ms)),
            Err(_) => self.budget,
        })
    }

    /// A spin that began at `started` ended with `end`: unless it found engine work, the wait
    /// for the engine goes on from `started`.
    pub fn spun(&mut self, end: SpinEnd, started: Instant) {
        self.waiting_since = match end {
            SpinEnd::Work => None,
            SpinEnd::Other | SpinEnd::Budget => Some(started),
        };
    }

    /// Waits up to this long grow the budget; longer ones shrink it.
    fn window(&self) -> Duration {
        self.max * 2
    }

    /// The first budget, and the one below which a shrink goes to 0.
    fn step(&self) -> Duration {
        (self.max / 5).max(Duration::from_micros(1)).min(self.max)
    }

    fn adapt(&mut self, waited: Duration) {
        if waited <= self.window() {
            self.budget = if self.budget < self.step() {
                self.step()
            } else {
                (self.budget * 2).min(self.max)
            };
        } else {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        self.budget /= 2;
        if self.budget < self.step() {
            self.budget = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    /// One loop iteration after engine work: the loop waits `wait` for the engine's next work;
    /// a spin (if any) finds it when the wait is within the budget. Returns the spin budget.
    fn round(b: &mut BusyPoll, t: &mut Instant, wait: Duration) -> Option<Duration> {
        b.engine_work();
        let spin = b.before_wait(-1, *t);
        match spin {
            Some(budget) if wait <= budget => {
                b.spun(SpinEnd::Work, *t);
                *t += wait;
            }
            Some(_) => {
                b.spun(SpinEnd::Budget, *t);
                *t += wait;
                b.engine_woke(*t);
            }
            None => {
                *t += wait;
                b.engine_woke(*t);
            }
        }
        spin
    }

    #[test]
    fn short_waits_grow_the_budget_to_the_maximum() {
        let mut b = BusyPoll::new(50 * US);
        let mut t = Instant::now();
        assert_eq!(
            round(&mut b, &mut t, 90 * US),
            None,
            "starts without spinning"
        );
        assert_eq!(b.budget(), 10 * US, "a wait within 2x max grows to max/5");
        assert_eq!(round(&mut b, &mut t, 90 * US), Some(10 * US));
        assert_eq!(b.budget(), 20 * US);
        round(&mut b, &mut t, 90 * US);
        round(&mut b, &mut t, 90 * US);
        assert_eq!(b.budget(), 50 * US, "capped at the maximum");
        // Once the peer answers within the spin, nothing changes.
        for _ in 0..10 {
            assert_eq!(round(&mut b, &mut t, 12 * US), Some(50 * US));
        }
        assert_eq!(b.budget(), 50 * US);
    }

    #[test]
    fn sparse_traffic_stops_spinning() {
        let mut b = BusyPoll::new(50 * US);
        let mut t = Instant::now();
        for _ in 0..3 {
            round(&mut b, &mut t, 12 * US);
        }
        assert_eq!(
            b.budget(),
            20 * US,
            "grows only until the spin catches the reply"
        );
        round(&mut b, &mut t, Duration::from_millis(3));
        assert_eq!(b.budget(), 10 * US, "a long wait halves");
        round(&mut b, &mut t, Duration::from_millis(3));
        assert_eq!(b.budget(), Duration::ZERO, "below max/5: off");
        let mut spins = 0;
        for _ in 0..100 {
            spins += usize::from(round(&mut b, &mut t, Duration::from_millis(3)).is_some());
        }
        assert_eq!(spins, 0, "no spin at all once traffic is sparse");
    }

    #[test]
    fn only_after_engine_work_and_when_the_loop_would_block() {
        let mut b = BusyPoll::new(50 * US);
        let t = Instant::now();
        b.engine_work();
        b.before_wait(-1, t);
        b.engine_woke(t + US);
        assert_eq!(b.budget(), 10 * US);
        assert_eq!(b.before_wait(-1, t), None, "no engine work since");
        b.engine_work();
        assert_eq!(b.before_wait(0, t), None, "the loop will not block");
        b.engine_work();
        assert_eq!(b.before_wait(-1, t), Some(10 * US));
        b.spun(SpinEnd::Other, t);
        b.engine_work();
        b.budget = 50 * US;
        assert_eq!(
            b.before_wait(1, t),
            Some(50 * US),
            "a timer 1 ms away does not cut 50 µs"
        );
        b.spun(SpinEnd::Work, t);
        let mut long = BusyPoll::new(Duration::from_millis(5));
        long.budget = Duration::from_millis(5);
        long.engine_work();
        assert_eq!(
            long.before_wait(2, t),
            Some(Duration::from_millis(2)),
            "never past the next timer"
        );
    }

    #[test]
    fn a_wake_for_something_else_after_a_long_time_shrinks() {
        let mut b = BusyPoll::new(50 * US);
        b.budget = 40 * US;
        let t = Instant::now();
        b.engine_work();
        let spin = b.before_wait(-1, t).unwrap();
        b.spun(SpinEnd::Budget, t);
        // A timer, not the engine, woke the loop 1 ms later.
        assert_eq!(b.before_wait(-1, t + spin + Duration::from_millis(1)), None);
        assert_eq!(b.budget(), 20 * US);
    }

    #[test]
    fn other_wake_ups_do_not_hide_the_wait_for_the_engine() {
        let mut b = BusyPoll::new(Duration::from_millis(10));
        let t = Instant::now();
        b.engine_work();
        assert_eq!(b.before_wait(-1, t), None);
        // Other handles wake the loop twice (no engine work), then the engine's reply comes
        // 4 ms after the wait began: a wait within 2x max, so the budget grows.
        b.before_wait(-1, t + Duration::from_millis(1));
        b.before_wait(-1, t + Duration::from_millis(2));
        b.engine_woke(t + Duration::from_millis(4));
        assert_eq!(b.budget(), Duration::from_millis(2));
        // A spin cut short by another handle: the wait still counts from the spin's start.
        b.engine_work();
        let t = t + Duration::from_millis(5);
        assert!(b.before_wait(-1, t).is_some());
        b.spun(SpinEnd::Other, t);
        b.engine_woke(t + Duration::from_millis(4));
        assert_eq!(b.budget(), Duration::from_millis(4));
    }

    #[test]
    fn off_means_off() {
        let mut b = BusyPoll::new(Duration::ZERO);
        let mut t = Instant::now();
        for _ in 0..10 {
            assert_eq!(round(&mut b, &mut t, US), None);
        }
        let mut b = BusyPoll::new(50 * US);
        for _ in 0..5 {
            round(&mut b, &mut t, US);
        }
        b.set_max(Duration::ZERO);
        assert_eq!(b.budget(), Duration::ZERO);
        assert_eq!(round(&mut b, &mut t, US), None);
    }
}
