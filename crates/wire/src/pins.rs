//! JS memory lent to a zerocopy send. `pinZeroCopy(bytes)` records the address of a
//! `Uint8Array` that JS keeps referenced until the send's completion (V8 keeps the backing
//! store, whose address never moves); the next `SEND_ZC` record names it by token, so the send
//! keeps its place among the other records of the tick.

use std::collections::HashMap;

/// JS memory waiting for its `SEND_ZC` record: token → (address, length).
#[derive(Default)]
pub struct Pins {
    next: u32,
    pinned: HashMap<u32, (usize, u32)>,
}

impl Pins {
    /// Records `len` bytes at `ptr`; returns the token for the `SEND_ZC` record (never 0).
    pub fn pin(&mut self, ptr: *const u8, len: u32) -> u32 {
        self.next = self.next.wrapping_add(1).max(1);
        self.pinned.insert(self.next, (ptr as usize, len));
        self.next
    }

    /// Takes a pinned range by token (each token is used once).
    pub fn take(&mut self, token: u32) -> Option<(*const u8, u32)> {
        self.pinned.remove(&token).map(|(p, l)| (p as *const u8, l))
    }
}
