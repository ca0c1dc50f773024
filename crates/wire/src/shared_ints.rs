//! Native memory that JS sees as one external `ArrayBuffer`: the event records (native → JS),
//! the submission records (JS → native) and a buffer pool's cache block. The memory is freed
//! when the last clone lets go of it, so the binding hands a clone to the `ArrayBuffer`'s
//! finalizer and a JS reference kept after the engine closed stays valid.

use std::rc::Rc;

/// The allocation; only ever accessed through its raw pointer (JS writes it too).
struct RawInts {
    ptr: *mut i32,
    len: usize,
}

impl RawInts {
    fn layout(len: usize) -> std::alloc::Layout {
        std::alloc::Layout::array::<i32>(len.max(1)).expect("shared ints layout")
    }
}

impl Drop for RawInts {
    fn drop(&mut self) {
        // SAFETY: allocated in `SharedInts::new` with this layout; dropped once (last Rc).
        unsafe { std::alloc::dealloc(self.ptr.cast(), RawInts::layout(self.len)) };
    }
}

/// A fixed block of `i32`s shared between native code and JS on one thread. Clones share the
/// block.
#[derive(Clone)]
pub struct SharedInts {
    mem: Rc<RawInts>,
}

impl SharedInts {
    /// A zeroed block of `len` ints.
    pub fn new(len: usize) -> SharedInts {
        // SAFETY: the layout has a non-zero size (len.max(1)).
        let ptr = unsafe { std::alloc::alloc_zeroed(RawInts::layout(len)) } as *mut i32;
        if ptr.is_null() {
            std::alloc::handle_alloc_error(RawInts::layout(len));
        }
        SharedInts {
            mem: Rc::new(RawInts { ptr, len }),
        }
    }

    /// Raw pointer to the ints (what JS's `ArrayBuffer` points at).
    pub fn ptr(&self) -> *mut i32 {
        self.mem.ptr
    }

    /// Number of ints.
    pub fn len(&self) -> usize {
        self.mem.len
    }

    /// Whether the block has no ints.
    pub fn is_empty(&self) -> bool {
        self.mem.len == 0
    }

    /// Writes `values` at `at` (bounds-checked).
    pub fn write(&self, at: usize, values: &[i32]) {
        assert!(at + values.len() <= self.len(), "shared ints out of bounds");
        // SAFETY: in bounds (checked above); JS only touches this memory on the same thread and
        // never while native code runs, so there is no concurrent access.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.ptr().add(at), values.len()) };
    }

    /// Reads the int at `at` (bounds-checked).
    pub fn read(&self, at: usize) -> i32 {
        assert!(at < self.len(), "shared ints out of bounds");
        // SAFETY: in bounds; same-thread access only (see `write`).
        unsafe { self.ptr().add(at).read() }
    }
}
