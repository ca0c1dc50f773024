//! JS views of zerocopy-receive chunks (`mappedBuffer(token)`): an external `ArrayBuffer` over
//! the mapped (read-only) bytes of a chunk `zerosock_wire::Session` lent to JS. When JS
//! releases the chunk, the session asks [`MappedViews::detach`] first, so every view of it is
//! empty before the pages are unmapped.

use crate::errors::{coded, Result};
use napi::sys;
use std::collections::HashMap;
use zerosock_uring::MappedMemory;
use zerosock_wire::{Session, Views};

/// The `ArrayBuffer`s made over lent chunks, by release token, and the env they live on.
#[derive(Default)]
pub struct MappedViews {
    /// Set by `start` (the engine's JS thread); without it no view can be detached.
    pub env: Option<sys::napi_env>,
    buffers: HashMap<u32, sys::napi_ref>,
}

/// A raw JS value returned as is.
pub struct RawValue(sys::napi_value);

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
    // SAFETY: `hint` is the Box<MappedMemory> leaked in `MappedViews::buffer`, finalized once.
    drop(unsafe { Box::from_raw(hint.cast::<MappedMemory>()) });
}

impl MappedViews {
    /// The `ArrayBuffer` over the chunk lent under `token` (made once per lend).
    ///
    /// # Safety
    /// `env` is the live env of the JS thread that owns `session`.
    pub unsafe fn buffer(
        &mut self,
        env: sys::napi_env,
        session: &Session,
        token: u32,
    ) -> Result<RawValue> {
        let mut value = std::ptr::null_mut();
        if let Some(&r) = self.buffers.get(&token) {
            // SAFETY: `r` is a strong reference made below on this env.
            unsafe { sys::napi_get_reference_value(env, r, &mut value) };
            return Ok(RawValue(value));
        }
        let released = || {
            coded(
                "ERR_ZEROSOCK_BUFFER_RELEASED",
                "that mapped chunk was released already",
            )
        };
        let (lend, ptr, keep) = session.lent_chunk(token).ok_or_else(released)?;
        let hint = Box::into_raw(Box::new(keep));
        // SAFETY: `ptr..ptr + len` is mapped, readable memory that stays reserved while `hint`
        // lives (the finalizer drops it); the chunk is only unmapped after `detach` below.
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
            let msg = format!("external ArrayBuffer refused (napi status {status})");
            return Err(coded("ERR_ZEROSOCK_INTERNAL", msg));
        }
        let mut r = std::ptr::null_mut();
        // SAFETY: `value` is a live value of this env.
        unsafe { sys::napi_create_reference(env, value, 1, &mut r) };
        self.buffers.insert(token, r);
        Ok(RawValue(value))
    }
}

impl Views for MappedViews {
    fn detach(&mut self, token: u32) -> bool {
        let Some(&r) = self.buffers.get(&token) else {
            return true;
        };
        let Some(env) = self.env else {
            return false;
        };
        self.buffers.remove(&token);
        let mut value = std::ptr::null_mut();
        // SAFETY: `r` is our strong reference on `env`, the JS thread we run on (records are
        // applied there); detaching an external ArrayBuffer leaves its views empty.
        unsafe {
            sys::napi_get_reference_value(env, r, &mut value);
            sys::napi_detach_arraybuffer(env, value);
            sys::napi_delete_reference(env, r);
        }
        true
    }
}
