//! Calling into JS from the event loop: the dispatcher callback with its async context
//! ([`JsTarget`]), [`dispatch`] (deliver event batches), [`settle`] (the end of a turn) and [`raise`]
//! (an uncaught error with a code).

use crate::mapped::MappedViews;
use napi::sys;
use std::cell::RefCell;
use std::rc::Rc;
use zerosock_wire::records::EVENT_RECORDS;
use zerosock_wire::Session;

/// An engine's state behind the napi object (shared with the libuv callbacks).
pub struct State {
    /// The engine and its records.
    pub session: Session,
    /// JS views of lent zerocopy-receive chunks.
    pub views: MappedViews,
    /// `ZEROSOCK_DEBUG=1`: a stranded submit is an uncaught exception, not only a count.
    pub debug: bool,
}

/// What the uv callback needs to call into JS.
pub struct JsTarget {
    /// The env of the engine's JS thread.
    pub env: sys::napi_env,
    callback: sys::napi_ref,
    async_context: sys::napi_async_context,
}

impl JsTarget {
    /// A strong reference to `callback` and an async context for it.
    ///
    /// # Safety
    /// On the JS thread of `env`; `callback` is a live function value of this call.
    pub unsafe fn new(env: sys::napi_env, callback: sys::napi_value) -> JsTarget {
        let (mut callback_ref, mut name) = (std::ptr::null_mut(), std::ptr::null_mut());
        let (mut resource, mut async_context) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: N-API calls on the JS thread (caller contract) with valid out-pointers.
        unsafe {
            sys::napi_create_reference(env, callback, 1, &mut callback_ref);
            sys::napi_create_object(env, &mut resource);
            sys::napi_create_string_utf8(env, c"zerosock".as_ptr(), 8, &mut name);
            sys::napi_async_init(env, resource, name, &mut async_context);
        }
        JsTarget {
            env,
            callback: callback_ref,
            async_context,
        }
    }

    /// Releases the reference and the async context.
    ///
    /// # Safety
    /// On the JS thread of `env`, once.
    pub unsafe fn release(&self) {
        // SAFETY: both were created in `new` on this env and are released once (caller).
        unsafe {
            sys::napi_delete_reference(self.env, self.callback);
            sys::napi_async_destroy(self.env, self.async_context);
        }
    }
}

/// The libuv loop of `env`.
///
/// # Safety
/// On the JS thread of `env`.
pub unsafe fn uv_loop_of(env: sys::napi_env) -> Result<*mut std::ffi::c_void, String> {
    let mut uv_loop: *mut sys::uv_loop_s = std::ptr::null_mut();
    // SAFETY: `env` is the current env (caller contract); `uv_loop` is a valid out pointer.
    let status = unsafe { sys::napi_get_uv_event_loop(env, &mut uv_loop) };
    if status != sys::Status::napi_ok || uv_loop.is_null() {
        return Err("napi_get_uv_event_loop failed".into());
    }
    Ok(uv_loop.cast())
}

/// Delivers event batches to JS until the engine has no more. Whatever the walk leaves owed
/// is settled at the end of the turn, by [`settle`] right before libuv blocks.
pub fn dispatch(state: &Rc<RefCell<State>>, js: &JsTarget) {
    loop {
        let n = state.borrow_mut().session.next_batch();
        if n == 0 {
            return;
        }
        // SAFETY: we are on the JS thread inside a libuv callback; `js` holds a live env,
        // a strong reference to the callback function and an async context made on this env.
        unsafe { call_js(js, n as u32) };
        if n < EVENT_RECORDS {
            return;
        }
    }
}

/// The end of a turn, right before libuv blocks for I/O (a `uv_prepare` hook): every flush
/// JS scheduled has run by then (flushes are microtasks, and every callback of the turn,
/// dispatches included, has returned). Work still owed then would wait for a submit nobody
/// makes: it is counted as stranded and
/// submitted (`Session::settle`), and under `ZEROSOCK_DEBUG=1` raised as an uncaught
/// `ERR_ZEROSOCK_STRANDED_SUBMIT`.
pub fn settle(state: &Rc<RefCell<State>>, js: &JsTarget) {
    let mut guard = state.borrow_mut();
    if let Some(debt) = guard.session.settle() {
        if guard.debug {
            drop(guard);
            let msg = format!("a turn returned to the event loop owing a submit: {debt}");
            // SAFETY: on the JS thread, inside libuv's prepare callback.
            unsafe { raise(js.env, "ERR_ZEROSOCK_STRANDED_SUBMIT", &msg) };
        }
    }
}

/// Reports an uncaught `Error` with `code` (like a throw from a callback).
///
/// # Safety
/// On the JS thread of `env`.
pub unsafe fn raise(env: sys::napi_env, code: &str, msg: &str) {
    let mut scope = std::ptr::null_mut();
    // SAFETY: plain N-API calls on the JS thread (caller contract) with out-pointers to locals
    // and string pointers valid for the given lengths.
    unsafe {
        if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
            return;
        }
        let (mut c, mut m) = (std::ptr::null_mut(), std::ptr::null_mut());
        let mut err = std::ptr::null_mut();
        sys::napi_create_string_utf8(env, code.as_ptr().cast(), code.len() as isize, &mut c);
        sys::napi_create_string_utf8(env, msg.as_ptr().cast(), msg.len() as isize, &mut m);
        sys::napi_create_error(env, c, m, &mut err);
        sys::napi_fatal_exception(env, err);
        sys::napi_close_handle_scope(env, scope);
    }
}

/// Calls the JS dispatcher with the number of records, like node's MakeCallback (drains the
/// microtask queue afterwards). A throw is reported as an uncaught exception.
unsafe fn call_js(js: &JsTarget, count: u32) {
    let env = js.env;
    let mut scope = std::ptr::null_mut();
    // SAFETY: plain N-API calls on the JS thread (caller contract) with out-pointers to locals.
    unsafe {
        if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
            return;
        }
        let (mut func, mut recv) = (std::ptr::null_mut(), std::ptr::null_mut());
        let (mut arg, mut result) = (std::ptr::null_mut(), std::ptr::null_mut());
        sys::napi_get_reference_value(env, js.callback, &mut func);
        sys::napi_get_global(env, &mut recv);
        sys::napi_create_uint32(env, count, &mut arg);
        let status =
            sys::napi_make_callback(env, js.async_context, recv, func, 1, &arg, &mut result);
        if status == sys::Status::napi_pending_exception {
            let mut err = std::ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut err);
            sys::napi_fatal_exception(env, err);
        }
        sys::napi_close_handle_scope(env, scope);
    }
}
