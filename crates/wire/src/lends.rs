//! Zerocopy-receive chunks lent to JS. Each `MAPPED` event gets a release token; the binding
//! may make an `ArrayBuffer` over the mapped (read-only) bytes, and a release (a `RELEASE`
//! record with handle hi 0) first asks the binding to detach that buffer ([`Views`]) before
//! the engine unmaps the pages, so a view kept too long reads nothing instead of faulting.

use std::collections::HashMap;

/// One lent receive chunk: `len` bytes of chunk `chunk` of mapped window `window`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Lend {
    /// The engine's mapped window.
    pub window: u32,
    /// The chunk in it.
    pub chunk: u32,
    /// Bytes lent.
    pub len: u32,
}

/// What the binding made over lent chunks (JS `ArrayBuffer`s).
pub trait Views {
    /// Chunk `token` is about to be unmapped: make every view of it empty. False when that is
    /// impossible now; the chunk then stays lent (leaked) rather than unmapped under a view.
    fn detach(&mut self, token: u32) -> bool;
}

/// No views at all (tests, fuzzing).
impl Views for () {
    fn detach(&mut self, _token: u32) -> bool {
        true
    }
}

/// Receive chunks lent to JS, by release token.
#[derive(Default)]
pub struct MappedLends {
    next: u32,
    lends: HashMap<u32, Lend>,
}

impl MappedLends {
    /// Lends a chunk; returns its release token (never 0 and below 2^31, so it fits the
    /// record's handle-lo int).
    pub fn lend(&mut self, lend: Lend) -> i32 {
        self.next = (self.next + 1) & 0x7FFF_FFFF;
        if self.next == 0 {
            self.next = 1;
        }
        self.lends.insert(self.next, lend);
        self.next as i32
    }

    /// The chunk lent under `token`.
    pub fn get(&self, token: u32) -> Option<Lend> {
        self.lends.get(&token).copied()
    }

    /// Ends the lend of `token` once `views` detached it; the caller unmaps the chunk.
    pub fn end(&mut self, token: u32, views: &mut dyn Views) -> Option<Lend> {
        self.lends.get(&token)?;
        if !views.detach(token) {
            return None;
        }
        self.lends.remove(&token)
    }
}
