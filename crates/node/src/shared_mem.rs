//! Native memory that JS sees as one external `ArrayBuffer` (DESIGN.md §1): the event records
//! (native → JS) and the submission records (JS → native). The memory is freed when both the
//! engine and the `ArrayBuffer` let go of it, so a JS reference kept after `close()` stays valid.

use napi::bindgen_prelude::*;
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

/// A fixed block of `i32`s, shared between native code and one external `ArrayBuffer`.
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

    /// Raw pointer to the ints (for native reads and writes on the JS thread).
    pub fn ptr(&self) -> *mut i32 {
        self.mem.ptr
    }

    /// Number of ints.
    pub fn len(&self) -> usize {
        self.mem.len
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

    /// The block as an external `ArrayBuffer`; the buffer keeps the memory alive. Call once.
    pub fn array_buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let keep = Rc::clone(&self.mem);
        // SAFETY: the memory lives as long as `keep`, which the finalizer drops; the length is
        // the block's size in bytes.
        unsafe {
            ArrayBuffer::from_external(env, self.ptr().cast(), self.len() * 4, keep, |_, keep| {
                drop(keep)
            })
        }
    }
}
