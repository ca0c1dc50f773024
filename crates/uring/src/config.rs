//! [`EngineConfig`]: what an engine is built with.

use crate::backend_choice::BackendKind;
use zerosock_pool::Pool;

/// Settings of one engine.
#[derive(Clone)]
pub struct EngineConfig {
    /// Which backend to run (resolve `auto` with [`crate::BackendChoice::pick`] first).
    pub backend: BackendKind,
    /// Where every buffer comes from: class 0 small (copy-break), class 1 large (receive).
    pub pool: Pool,
    /// io_uring submission queue size (the completion queue gets 4x). Rounded up to a power
    /// of two; ignored by epoll.
    pub ring_entries: u32,
    /// Large buffers in the provided-buffer ring (io_uring; rounded up to a power of two,
    /// at most 32768). This bounds receive memory that the kernel holds.
    pub recv_buffers: u32,
    /// Reads shorter than this are copied into a small buffer so the large one is recycled
    /// at once. Clamped to the small class size; 0 disables copy-break.
    pub copy_break: usize,
    /// TCP_NODELAY on every connection.
    pub nodelay: bool,
    /// `send_copy` of at least this many bytes, on a socket with nothing queued or in
    /// flight, first tries one non-blocking send(2) and copies only what the kernel did not
    /// take (saves a copy, costs a system call outside `submit`). 0 disables it.
    pub direct_send_min: usize,
}

impl EngineConfig {
    /// Defaults: 1024 SQ entries, 256 receive buffers, copy-break 1024 bytes, TCP_NODELAY on,
    /// direct send from 64 KiB.
    pub fn new(backend: BackendKind, pool: Pool) -> Self {
        EngineConfig {
            backend,
            pool,
            ring_entries: 1024,
            recv_buffers: 256,
            copy_break: 1024,
            nodelay: true,
            direct_send_min: 64 * 1024,
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("backend", &self.backend)
            .field("ring_entries", &self.ring_entries)
            .field("recv_buffers", &self.recv_buffers)
            .field("copy_break", &self.copy_break)
            .field("nodelay", &self.nodelay)
            .field("direct_send_min", &self.direct_send_min)
            .finish_non_exhaustive()
    }
}
