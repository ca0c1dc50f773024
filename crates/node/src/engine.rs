//! `NativeEngine`: one zerosock engine per JS thread, driven by Node's event loop. Converts
//! between JS values and `zerosock_wire::Session`, which holds the logic.

use crate::errors::{coded, to_napi, Result};
use crate::js_call::{dispatch, settle, uv_loop_of, JsTarget, State};
use crate::mapped::RawValue;
use crate::shared_mem::array_buffer;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;
use zerosock_uring::{BackendChoice, SockAddr};
use zerosock_wire::stats::{values, DEBT_STATS, ENGINE_STATS};
use zerosock_wire::uv::UvHook;
use zerosock_wire::{Session, SessionOptions};

/// Engine options from JS.
#[napi(object)]
pub struct EngineOptions {
    /// `'auto' | 'io_uring' | 'epoll'` (`ZEROSOCK_BACKEND` decides for `auto`).
    pub backend: Option<String>,
    /// Reads shorter than this are copied into a small buffer (copy-break).
    pub copy_break: Option<u32>,
    /// Provided receive buffers (io_uring) per engine.
    pub recv_buffers: Option<u32>,
}

/// A socket address as node:net reports it.
#[napi(object)]
pub struct AddressInfo {
    /// `'127.0.0.1'`, `'::1'`, …
    pub address: String,
    /// `'IPv4'` or `'IPv6'`.
    pub family: String,
    /// The port.
    pub port: u32,
}

/// The native engine for one JS thread.
#[napi]
pub struct NativeEngine {
    state: Rc<RefCell<State>>,
    watcher: Option<UvHook>,
    /// Settles the turn right before libuv waits for I/O ([`settle`]).
    turn_end: Option<UvHook>,
    /// Spins before libuv waits for I/O while busy polling is on (`setBusyPoll`).
    busy_hook: Option<UvHook>,
    js: Option<Rc<JsTarget>>,
    backend: String,
}

/// An IP address as node:net reports it; `None` for a Unix socket (node:net reports no
/// `remoteAddress`/`localAddress` there: a server's path comes from what it listened on).
fn address_info(a: SockAddr) -> Option<AddressInfo> {
    let a = a.ip()?;
    Some(AddressInfo {
        address: a.ip().to_string(),
        family: if a.is_ipv4() { "IPv4" } else { "IPv6" }.to_string(),
        port: u32::from(a.port()),
    })
}

#[napi]
impl NativeEngine {
    /// Creates an engine (io_uring or epoll, per `options.backend` / `ZEROSOCK_BACKEND` /
    /// the probe) with its own buffer pool.
    #[napi(constructor)]
    pub fn new(options: Option<EngineOptions>) -> Result<Self> {
        let (backend, copy_break, recv_buffers) = options
            .map(|o| (o.backend, o.copy_break, o.recv_buffers))
            .unwrap_or_default();
        let choice = BackendChoice::resolve(backend.as_deref()).map_err(to_napi)?;
        let kind = choice.pick(zerosock_uring::probe().io_uring_usable());
        let options = SessionOptions {
            copy_break: copy_break.map(|c| c as usize),
            recv_buffers,
            pool: None,
        };
        let session = Session::new(kind, options).map_err(to_napi)?;
        Ok(NativeEngine {
            backend: session.engine().backend().as_str().to_string(),
            state: Rc::new(RefCell::new(State {
                session,
                views: Default::default(),
                debug: std::env::var_os("ZEROSOCK_DEBUG").is_some_and(|v| v == "1"),
            })),
            watcher: None,
            turn_end: None,
            busy_hook: None,
            js: None,
        })
    }

    /// `'io_uring'` or `'epoll'`.
    #[napi(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Event records (native → JS), 8 ints each. Create once.
    #[napi]
    pub fn event_buffer<'env>(&self, env: &'env Env) -> napi::Result<ArrayBuffer<'env>> {
        array_buffer(env, self.state.borrow().session.events())
    }

    /// Reply ints then submission records (JS → native), 8 ints each. Create once.
    #[napi]
    pub fn submit_buffer<'env>(&self, env: &'env Env) -> napi::Result<ArrayBuffer<'env>> {
        array_buffer(env, self.state.borrow().session.submits())
    }

    /// Number of pool regions (grows when the pool grows).
    #[napi]
    pub fn region_count(&self) -> u32 {
        self.state.borrow_mut().session.regions().len() as u32
    }

    /// Pool region `id` as an external `ArrayBuffer` (create once per region).
    #[napi]
    pub fn region_buffer<'env>(&self, env: &'env Env, id: u32) -> Result<ArrayBuffer<'env>> {
        let mut st = self.state.borrow_mut();
        let r = st.session.regions().get(id as usize);
        let r = r.ok_or_else(|| coded("ERR_ZEROSOCK_BAD_BUFFER", format!("no region {id}")))?;
        let (base, len) = (r.base, r.len);
        let keep = st.session.pool().clone();
        // SAFETY: the region is mapped for as long as the pool lives; the finalizer holds a
        // clone of the pool, so the memory outlives the ArrayBuffer.
        unsafe { ArrayBuffer::from_external(env, base, len, keep, |_, keep| drop(keep)) }
            .map_err(to_napi)
    }

    /// Starts delivering events: `callback(count)` is called from the event loop with the
    /// number of records in the event buffer.
    #[napi]
    pub fn start(&mut self, env: Env, callback: Function<u32, ()>) -> Result<()> {
        if self.watcher.is_some() {
            return Ok(());
        }
        // SAFETY: on the JS thread of `env`; `callback` is a live function of this call.
        let js = Rc::new(unsafe { JsTarget::new(env.raw(), callback.raw()) });
        let fd = {
            let mut st = self.state.borrow_mut();
            st.views.env = Some(js.env);
            st.session.engine().notify_fd()
        };
        let (state, target) = (Rc::clone(&self.state), Rc::clone(&js));
        let on_ready = Box::new(move || {
            state.borrow_mut().session.woke();
            dispatch(&state, &target)
        });
        // SAFETY: on the JS thread, which runs its loop; the engine's notify fd stays open until
        // the watcher is dropped (in `close`, before the engine).
        let watcher = unsafe { uv_loop_of(js.env).and_then(|l| UvHook::watch_fd(l, fd, on_ready)) }
            .map_err(|e| coded("ERR_ZEROSOCK_INTERNAL", e))?;
        let (state, target) = (Rc::clone(&self.state), Rc::clone(&js));
        let at_turn_end = Box::new(move |_timeout_ms, _loop_fd| settle(&state, &target));
        // SAFETY: as above: the JS thread, which runs its loop.
        let turn_end =
            unsafe { uv_loop_of(js.env).and_then(|l| UvHook::before_io_wait(l, at_turn_end)) }
                .map_err(|e| coded("ERR_ZEROSOCK_INTERNAL", e))?;
        self.watcher = Some(watcher);
        self.turn_end = Some(turn_end);
        self.js = Some(js);
        Ok(())
    }

    /// Busy polling: with `us > 0`, right before libuv would block waiting for I/O — in loop
    /// iterations that followed engine work, never while immediates are pending — the JS thread
    /// spins until the engine has something, up to an adaptive budget of at most `us` µs (or
    /// the next timer), and stops at once when another handle of the loop is ready
    /// (SO_BUSY_POLL's trade: no sleep-and-wake-up between a request and its reply, for CPU
    /// time). The budget grows while the loop's waits for the engine are short and shrinks to
    /// nothing when they are long (`BusyPoll`). 0 turns it off.
    #[napi]
    pub fn set_busy_poll(&mut self, us: u32) -> Result<()> {
        let max = Duration::from_micros(u64::from(us));
        self.state.borrow_mut().session.set_busy_poll(max);
        if us == 0 {
            self.busy_hook = None;
            return Ok(());
        }
        if self.busy_hook.is_some() {
            return Ok(());
        }
        let Some(js) = &self.js else {
            return Err(coded("ERR_ZEROSOCK_INTERNAL", "setBusyPoll before start"));
        };
        let state = Rc::clone(&self.state);
        let spin = Box::new(move |timeout_ms, loop_fd| {
            state
                .borrow_mut()
                .session
                .before_io_wait(timeout_ms, loop_fd)
        });
        // SAFETY: on the JS thread of `js.env` (napi methods run there), which runs its loop.
        let hook = unsafe { uv_loop_of(js.env).and_then(|l| UvHook::before_io_wait(l, spin)) }
            .map_err(|e| coded("ERR_ZEROSOCK_INTERNAL", e))?;
        self.busy_hook = Some(hook);
        Ok(())
    }

    /// Whether the engine keeps the process alive (true while sockets are open).
    #[napi]
    pub fn set_ref(&mut self, referenced: bool) {
        if let Some(w) = self.watcher.as_mut() {
            w.set_ref(referenced);
        }
    }

    /// Delivers pending events now (used after submissions that may complete at once).
    #[napi]
    pub fn poll_now(&self) {
        if let Some(js) = &self.js {
            dispatch(&self.state, js);
        }
    }

    /// Listens on `host:port` (an IP address); returns the listener's id.
    #[napi]
    pub fn listen(&self, host: String, port: u32, backlog: u32, reuse_port: bool) -> Result<u32> {
        let addr = SockAddr::from_ip_port(&host, port).map_err(to_napi)?;
        let mut st = self.state.borrow_mut();
        st.session
            .listen(addr, backlog, reuse_port)
            .map_err(to_napi)
    }

    /// Listens on a Unix domain socket: `path` is a filesystem path (removed again on close) or,
    /// with a leading NUL byte, an abstract name. Returns the listener's id.
    #[napi]
    pub fn listen_path(&self, path: Buffer, backlog: u32) -> Result<u32> {
        let addr = SockAddr::unix(&path).map_err(to_napi)?;
        let mut st = self.state.borrow_mut();
        st.session.listen(addr, backlog, false).map_err(to_napi)
    }

    /// Adds read and/or write permission for everyone to a path listener's socket file.
    #[napi]
    pub fn allow_all(&self, id: u32, read: bool, write: bool) -> Result<()> {
        let mut st = self.state.borrow_mut();
        st.session
            .engine_mut()
            .allow_all(id, read, write)
            .map_err(to_napi)
    }

    /// Starts connecting to a Unix domain socket (`path` as in `listenPath`).
    #[napi]
    pub fn connect_path(&self, path: Buffer) -> Result<u32> {
        let addr = SockAddr::unix(&path).map_err(to_napi)?;
        let mut st = self.state.borrow_mut();
        st.session.connect(addr).map_err(to_napi)
    }

    /// Starts connecting to `host:port` (an IP address); `CONNECTED` or `ERROR` follows.
    #[napi]
    pub fn connect(&self, host: String, port: u32) -> Result<u32> {
        let addr = SockAddr::from_ip_port(&host, port).map_err(to_napi)?;
        let mut st = self.state.borrow_mut();
        st.session.connect(addr).map_err(to_napi)
    }

    /// Builds a TLS config from the JSON of ts/net/tls.ts (`server`: for listeners).
    #[napi]
    pub fn tls_config(&self, json: String, server: bool) -> Result<u32> {
        let mut st = self.state.borrow_mut();
        st.session.tls_config(&json, server).map_err(to_napi)
    }

    /// Config `config` on a listener, or on a connecting socket checked against `servername`.
    #[napi]
    pub fn set_tls(&self, id: u32, config: u32, servername: Option<String>) -> Result<()> {
        let mut st = self.state.borrow_mut();
        st.session
            .set_tls(id, config, servername.as_deref())
            .map_err(to_napi)
    }

    /// A TLS connection's state as JSON (`TlsInfo` of ts/net/tls.ts); null if not TLS.
    #[napi]
    pub fn tls_info(&self, id: u32) -> Option<String> {
        self.state
            .borrow()
            .session
            .engine()
            .tls_session(id)
            .map(|s| s.info_json())
    }

    /// The TLS peer's certificate chain as sent (DER, leaf first).
    #[napi]
    pub fn peer_certificates(&self, id: u32) -> Vec<Buffer> {
        let st = self.state.borrow();
        let chain = st
            .session
            .engine()
            .tls_session(id)
            .and_then(|s| s.peer_certificates());
        chain
            .unwrap_or_default()
            .iter()
            .map(|c| c.to_vec().into())
            .collect()
    }

    /// The local address of a socket or listener (null on a Unix socket).
    #[napi]
    pub fn local_address(&self, id: u32) -> Result<Option<AddressInfo>> {
        let addr = self.state.borrow().session.engine().local_addr(id);
        Ok(address_info(addr.map_err(to_napi)?))
    }

    /// The peer address of a connected socket (null on a Unix socket).
    #[napi]
    pub fn remote_address(&self, id: u32) -> Result<Option<AddressInfo>> {
        let addr = self.state.borrow().session.engine().peer_addr(id);
        Ok(address_info(addr.map_err(to_napi)?))
    }

    /// Takes a pool buffer of `class` (0 small, 1 large) for JS to fill; writes
    /// `[region, byteOffset, handleLo, handleHi, size]` into the reply ints and returns region.
    #[napi]
    pub fn acquire(&self, size_class: u32) -> Result<i32> {
        let mut st = self.state.borrow_mut();
        st.session.acquire(size_class as usize).map_err(to_napi)
    }

    /// Processes `count` submission records, then submits everything queued with one
    /// `io_uring_enter` (or the epoll writes). With `collect`, events that completed right
    /// away are written to the event records and their number returned (JS walks them);
    /// otherwise they come through the event loop. Records naming a socket that is gone are
    /// skipped (counted in `stats().failedRecords`).
    #[napi]
    pub fn flush(&self, count: u32, collect: bool) -> Result<u32> {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        let n = st.session.flush(count as usize, collect, &mut st.views);
        Ok(n.map_err(to_napi)? as u32)
    }

    /// Writes events left over from an earlier `flush(…, true)` (more than fit in the event
    /// records) and returns their number.
    #[napi]
    pub fn take_pending(&self) -> u32 {
        self.state.borrow_mut().session.write_events() as u32
    }

    /// Queues `data` on socket `id` (copied into pool buffers, or written directly when the
    /// socket is writable); order is kept with earlier flushed records.
    #[napi]
    pub fn send_copy(&self, id: u32, data: Uint8ArraySlice) -> Result<()> {
        let mut st = self.state.borrow_mut();
        st.session.send_copy(id, &data).map_err(to_napi)
    }

    /// What the engine holds that only a submit hands to the kernel (all zero right after a
    /// `flush`): for diagnostics of a stranded submit.
    #[napi(ts_return_type = "import('./records.generated').NativeSubmitDebt")]
    pub fn submit_debt(&self) -> BTreeMap<&'static str, f64> {
        let d = self.state.borrow_mut().session.engine_mut().debt();
        values(DEBT_STATS, &d).collect()
    }

    /// Lends the memory of `data` to the next `SEND_ZC` record (region -1, offset = the returned
    /// token). JS must keep `data` referenced (and not detach its buffer) until the send's
    /// `ZC_DONE` or the socket's `CLOSED`: the kernel reads it in place.
    #[napi]
    pub fn pin_zero_copy(&self, data: Uint8ArraySlice) -> u32 {
        let mut st = self.state.borrow_mut();
        st.session.pin(data.as_ptr(), data.len() as u32)
    }

    /// The `ArrayBuffer` over the bytes of a `MAPPED` event (its release token). Read-only
    /// memory: writing to it kills the process. Detached (empty) once released.
    #[napi(ts_return_type = "ArrayBuffer")]
    pub fn mapped_buffer(&self, env: Env, token: u32) -> Result<RawValue> {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        // SAFETY: `env` is this call's env, on the engine's JS thread.
        unsafe { st.views.buffer(env.raw(), &st.session, token) }
    }

    /// Bytes queued on a socket and not yet handed to the kernel.
    #[napi]
    pub fn queued_bytes(&self, id: u32) -> f64 {
        self.state.borrow().session.engine().queued_bytes(id) as f64
    }

    /// Engine counters (syscalls, SQEs, CQEs, bytes, copy-breaks, …) and pool counters.
    #[napi(ts_return_type = "import('./records.generated').NativeEngineStats")]
    pub fn stats(&self) -> BTreeMap<&'static str, f64> {
        let source = self.state.borrow().session.stats();
        values(ENGINE_STATS, &source).collect()
    }

    /// Stops watching the event loop. The engine can't deliver events after this.
    #[napi]
    pub fn close(&mut self) {
        self.busy_hook = None;
        self.turn_end = None;
        self.watcher = None;
        self.state.borrow_mut().views.env = None;
        if let Some(js) = self.js.take() {
            // SAFETY: on the JS thread; released once, here (`js` is taken).
            unsafe { js.release() };
        }
    }
}

/// The system call names error records refer to by index.
#[napi]
pub fn syscall_names() -> Vec<&'static str> {
    zerosock_wire::Syscall::names().collect()
}
