//! The counters JS gets from `stats()`, each named once: a [`Stat`] table per object says the
//! JS name, what it counts and where it is read. The binding builds the JS object from the
//! table and ts/core/records.generated.ts declares its type from the same table.

use zerosock_pool::{ClassStats, PoolStats};
use zerosock_uring::{EngineStats, SubmitDebt};

/// One counter of a stats object.
pub struct Stat<S> {
    /// The JS property (camelCase).
    pub name: &'static str,
    /// What it counts (becomes the TS doc comment).
    pub doc: &'static str,
    /// Reads it.
    pub get: fn(&S) -> f64,
}

/// What an engine's `stats()` is read from.
pub struct StatsSources {
    /// The engine's counters.
    pub engine: EngineStats,
    /// The pool's counters.
    pub pool: PoolStats,
    /// Submission records refused.
    pub failed_records: u64,
    /// Turns that returned to the event loop owing a submit.
    pub stranded_submits: u64,
    /// Times the event loop woke for the engine.
    pub loop_wakeups: u64,
    /// Busy polling's budget now, µs.
    pub busy_poll_budget_us: u64,
}

/// A counter of a [`Stat`] table as a JS number.
fn num(v: u64) -> f64 {
    v as f64
}

/// An engine's `stats()`.
#[rustfmt::skip]
pub const ENGINE_STATS: &[Stat<StatsSources>] = &[
    Stat { name: "enters", doc: "io_uring_enter calls.", get: |s| num(s.engine.enters) },
    Stat { name: "epollWaits", doc: "epoll_wait calls.", get: |s| num(s.engine.epoll_waits) },
    Stat { name: "readCalls", doc: "read/recv calls (epoll backend).", get: |s| num(s.engine.read_calls) },
    Stat { name: "writeCalls", doc: "write/writev/send calls.", get: |s| num(s.engine.write_calls) },
    Stat { name: "sendOps", doc: "Writes (send completions / writev calls) that sent queued bytes.", get: |s| num(s.engine.send_ops) },
    Stat { name: "otherSyscalls", doc: "Other system calls on the hot path.", get: |s| num(s.engine.other_syscalls) },
    Stat { name: "sqes", doc: "SQEs queued.", get: |s| num(s.engine.sqes) },
    Stat { name: "cqes", doc: "CQEs reaped.", get: |s| num(s.engine.cqes) },
    Stat { name: "bytesIn", doc: "Bytes received.", get: |s| num(s.engine.bytes_in) },
    Stat { name: "bytesOut", doc: "Bytes sent.", get: |s| num(s.engine.bytes_out) },
    Stat { name: "recvEvents", doc: "Data events.", get: |s| num(s.engine.recv_events) },
    Stat { name: "copyBreaks", doc: "Data events copied into a small buffer (copy-break).", get: |s| num(s.engine.copy_breaks) },
    Stat { name: "recvBufferExhausted", doc: "Times receiving stopped for want of a free buffer.", get: |s| num(s.engine.recv_buffer_exhausted) },
    Stat { name: "accepted", doc: "Accepted connections.", get: |s| num(s.engine.accepted) },
    Stat { name: "openSockets", doc: "Sockets open now (listeners included).", get: |s| num(s.engine.open_sockets) },
    Stat { name: "poolInUse", doc: "Pool buffers out now.", get: |s| num(s.pool.in_use) },
    Stat { name: "poolHighWater", doc: "Most pool buffers out at once.", get: |s| num(s.pool.high_water) },
    Stat { name: "poolSmallRegions", doc: "Regions of small (copy-break) buffers mapped so far: 1, plus one per growth step.", get: |s| num(s.pool.classes.first().map_or(0, |c| u64::from(c.regions))) },
    Stat { name: "poolLargeRegions", doc: "Regions of large (receive, cork) buffers mapped so far: 1, plus one per growth step.", get: |s| num(s.pool.classes.get(1).map_or(0, |c| u64::from(c.regions))) },
    Stat { name: "poolAcquired", doc: "Pool acquires.", get: |s| num(s.pool.acquired) },
    Stat { name: "poolReleased", doc: "Pool releases.", get: |s| num(s.pool.released) },
    Stat { name: "failedRecords", doc: "Submission records refused (socket gone, handle not held by JS, ...).", get: |s| num(s.failed_records) },
    Stat { name: "strandedSubmits", doc: "Turns that returned to the event loop with work only a submit hands to the kernel (the engine submitted it then); always 0 unless a path forgot to flush.", get: |s| num(s.stranded_submits) },
    Stat { name: "loopWakeups", doc: "Times the event loop woke up for the engine (its notify fd was ready): what an idle connection must not cause.", get: |s| num(s.loop_wakeups) },
    Stat { name: "busyPolls", doc: "Busy-poll spins (`setBusyPoll`).", get: |s| num(s.engine.busy_polls) },
    Stat { name: "busyPollHits", doc: "Busy-poll spins that saw work arrive in their budget.", get: |s| num(s.engine.busy_poll_hits) },
    Stat { name: "busyPollYields", doc: "Busy-poll spins cut short because another handle of the loop was ready.", get: |s| num(s.engine.busy_poll_yields) },
    Stat { name: "busyPollSpunUs", doc: "Time spent spinning, µs.", get: |s| num(s.engine.busy_poll_spun_us) },
    Stat { name: "busyPollBudgetUs", doc: "The adaptive busy-poll budget now, µs.", get: |s| num(s.busy_poll_budget_us) },
    Stat { name: "zerocopySends", doc: "Zerocopy sends accepted.", get: |s| num(s.engine.zerocopy_sends) },
    Stat { name: "zerocopyBytes", doc: "Bytes of accepted zerocopy sends.", get: |s| num(s.engine.zerocopy_bytes) },
    Stat { name: "zerocopyCopiedBytes", doc: "Bytes of finished zerocopy sends the kernel copied.", get: |s| num(s.engine.zerocopy_copied_bytes) },
    Stat { name: "zerocopyCopiedSends", doc: "Finished zerocopy sends the kernel copied.", get: |s| num(s.engine.zerocopy_copied_sends) },
    Stat { name: "zerocopyDoneSends", doc: "Finished zerocopy sends.", get: |s| num(s.engine.zerocopy_done_sends) },
    Stat { name: "zerocopyFallbackSends", doc: "Zerocopy sends written as plain copies.", get: |s| num(s.engine.zerocopy_fallback_sends) },
    Stat { name: "zcWrites", doc: "Kernel zerocopy writes (MSG_ZEROCOPY sendmsg calls / SEND_ZC SQEs).", get: |s| num(s.engine.zc_writes) },
    Stat { name: "zcNotifications", doc: "Kernel zerocopy notifications received.", get: |s| num(s.engine.zc_notifications) },
    Stat { name: "zcDoneEvents", doc: "ZC_DONE events reported (ranges).", get: |s| num(s.engine.zc_done_events) },
    Stat { name: "zcEnobufs", doc: "MSG_ZEROCOPY writes refused with ENOBUFS.", get: |s| num(s.engine.zc_enobufs) },
    Stat { name: "zcLeakedSends", doc: "Zerocopy sends whose memory the kernel never gave back in time.", get: |s| num(s.engine.zc_leaked_sends) },
    Stat { name: "recvMappedBytes", doc: "Zerocopy receive: bytes mapped.", get: |s| num(s.engine.recv_mapped_bytes) },
    Stat { name: "recvCopiedBytes", doc: "Zerocopy receive: bytes that arrived by copy.", get: |s| num(s.engine.recv_copied_bytes) },
    Stat { name: "zcRecvCalls", doc: "TCP_ZEROCOPY_RECEIVE getsockopt calls.", get: |s| num(s.engine.zc_recv_calls) },
    Stat { name: "zcRecvFallbacks", doc: "Sockets that asked for zerocopy receive and got the plain path.", get: |s| num(s.engine.zc_recv_fallbacks) },
    Stat { name: "tlsHandshakes", doc: "TLS handshakes finished (the peer checked).", get: |s| num(s.engine.tls_handshakes) },
    Stat { name: "tlsFailures", doc: "TLS sessions that failed (refused certificate, alert, not TLS).", get: |s| num(s.engine.tls_failures) },
    Stat { name: "tlsPlainOut", doc: "Plaintext bytes encrypted for sending (TLS).", get: |s| num(s.engine.tls_plain_out) },
    Stat { name: "tlsPlainIn", doc: "Plaintext bytes decrypted from what was received (TLS).", get: |s| num(s.engine.tls_plain_in) },
    Stat { name: "zerocopySendsPerNotification", doc: "Zerocopy sends completed per kernel notification.", get: |s| per(s.engine.zerocopy_done_sends, s.engine.zc_notifications) },
];

/// What the engine owes a submit (`submitDebt()`, for stranded-submit reports).
#[rustfmt::skip]
pub const DEBT_STATS: &[Stat<SubmitDebt>] = &[
    Stat { name: "dirtySockets", doc: "Sockets whose queue (or FIN) waits to be written.", get: |d| d.dirty_sockets as f64 },
    Stat { name: "queuedBytes", doc: "Bytes queued on them.", get: |d| d.queued_bytes as f64 },
    Stat { name: "sqes", doc: "SQEs not yet submitted (io_uring).", get: |d| d.sqes as f64 },
    Stat { name: "unannouncedEvents", doc: "Events waiting with no wake-up announcing them.", get: |d| d.unannounced_events as f64 },
    Stat { name: "zerocopyDone", doc: "Sockets with unreported zerocopy completions.", get: |d| d.zerocopy_done as f64 },
];

/// `a / b`, 0 when `b` is 0.
fn per(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// What a one-class buffer pool's `stats()` is read from.
pub struct PoolClassSources {
    /// The class.
    pub class: ClassStats,
    /// Live owners (threads with a return ring).
    pub owners: usize,
}

/// A one-class buffer pool's `stats()` (`NativeBufferPool`).
#[rustfmt::skip]
pub const POOL_STATS: &[Stat<PoolClassSources>] = &[
    Stat { name: "size", doc: "Bytes per buffer.", get: |s| num(s.class.size as u64) },
    Stat { name: "capacity", doc: "Buffers mapped so far.", get: |s| num(s.class.capacity.into()) },
    Stat { name: "limit", doc: "Buffers the pool may ever have.", get: |s| num(s.class.limit.into()) },
    Stat { name: "regions", doc: "Regions mapped so far.", get: |s| num(s.class.regions.into()) },
    Stat { name: "acquired", doc: "Native acquires (all threads).", get: |s| num(s.class.acquired) },
    Stat { name: "released", doc: "Native releases (all threads, every path).", get: |s| num(s.class.released) },
    Stat { name: "recycledFromCache", doc: "Native acquires served from a thread's native cache.", get: |s| num(s.class.recycled_from_cache) },
    Stat { name: "misses", doc: "Native acquires that went to the shared free list (or grew the pool).", get: |s| num(s.class.misses) },
    Stat { name: "returnedViaRing", doc: "Releases on a non-owner thread pushed onto the owner's return ring.", get: |s| num(s.class.returned_via_ring) },
    Stat { name: "drainedFromRing", doc: "Buffers owners took back from their return rings.", get: |s| num(s.class.drained_from_ring) },
    Stat { name: "returnedToShared", doc: "Non-owner releases that went to the shared free list instead.", get: |s| num(s.class.returned_to_shared) },
    Stat { name: "grows", doc: "Growth steps.", get: |s| num(s.class.grows) },
    Stat { name: "exhausted", doc: "Acquires refused with `ERR_ZEROSOCK_POOL_EXHAUSTED`.", get: |s| num(s.class.exhausted) },
    Stat { name: "inUse", doc: "Buffers acquired and not yet released.", get: |s| num(s.class.in_use) },
    Stat { name: "highWater", doc: "Most buffers out at once.", get: |s| num(s.class.high_water) },
    Stat { name: "sharedFree", doc: "Free buffers on the shared free list now.", get: |s| num(s.class.shared_free as u64) },
    Stat { name: "owners", doc: "Live pool handles with a return ring.", get: |s| num(s.owners as u64) },
];

/// `(name, value)` of every counter of `table` read from `source`.
pub fn values<'a, S>(
    table: &'a [Stat<S>],
    source: &'a S,
) -> impl Iterator<Item = (&'static str, f64)> + 'a {
    table.iter().map(move |s| (s.name, (s.get)(source)))
}
