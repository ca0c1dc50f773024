//! Hooks into Node's own event loop (libuv), so engine completions are processed on the JS
//! thread without a thread hop (DESIGN.md §4): a `uv_poll_t` watches the engine's notify fd
//! ([`UvHook::watch_fd`]), and an optional `uv_prepare_t` runs right before libuv waits for I/O
//! ([`UvHook::before_io_wait`], used for busy polling). The binding passes the loop
//! (`napi_get_uv_event_loop`); nothing here needs napi.
//!
//! The libuv functions are looked up with dlsym(3) in the running `node` binary, which exports
//! them for addons; nothing is linked at build time (outside Node every hook fails to start).

use std::ffi::{c_int, c_void, CStr};
use std::os::fd::RawFd;
use std::sync::OnceLock;

/// `UV_POLL` in `uv_handle_type`.
const UV_POLL: c_int = 8;
/// `UV_PREPARE` in `uv_handle_type`.
const UV_PREPARE: c_int = 9;
/// `UV_READABLE` in `uv_poll_event`.
const UV_READABLE: c_int = 1;

type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type PrepareCb = unsafe extern "C" fn(handle: *mut c_void);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);

type HandleSizeFn = unsafe extern "C" fn(c_int) -> usize;
type PollInitFn = unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int;
type PollStartFn = unsafe extern "C" fn(*mut c_void, c_int, PollCb) -> c_int;
type HandleIntFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type PrepareInitFn = unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int;
type PrepareStartFn = unsafe extern "C" fn(*mut c_void, PrepareCb) -> c_int;
type LoopIntFn = unsafe extern "C" fn(*const c_void) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut c_void, CloseCb);
type HandleFn = unsafe extern "C" fn(*mut c_void);

struct UvApi {
    handle_size: HandleSizeFn,
    poll_init: PollInitFn,
    poll_start: PollStartFn,
    poll_stop: HandleIntFn,
    prepare_init: PrepareInitFn,
    prepare_start: PrepareStartFn,
    prepare_stop: HandleIntFn,
    backend_timeout: LoopIntFn,
    backend_fd: LoopIntFn,
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
        // The libuv function `$name`, cast to the function pointer type `$ty`.
        macro_rules! sym {
            ($name:literal as $ty:ty) => {
                std::mem::transmute::<*mut c_void, $ty>(symbol($name)?)
            };
        }
        // SAFETY: each symbol is libuv's public function of exactly the signature it is cast to
        // (uv.h, stable across libuv 1.x).
        unsafe {
            Ok(UvApi {
                handle_size: sym!(c"uv_handle_size" as HandleSizeFn),
                poll_init: sym!(c"uv_poll_init" as PollInitFn),
                poll_start: sym!(c"uv_poll_start" as PollStartFn),
                poll_stop: sym!(c"uv_poll_stop" as HandleIntFn),
                prepare_init: sym!(c"uv_prepare_init" as PrepareInitFn),
                prepare_start: sym!(c"uv_prepare_start" as PrepareStartFn),
                prepare_stop: sym!(c"uv_prepare_stop" as HandleIntFn),
                backend_timeout: sym!(c"uv_backend_timeout" as LoopIntFn),
                backend_fd: sym!(c"uv_backend_fd" as LoopIntFn),
                close: sym!(c"uv_close" as CloseFn),
                ref_: sym!(c"uv_ref" as HandleFn),
                unref: sym!(c"uv_unref" as HandleFn),
            })
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A hook's callback.
pub type Callback = Box<dyn FnMut()>;

/// Which libuv handle a [`UvHook`] is.
#[derive(Clone, Copy)]
enum Kind {
    Poll,
    Prepare,
}

/// A started libuv handle with a Rust callback. Drop stops and closes it; the callback is freed
/// in libuv's close callback, after which it is never called again.
pub struct UvHook {
    handle: *mut c_void,
    api: &'static UvApi,
    kind: Kind,
    referenced: bool,
}

/// Runs the callback stored in the handle's `data`.
///
/// # Safety
/// `handle` is a live handle started by [`UvHook`]; called by libuv on the loop thread.
unsafe fn run_callback(handle: *mut c_void) {
    // SAFETY: `data` (the first field of every uv handle) holds the `*mut Callback` stored at
    // start; it stays valid until `on_close` runs, and libuv calls us only before that.
    let cb = unsafe { *(handle as *mut *mut Callback) };
    // SAFETY: see above; libuv runs callbacks on the loop thread, one at a time.
    unsafe { (*cb)() };
}

unsafe extern "C" fn on_poll(handle: *mut c_void, _status: c_int, _events: c_int) {
    // SAFETY: libuv calls this for a poll handle started by `UvHook::watch_fd`.
    unsafe { run_callback(handle) };
}

unsafe extern "C" fn on_prepare(handle: *mut c_void) {
    // SAFETY: libuv calls this for a prepare handle started by `UvHook::before_io_wait`.
    unsafe { run_callback(handle) };
}

unsafe extern "C" fn on_close(handle: *mut c_void) {
    // SAFETY: `data` holds the callback pointer from start; this is its single release.
    let cb = unsafe { *(handle as *mut *mut Callback) };
    // SAFETY: `cb` came from Box::into_raw at start and is dropped once, here.
    drop(unsafe { Box::from_raw(cb) });
    // SAFETY: the handle memory came from `alloc_handle`; libuv is done with it after close_cb.
    unsafe { std::alloc::dealloc(handle.cast(), handle_layout()) };
}

/// One layout for every handle kind we allocate (the larger of the two), so `on_close` can
/// free any of them.
fn handle_layout() -> std::alloc::Layout {
    let api = api().expect("libuv api was loaded before any handle existed");
    // SAFETY: uv_handle_size is a pure function of the handle type.
    let size = unsafe { (api.handle_size)(UV_POLL).max((api.handle_size)(UV_PREPARE)) };
    std::alloc::Layout::from_size_align(size.max(8), 16).expect("uv handle layout")
}

impl UvHook {
    /// Starts watching `fd` for readability on `uv_loop`; `callback` runs on the loop
    /// thread each time the fd is readable (level-triggered: it must drain the fd).
    ///
    /// # Safety
    /// Must be called on the thread that runs `uv_loop` (a live `uv_loop_t`); `fd` must stay
    /// open until drop.
    pub unsafe fn watch_fd(
        uv_loop: *mut c_void,
        fd: RawFd,
        callback: Callback,
    ) -> Result<UvHook, String> {
        // SAFETY: caller contract (the loop's thread); init and start are uv_poll's.
        unsafe {
            Self::start(
                uv_loop,
                Kind::Poll,
                callback,
                |api, lp, h| (api.poll_init)(lp, h, fd),
                |api, h| (api.poll_start)(h, UV_READABLE, on_poll),
            )
        }
    }

    /// Runs `callback` on every loop iteration right before libuv waits for I/O (a
    /// `uv_prepare_t`), with how long libuv is about to block (`uv_backend_timeout`: 0 when it
    /// will not block — pending immediates, idle handles —, -1 for no limit, else ms until the
    /// next timer) and the fd it will wait on (`uv_backend_fd`, its epoll fd: readable when any
    /// handle of the loop has I/O ready). Created unreferenced: it never keeps the process alive.
    ///
    /// # Safety
    /// Must be called on the thread that runs `uv_loop` (a live `uv_loop_t`).
    pub unsafe fn before_io_wait(
        uv_loop: *mut c_void,
        mut callback: Box<dyn FnMut(c_int, RawFd)>,
    ) -> Result<UvHook, String> {
        let api = api()?;
        let callback: Callback = Box::new(move || {
            // SAFETY: this thread's loop outlives its handles; uv_backend_timeout only reads it.
            let timeout = unsafe { (api.backend_timeout)(uv_loop) };
            // SAFETY: as above; uv_backend_fd only reads the loop.
            let fd = unsafe { (api.backend_fd)(uv_loop) };
            callback(timeout, fd)
        });
        // SAFETY: caller contract (the loop's thread); init and start are uv_prepare's.
        let mut hook = unsafe {
            Self::start(
                uv_loop,
                Kind::Prepare,
                callback,
                |api, lp, h| (api.prepare_init)(lp, h),
                |api, h| (api.prepare_start)(h, on_prepare),
            )
        }?;
        hook.set_ref(false);
        Ok(hook)
    }

    /// Allocates, initialises and starts one handle.
    ///
    /// # Safety
    /// Called on the thread of `uv_loop`; `init`/`start` are the handle kind's libuv calls.
    unsafe fn start(
        uv_loop: *mut c_void,
        kind: Kind,
        callback: Callback,
        init: impl FnOnce(&UvApi, *mut c_void, *mut c_void) -> c_int,
        start: impl FnOnce(&UvApi, *mut c_void) -> c_int,
    ) -> Result<UvHook, String> {
        let api = api()?;
        let layout = handle_layout();
        // SAFETY: non-zero size (max(8)) and valid alignment.
        let handle = unsafe { std::alloc::alloc_zeroed(layout) } as *mut c_void;
        if handle.is_null() {
            return Err("out of memory allocating a uv handle".into());
        }
        let rc = init(api, uv_loop, handle);
        if rc != 0 {
            // SAFETY: init failed, so libuv holds no reference to `handle`.
            unsafe { std::alloc::dealloc(handle.cast(), layout) };
            return Err(format!("initialising a uv handle failed ({rc})"));
        }
        let cb: *mut Callback = Box::into_raw(Box::new(callback));
        // SAFETY: `data` is the first field of uv_handle_t; we own it from here on.
        unsafe { *(handle as *mut *mut Callback) = cb };
        let hook = UvHook {
            handle,
            api,
            kind,
            referenced: true,
        };
        let rc = start(api, handle);
        if rc != 0 {
            drop(hook);
            return Err(format!("starting a uv handle failed ({rc})"));
        }
        Ok(hook)
    }

    /// Whether this handle keeps the event loop (the process) alive, like `handle.ref()`.
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

impl Drop for UvHook {
    fn drop(&mut self) {
        // SAFETY: the handle is live; after uv_close, libuv calls on_close exactly once, which
        // frees the callback and the memory. We never touch the handle again.
        unsafe {
            match self.kind {
                Kind::Poll => (self.api.poll_stop)(self.handle),
                Kind::Prepare => (self.api.prepare_stop)(self.handle),
            };
            (self.api.close)(self.handle, on_close);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UvHook;

    #[test]
    fn outside_node_no_hook_starts() {
        // SAFETY: libuv is not in this process, so the lookup fails before the loop is used.
        let hook = unsafe { UvHook::watch_fd(std::ptr::null_mut(), 0, Box::new(|| {})) };
        let err = hook.err().expect("no libuv in a test binary");
        assert!(err.contains("not found"), "{err}");
    }
}
