//! Watches a file descriptor from Node's own event loop (libuv `uv_poll_t`), so engine
//! completions are processed on the JS thread without a thread hop (DESIGN.md §4).
//!
//! The libuv functions are looked up with dlsym(3) in the running `node` binary, which exports
//! them for addons; nothing is linked at build time.

use std::ffi::{c_int, c_void, CStr};
use std::os::fd::RawFd;
use std::sync::OnceLock;

/// `UV_POLL` in `uv_handle_type`.
const UV_POLL: c_int = 8;
/// `UV_READABLE` in `uv_poll_event`.
const UV_READABLE: c_int = 1;

type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);

type HandleSizeFn = unsafe extern "C" fn(c_int) -> usize;
type PollInitFn = unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int;
type PollStartFn = unsafe extern "C" fn(*mut c_void, c_int, PollCb) -> c_int;
type HandleIntFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut c_void, CloseCb);
type HandleFn = unsafe extern "C" fn(*mut c_void);

struct UvApi {
    handle_size: HandleSizeFn,
    poll_init: PollInitFn,
    poll_start: PollStartFn,
    poll_stop: HandleIntFn,
    close: CloseFn,
    ref_: HandleFn,
    unref: HandleFn,
}

fn symbol(name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the symbol tables.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if p.is_null() {
        Err(format!("libuv symbol {name:?} not found in this process"))
    } else {
        Ok(p)
    }
}

fn api() -> Result<&'static UvApi, String> {
    static API: OnceLock<Result<UvApi, String>> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: each symbol is libuv's public function of exactly the signature it is cast to
        // (uv.h, stable across libuv 1.x).
        unsafe {
            Ok(UvApi {
                handle_size: std::mem::transmute::<*mut c_void, HandleSizeFn>(symbol(
                    c"uv_handle_size",
                )?),
                poll_init: std::mem::transmute::<*mut c_void, PollInitFn>(symbol(c"uv_poll_init")?),
                poll_start: std::mem::transmute::<*mut c_void, PollStartFn>(symbol(
                    c"uv_poll_start",
                )?),
                poll_stop: std::mem::transmute::<*mut c_void, HandleIntFn>(symbol(
                    c"uv_poll_stop",
                )?),
                close: std::mem::transmute::<*mut c_void, CloseFn>(symbol(c"uv_close")?),
                ref_: std::mem::transmute::<*mut c_void, HandleFn>(symbol(c"uv_ref")?),
                unref: std::mem::transmute::<*mut c_void, HandleFn>(symbol(c"uv_unref")?),
            })
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

type Callback = Box<dyn FnMut()>;

/// A started `uv_poll_t` on one fd. Drop (or [`FdWatcher::stop`]) closes it; the callback is
/// freed in libuv's close callback, after which it is never called again.
pub struct FdWatcher {
    handle: *mut c_void,
    api: &'static UvApi,
    referenced: bool,
}

unsafe extern "C" fn on_poll(handle: *mut c_void, _status: c_int, _events: c_int) {
    // SAFETY: `data` (the first field of every uv handle) holds the `*mut Callback` stored in
    // `start`; it stays valid until `on_close` runs, and libuv calls us only before that.
    let cb = unsafe { *(handle as *mut *mut Callback) };
    // SAFETY: see above; libuv runs callbacks on the loop thread, one at a time.
    unsafe { (*cb)() };
}

unsafe extern "C" fn on_close(handle: *mut c_void) {
    // SAFETY: `data` holds the callback pointer from `start`; this is its single release.
    let cb = unsafe { *(handle as *mut *mut Callback) };
    // SAFETY: `cb` came from Box::into_raw in `start` and is dropped once, here.
    drop(unsafe { Box::from_raw(cb) });
    // SAFETY: the handle memory came from `alloc_handle`; libuv is done with it after close_cb.
    unsafe { free_handle(handle) };
}

fn layout(size: usize) -> std::alloc::Layout {
    std::alloc::Layout::from_size_align(size.max(8), 16).expect("uv handle layout")
}

unsafe fn free_handle(handle: *mut c_void) {
    let api = api().expect("libuv api was loaded before any handle existed");
    // SAFETY: the handle was allocated in `start` with this exact layout.
    unsafe { std::alloc::dealloc(handle.cast(), layout((api.handle_size)(UV_POLL))) };
}

impl FdWatcher {
    /// Starts watching `fd` for readability on `env`'s event loop; `callback` runs on the JS
    /// thread each time the fd is readable (level-triggered: it must drain the fd).
    ///
    /// # Safety
    /// Must be called on the JS thread that owns `env`; `fd` must stay open until `stop`.
    pub unsafe fn start(
        env: napi::sys::napi_env,
        fd: RawFd,
        callback: Callback,
    ) -> Result<FdWatcher, String> {
        let api = api()?;
        let mut uv_loop: *mut napi::sys::uv_loop_s = std::ptr::null_mut();
        // SAFETY: `env` is the current env (caller contract); `uv_loop` is a valid out pointer.
        let status = unsafe { napi::sys::napi_get_uv_event_loop(env, &mut uv_loop) };
        if status != napi::sys::Status::napi_ok || uv_loop.is_null() {
            return Err("napi_get_uv_event_loop failed".into());
        }
        // SAFETY: uv_handle_size is a pure function of the handle type.
        let size = unsafe { (api.handle_size)(UV_POLL) };
        // SAFETY: non-zero size (max(8)) and valid alignment.
        let handle = unsafe { std::alloc::alloc_zeroed(layout(size)) } as *mut c_void;
        if handle.is_null() {
            return Err("out of memory allocating a uv_poll_t".into());
        }
        // SAFETY: `handle` is zeroed memory of uv_poll_t's size, `uv_loop` is this thread's loop.
        let rc = unsafe { (api.poll_init)(uv_loop.cast(), handle, fd) };
        if rc != 0 {
            // SAFETY: uv_poll_init failed, so libuv holds no reference to `handle`.
            unsafe { std::alloc::dealloc(handle.cast(), layout(size)) };
            return Err(format!("uv_poll_init failed ({rc})"));
        }
        let cb: *mut Callback = Box::into_raw(Box::new(callback));
        // SAFETY: `data` is the first field of uv_handle_t; we own it from here on.
        unsafe { *(handle as *mut *mut Callback) = cb };
        let watcher = FdWatcher {
            handle,
            api,
            referenced: true,
        };
        // SAFETY: the handle is initialized and its callback pointer is set.
        let rc = unsafe { (api.poll_start)(handle, UV_READABLE, on_poll) };
        if rc != 0 {
            drop(watcher);
            return Err(format!("uv_poll_start failed ({rc})"));
        }
        Ok(watcher)
    }

    /// Whether this watcher keeps the event loop (the process) alive, like `handle.ref()`.
    pub fn set_ref(&mut self, referenced: bool) {
        if referenced == self.referenced {
            return;
        }
        self.referenced = referenced;
        // SAFETY: the handle is live until drop; uv_ref/uv_unref are idempotent flag flips.
        unsafe {
            if referenced {
                (self.api.ref_)(self.handle)
            } else {
                (self.api.unref)(self.handle)
            }
        }
    }
}

impl Drop for FdWatcher {
    fn drop(&mut self) {
        // SAFETY: the handle is live; after uv_close, libuv calls on_close exactly once, which
        // frees the callback and the memory. We never touch the handle again.
        unsafe {
            (self.api.poll_stop)(self.handle);
            (self.api.close)(self.handle, on_close);
        }
    }
}
