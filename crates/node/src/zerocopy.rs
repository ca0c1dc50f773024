//! Zerocopy pieces of the binding (conversion only; the logic is in zerosock_uring):
//!
//! - [`Pins`]: JS memory lent to a zerocopy send. `pinZeroCopy(bytes)` records the address of a
//!   `Uint8Array` the JS side keeps referenced until the send's completion (so V8 keeps the
//!   backing store, whose address never moves); the next `SEND_ZC` record names it by token, so
//!   the send keeps its place among the other records of the tick.
//! - [`MappedLends`]: zerocopy-receive chunks lent to JS. Each `MAPPED` event gets a release
//!   token; `mappedBuffer(token)` makes an external `ArrayBuffer` over the mapped (read-only)
//!   bytes, and the release (a `RELEASE` record with handle hi 0) detaches that `ArrayBuffer`
//!   before the pages are unmapped, so a view kept too long reads nothing instead of faulting.

use napi::sys;
use std::collections::HashMap;
use zerosock_uring::{Engine, MappedMemory};

/// JS memory waiting for its `SEND_ZC` record: token → (address, length).
#[derive(Default)]
pub struct Pins {
    next: u32,
    pinned: HashMap<u32, (usize, u32)>,
}

impl Pins {
    /// Records `len` bytes at `ptr`; returns the token for the `SEND_ZC` record.
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

/// One lent receive chunk.
struct Lend {
    window: u32,
    chunk: u32,
    len: u32,
    /// The `ArrayBuffer` made for it, if JS asked.
    buffer: Option<sys::napi_ref>,
}

/// Receive chunks lent to JS, by release token.
#[derive(Default)]
pub struct MappedLends {
    next: u32,
    lends: HashMap<u32, Lend>,
}

/// A raw JS value returned as is.
pub struct RawValue(pub sys::napi_value);

impl napi::bindgen_prelude::ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl napi::bindgen_prelude::TypeName for RawValue {
    fn type_name() -> &'static str {
        "ArrayBuffer"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

unsafe extern "C" fn drop_keep(
    _env: sys::napi_env,
    _data: *mut std::ffi::c_void,
    hint: *mut std::ffi::c_void,
) {
    // SAFETY: `hint` is the Box<MappedMemory> leaked in `MappedLends::buffer`, finalized once.
    drop(unsafe { Box::from_raw(hint.cast::<MappedMemory>()) });
}

impl MappedLends {
    /// Lends chunk `chunk` of `window` (`len` bytes); returns its release token (never 0 and
    /// below 2^31, so it fits the record's handle-lo int).
    pub fn lend(&mut self, window: u32, chunk: u32, len: u32) -> i32 {
        self.next = (self.next + 1) & 0x7FFF_FFFF;
        if self.next == 0 {
            self.next = 1;
        }
        self.lends.insert(
            self.next,
            Lend {
                window,
                chunk,
                len,
                buffer: None,
            },
        );
        self.next as i32
    }

    /// The `ArrayBuffer` over a lent chunk's bytes (made once per lend).
    ///
    /// # Safety
    /// `env` is the live env of the JS thread that owns `engine`.
    pub unsafe fn buffer(
        &mut self,
        env: sys::napi_env,
        engine: &Engine,
        token: u32,
    ) -> napi::Result<RawValue> {
        let lend = self.lends.get_mut(&token).ok_or_else(|| {
            crate::errors::coded(
                "ERR_ZEROSOCK_BUFFER_RELEASED",
                "that mapped chunk was released already",
            )
        })?;
        let mut value = std::ptr::null_mut();
        if let Some(r) = lend.buffer {
            // SAFETY: `r` is a strong reference made below on this env.
            unsafe { sys::napi_get_reference_value(env, r, &mut value) };
            return Ok(RawValue(value));
        }
        let (ptr, keep) = engine
            .mapped_chunk(lend.window, lend.chunk)
            .ok_or_else(|| {
                crate::errors::coded("ERR_ZEROSOCK_INTERNAL", "the mapped chunk is not lent")
            })?;
        let hint = Box::into_raw(Box::new(keep));
        // SAFETY: `ptr..ptr + len` is mapped, readable memory that stays reserved while `hint`
        // lives (the finalizer drops it); the chunk is only unmapped after `release` detached
        // this buffer.
        let status = unsafe {
            sys::napi_create_external_arraybuffer(
                env,
                ptr as *mut std::ffi::c_void,
                lend.len as usize,
                Some(drop_keep),
                hint.cast(),
                &mut value,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: not handed to napi; ours to drop.
            drop(unsafe { Box::from_raw(hint) });
            return Err(crate::errors::coded(
                "ERR_ZEROSOCK_INTERNAL",
                format!("external ArrayBuffer refused (napi status {status})"),
            ));
        }
        let mut r = std::ptr::null_mut();
        // SAFETY: `value` is a live value of this env.
        unsafe { sys::napi_create_reference(env, value, 1, &mut r) };
        lend.buffer = Some(r);
        Ok(RawValue(value))
    }

    /// Gives a chunk back: detaches its `ArrayBuffer` (every view of it becomes empty), then
    /// lets the engine unmap the pages. Returns false for an unknown token.
    ///
    /// # Safety
    /// `env`, when given, is the live env the buffers were made on.
    pub unsafe fn release(
        &mut self,
        env: Option<sys::napi_env>,
        engine: &mut Engine,
        token: u32,
    ) -> bool {
        let Some(lend) = self.lends.remove(&token) else {
            return false;
        };
        if lend.buffer.is_some() && env.is_none() {
            // Can't detach the views: keep the chunk lent (leaked) rather than unmap under them.
            self.lends.insert(token, lend);
            return false;
        }
        if let (Some(r), Some(env)) = (lend.buffer, env) {
            let mut value = std::ptr::null_mut();
            // SAFETY: `r` is our strong reference on this env; detaching an external
            // ArrayBuffer is allowed and leaves its views empty.
            unsafe {
                sys::napi_get_reference_value(env, r, &mut value);
                sys::napi_detach_arraybuffer(env, value);
                sys::napi_delete_reference(env, r);
            }
        }
        engine.release_mapped(lend.window, lend.chunk).is_ok()
    }
}
