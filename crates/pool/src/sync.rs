//! Synchronisation primitives, switched to loom's models under `cfg(loom)`.
//!
//! Only the state that takes part in the return handoff (per-buffer state
//! words, owner-slot words, the return rings) goes through loom. Statistics
//! counters always use `std` atomics (they are `Relaxed` bookkeeping and would
//! only blow up the model's state space), and the shared free lists use a
//! `std` mutex whose critical sections contain no loom operation.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64};

/// Back off inside a short spin-wait loop (`attempt` counts from 0).
#[cfg(not(loom))]
pub(crate) fn spin_wait(attempt: u32) {
    if attempt < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Back off inside a short spin-wait loop: lets loom schedule other threads.
#[cfg(loom)]
pub(crate) fn spin_wait(_attempt: u32) {
    loom::thread::yield_now();
}
