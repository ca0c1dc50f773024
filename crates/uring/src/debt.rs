//! [`SubmitDebt`]: work an engine holds that only a submit (or a poll) hands to the kernel.
//!
//! Calls such as `send_copy()` may leave work behind on purpose — a direct write's remainder, a
//! queue to gather with the next sends, SQEs to submit in one `io_uring_enter` — and rely on
//! the caller to submit at the end of its turn. Whatever a binding returns to its event loop
//! with still owed is stranded: nothing wakes the loop for it. `Engine::debt()` is the one
//! place that says what is owed, for both backends, so a binding can settle it at the end of
//! every turn and a test can assert that it never had to.

/// What an engine holds that needs a submit. `is_empty()` when nothing does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitDebt {
    /// Sockets whose send queue (or a wanted FIN) waits to be turned into writes / SQEs.
    pub dirty_sockets: usize,
    /// Bytes queued on those sockets and not yet handed to the kernel.
    pub queued_bytes: usize,
    /// SQEs (and SQ backlog) queued and not yet submitted (io_uring; 0 on epoll).
    pub sqes: usize,
    /// Events (e.g. the `Sent` of a direct write) waiting to be handed out with no wake-up of
    /// the notify fd announcing them.
    pub unannounced_events: usize,
    /// Sockets with finished zerocopy sends not yet reported.
    pub zerocopy_done: usize,
}

impl SubmitDebt {
    /// Nothing is owed: returning to the event loop now strands nothing.
    pub fn is_empty(&self) -> bool {
        self.dirty_sockets == 0
            && self.sqes == 0
            && self.unannounced_events == 0
            && self.zerocopy_done == 0
    }
}

impl std::fmt::Display for SubmitDebt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} dirty socket(s) with {} queued byte(s), {} unsubmitted SQE(s), {} unannounced \
             event(s), {} socket(s) with unreported zerocopy completions",
            self.dirty_sockets,
            self.queued_bytes,
            self.sqes,
            self.unannounced_events,
            self.zerocopy_done
        )
    }
}
