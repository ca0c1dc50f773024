//! `NativeEngine`: one zerosock engine per JS thread, driven by Node's event loop. Converts
//! between JS values / shared records and `zerosock_uring::Engine`; holds no logic of its own.

use crate::errors::{coded, to_napi};
use crate::records::{self, RECORD_INTS};
use crate::shared_mem::SharedInts;
use crate::uv::UvHook;
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use zerosock_pool::{BufHandle, LentHandles, LocalPool, Pool, PoolConfig, RegionInfo};
use zerosock_uring::{BackendChoice, BusyPoll, Engine, EngineConfig, Event, SubmitDebt};

/// Event records per JS callback.
const EVENT_RECORDS: usize = 1024;
/// Submission records per `flush()`.
const SUBMIT_RECORDS: usize = 4096;
/// Ints at the start of the submission block used for replies (e.g. `acquire`).
const REPLY_INTS: usize = RECORD_INTS;

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

struct State {
    engine: Engine,
    pool: Pool,
    /// JS's own owner handle: cork buffers are taken here; the engine's release of a sent
    /// buffer returns it through this owner's return ring (deferred free).
    js_pool: LocalPool,
    regions: Vec<RegionInfo>,
    events: SharedInts,
    submits: SharedInts,
    scratch: Vec<Event>,
    pending: std::collections::VecDeque<Event>,
    failed_records: u64,
    /// JS memory named by the next SEND_ZC records, and receive chunks lent to JS.
    pins: crate::zerocopy::Pins,
    lends: crate::zerocopy::MappedLends,
    /// Pool buffers JS holds (received in a DATA record, or taken for corking): the only
    /// handles SEND, RELEASE and DROP records may name, each once.
    lent: LentHandles,
    /// Busy polling's adaptive budget (off with a zero maximum).
    busy: BusyPoll,
    /// Turns that returned to the event loop with work owed (see [`State::settle`]).
    stranded: u64,
    /// `ZEROSOCK_DEBUG=1`: a stranded submit is an uncaught exception, not only a count.
    debug: bool,
}

impl State {
    /// Region id and byte offset within the region of `offset` in buffer `h`.
    fn locate(&self, h: BufHandle, offset: u32) -> (i32, i32) {
        let Ok(ptr) = self.pool.ptr(h) else {
            return (-1, 0);
        };
        let addr = ptr as usize + offset as usize;
        for (id, r) in self.regions.iter().enumerate() {
            let base = r.base as usize;
            if addr >= base && addr < base + r.len {
                return (id as i32, (addr - base) as i32);
            }
        }
        (-1, 0)
    }

    /// Tells JS (the `OWES_SUBMIT_INT` reply int) whether the engine holds work that only a
    /// submit hands to the kernel.
    fn publish_debt(&mut self) {
        let owes = !self.engine.debt().is_empty();
        self.submits
            .write(records::OWES_SUBMIT_INT, &[i32::from(owes)]);
    }

    /// The end of a turn (JS returned to native, microtasks drained): nothing may stay owed,
    /// since nothing would wake the loop for it. Anything that is owed is counted as stranded
    /// (`stats().strandedSubmits`, always 0 when JS settles its turns) and submitted here, so
    /// no byte waits on a submit that never comes. Returns what was owed.
    fn settle(&mut self) -> Option<SubmitDebt> {
        let debt = self.engine.debt();
        if debt.is_empty() {
            return None;
        }
        self.stranded += 1;
        let _ = self.engine.submit();
        self.publish_debt();
        Some(debt)
    }

    fn refresh_regions(&mut self) {
        let now = self.pool.regions();
        if now.len() != self.regions.len() {
            self.regions = now;
        }
    }
}

/// What the uv callback needs to call into JS.
struct JsTarget {
    env: sys::napi_env,
    callback: sys::napi_ref,
    async_context: sys::napi_async_context,
}

/// What the engine owes a submit (`Engine::debt()`).
#[napi(object)]
pub struct SubmitDebtInfo {
    /// Sockets whose queue (or FIN) waits to be written.
    pub dirty_sockets: u32,
    /// Bytes queued on them.
    pub queued_bytes: f64,
    /// SQEs not yet submitted (io_uring).
    pub sqes: u32,
    /// Events waiting with no wake-up announcing them.
    pub unannounced_events: u32,
    /// Sockets with unreported zerocopy completions.
    pub zerocopy_done: u32,
}

/// The native engine for one JS thread.
#[napi]
pub struct NativeEngine {
    state: Rc<RefCell<State>>,
    watcher: Option<UvHook>,
    /// Spins before libuv waits for I/O while busy polling is on (`setBusyPoll`).
    busy_hook: Option<UvHook>,
    js: Option<Rc<JsTarget>>,
    backend: String,
}

fn parse_addr(host: &str, port: u32) -> Result<SocketAddr> {
    let ip: IpAddr = host.parse().map_err(|_| {
        coded(
            "ERR_INVALID_ARG_VALUE",
            format!("host must be an IP address, got {host:?}"),
        )
    })?;
    let port = u16::try_from(port).map_err(|_| {
        coded(
            "ERR_OUT_OF_RANGE",
            format!("port must be 0..65535, got {port}"),
        )
    })?;
    Ok(SocketAddr::new(ip, port))
}

fn address_info(a: SocketAddr) -> AddressInfo {
    AddressInfo {
        address: a.ip().to_string(),
        family: if a.is_ipv4() { "IPv4" } else { "IPv6" }.to_string(),
        port: u32::from(a.port()),
    }
}

impl State {
    /// Encodes up to [`EVENT_RECORDS`] events, `pending` ones first, into the shared event
    /// records; whatever does not fit stays in `pending` for the next call (nothing is lost).
    fn write_events(&mut self) -> usize {
        self.refresh_regions();
        let mut rec = [0i32; RECORD_INTS];
        let n = self.pending.len().min(EVENT_RECORDS);
        for i in 0..n {
            let ev = self.pending.pop_front().expect("counted above");
            records::encode(&ev, &|h, off| self.locate(h, off), &mut rec);
            match ev {
                Event::Mapped {
                    window, chunk, len, ..
                } => rec[5] = self.lends.lend(window, chunk, len),
                Event::Data { buf, .. } => self.lent.lend(buf),
                _ => {}
            }
            self.events.write(i * RECORD_INTS, &rec);
        }
        n
    }

    /// Moves the scratch events into `pending`.
    fn queue_scratch(&mut self) {
        let mut events = std::mem::take(&mut self.scratch);
        self.pending.extend(events.drain(..));
        self.scratch = events;
    }
}

fn dispatch(state: &Rc<RefCell<State>>, js: &JsTarget) {
    loop {
        let n = {
            let mut guard = state.borrow_mut();
            let st = &mut *guard;
            if st.pending.is_empty() {
                st.scratch.clear();
                let room = EVENT_RECORDS;
                let mut events = std::mem::take(&mut st.scratch);
                st.engine.poll(&mut events, room);
                st.scratch = events;
                st.queue_scratch();
            }
            let n = st.write_events();
            if n > 0 {
                st.busy.engine_work();
            }
            n
        };
        if n == 0 {
            return;
        }
        // SAFETY: we are on the JS thread inside a libuv callback; `js` holds a live env,
        // a strong reference to the callback function and an async context made on this env.
        unsafe { call_js(js, n as u32) };
        if n < EVENT_RECORDS {
            break;
        }
    }
    let mut guard = state.borrow_mut();
    if let Some(debt) = guard.settle() {
        if guard.debug {
            drop(guard);
            let msg = format!("a turn returned to the event loop owing a submit: {debt}");
            // SAFETY: on the JS thread inside a libuv callback (as `call_js` above).
            unsafe { raise(js.env, "ERR_ZEROSOCK_STRANDED_SUBMIT", &msg) };
        }
    }
}

/// Reports an uncaught `Error` with `code` (like a throw from a callback).
unsafe fn raise(env: sys::napi_env, code: &str, msg: &str) {
    let mut scope = std::ptr::null_mut();
    // SAFETY: plain N-API calls on the JS thread (caller contract) with out-pointers to locals
    // and string pointers valid for the given lengths.
    unsafe {
        if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
            return;
        }
        let (mut c, mut m, mut err) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
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
        let mut func = std::ptr::null_mut();
        let mut recv = std::ptr::null_mut();
        let mut arg = std::ptr::null_mut();
        let mut result = std::ptr::null_mut();
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

#[napi]
impl NativeEngine {
    /// Creates an engine (io_uring or epoll, per `options.backend` / `ZEROSOCK_BACKEND` /
    /// the probe) with its own buffer pool.
    #[napi(constructor)]
    pub fn new(options: Option<EngineOptions>) -> Result<Self> {
        let options = options.unwrap_or(EngineOptions {
            backend: None,
            copy_break: None,
            recv_buffers: None,
        });
        let choice = BackendChoice::resolve(options.backend.as_deref()).map_err(to_napi)?;
        let kind = choice.pick(zerosock_uring::probe().io_uring_usable());
        let pool = Pool::new(PoolConfig::default()).map_err(to_napi)?;
        let mut config = EngineConfig::new(kind, pool.clone());
        if let Some(c) = options.copy_break {
            config.copy_break = c as usize;
        }
        if let Some(r) = options.recv_buffers {
            config.recv_buffers = r;
        }
        let engine = Engine::new(config).map_err(to_napi)?;
        let backend = engine.backend().as_str().to_string();
        let regions = pool.regions();
        Ok(NativeEngine {
            state: Rc::new(RefCell::new(State {
                engine,
                js_pool: pool.local(),
                pool,
                regions,
                events: SharedInts::new(EVENT_RECORDS * RECORD_INTS),
                submits: SharedInts::new(REPLY_INTS + SUBMIT_RECORDS * RECORD_INTS),
                scratch: Vec::with_capacity(EVENT_RECORDS),
                pending: std::collections::VecDeque::with_capacity(EVENT_RECORDS),
                failed_records: 0,
                pins: Default::default(),
                lends: Default::default(),
                lent: LentHandles::new(),
                busy: BusyPoll::new(std::time::Duration::ZERO),
                stranded: 0,
                debug: std::env::var_os("ZEROSOCK_DEBUG").is_some_and(|v| v == "1"),
            })),
            watcher: None,
            busy_hook: None,
            js: None,
            backend,
        })
    }

    /// `'io_uring'` or `'epoll'`.
    #[napi(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Event records (native → JS), 8 ints each. Create once.
    #[napi]
    pub fn event_buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        self.state.borrow().events.array_buffer(env)
    }

    /// Reply ints then submission records (JS → native), 8 ints each. Create once.
    #[napi]
    pub fn submit_buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        self.state.borrow().submits.array_buffer(env)
    }

    /// Number of pool regions (grows when the pool grows).
    #[napi]
    pub fn region_count(&self) -> u32 {
        let mut st = self.state.borrow_mut();
        st.refresh_regions();
        st.regions.len() as u32
    }

    /// Pool region `id` as an external `ArrayBuffer` (create once per region).
    #[napi]
    pub fn region_buffer<'env>(&self, env: &'env Env, id: u32) -> Result<ArrayBuffer<'env>> {
        let mut st = self.state.borrow_mut();
        st.refresh_regions();
        let r = st
            .regions
            .get(id as usize)
            .ok_or_else(|| coded("ERR_ZEROSOCK_BAD_BUFFER", format!("no region {id}")))?;
        let (base, len) = (r.base, r.len);
        let keep = st.pool.clone();
        // SAFETY: the region is mapped for as long as the pool lives; the finalizer holds a
        // clone of the pool, so the memory outlives the ArrayBuffer.
        unsafe { ArrayBuffer::from_external(env, base, len, keep, |_, keep| drop(keep)) }
    }

    /// Starts delivering events: `callback(count)` is called from the event loop with the
    /// number of records in the event buffer.
    #[napi]
    pub fn start(&mut self, env: Env, callback: Function<u32, ()>) -> Result<()> {
        if self.watcher.is_some() {
            return Ok(());
        }
        let raw_env = env.raw();
        let mut callback_ref = std::ptr::null_mut();
        let mut name = std::ptr::null_mut();
        let mut resource = std::ptr::null_mut();
        let mut async_context = std::ptr::null_mut();
        // SAFETY: N-API calls on the JS thread with valid out-pointers; `callback` is a live
        // function value of this call.
        unsafe {
            sys::napi_create_reference(raw_env, callback.raw(), 1, &mut callback_ref);
            sys::napi_create_object(raw_env, &mut resource);
            sys::napi_create_string_utf8(raw_env, c"zerosock".as_ptr(), 8, &mut name);
            sys::napi_async_init(raw_env, resource, name, &mut async_context);
        }
        let js = Rc::new(JsTarget {
            env: raw_env,
            callback: callback_ref,
            async_context,
        });
        let fd = self.state.borrow().engine.notify_fd();
        let state = Rc::clone(&self.state);
        let target = Rc::clone(&js);
        // SAFETY: on the JS thread; the engine's notify fd stays open until the watcher is
        // dropped (in `close`, before the engine).
        let watcher = unsafe {
            UvHook::watch_fd(
                raw_env,
                fd,
                Box::new(move || {
                    state
                        .borrow_mut()
                        .busy
                        .engine_woke(std::time::Instant::now());
                    dispatch(&state, &target)
                }),
            )
        }
        .map_err(|e| coded("ERR_ZEROSOCK_INTERNAL", e))?;
        self.watcher = Some(watcher);
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
        let max = std::time::Duration::from_micros(u64::from(us));
        self.state.borrow_mut().busy.set_max(max);
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
        // SAFETY: on the JS thread of `js.env` (napi methods run there).
        let hook = unsafe {
            UvHook::before_io_wait(
                js.env,
                Box::new(move |timeout_ms, loop_fd| {
                    let mut guard = state.borrow_mut();
                    let st = &mut *guard;
                    let now = std::time::Instant::now();
                    if let Some(budget) = st.busy.before_wait(timeout_ms, now) {
                        let end = st.engine.busy_wait(budget, Some(loop_fd));
                        st.busy.spun(end, now);
                    }
                }),
            )
        }
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
        let addr = parse_addr(&host, port)?;
        let mut st = self.state.borrow_mut();
        let id = st
            .engine
            .listen(addr, backlog, reuse_port)
            .map_err(to_napi)?;
        // The multishot accept is queued: hand it to the kernel now (a process that only
        // listens has nothing else that would submit it).
        st.engine.submit().map_err(to_napi)?;
        Ok(id)
    }

    /// Starts connecting to `host:port` (an IP address); `CONNECTED` or `ERROR` follows.
    #[napi]
    pub fn connect(&self, host: String, port: u32) -> Result<u32> {
        let addr = parse_addr(&host, port)?;
        let mut st = self.state.borrow_mut();
        let id = st.engine.connect(addr).map_err(to_napi)?;
        st.engine.submit().map_err(to_napi)?;
        Ok(id)
    }

    /// The local address of a socket or listener.
    #[napi]
    pub fn local_address(&self, id: u32) -> Result<AddressInfo> {
        let st = self.state.borrow();
        st.engine.local_addr(id).map(address_info).map_err(to_napi)
    }

    /// The peer address of a connected socket.
    #[napi]
    pub fn remote_address(&self, id: u32) -> Result<AddressInfo> {
        let st = self.state.borrow();
        st.engine.peer_addr(id).map(address_info).map_err(to_napi)
    }

    /// Takes a pool buffer of `class` (0 small, 1 large) for JS to fill; writes
    /// `[region, byteOffset, handleLo, handleHi, size]` into the reply ints and returns region.
    #[napi]
    pub fn acquire(&self, size_class: u32) -> Result<i32> {
        let class = size_class;
        let mut st = self.state.borrow_mut();
        let h = st.js_pool.acquire(class as usize).map_err(to_napi)?;
        st.refresh_regions();
        let (region, at) = st.locate(h, 0);
        st.lent.lend(h);
        let (lo, hi) = records::handle_ints(h);
        let size = st.pool.class_size(class as usize).unwrap_or(0) as i32;
        st.submits.write(0, &[region, at, lo, hi, size]);
        Ok(region)
    }

    /// Processes `count` submission records, then submits everything queued with one
    /// `io_uring_enter` (or the epoll writes). With `collect`, events that completed right
    /// away are written to the event records and their number returned (JS walks them);
    /// otherwise they come through the event loop. Records naming a socket that is gone are
    /// skipped (counted in `stats().failedRecords`).
    #[napi]
    pub fn flush(&self, count: u32, collect: bool) -> Result<u32> {
        let js_env = self.js.as_ref().map(|j| j.env);
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        let count = (count as usize).min(SUBMIT_RECORDS);
        if count > 0 {
            st.busy.engine_work();
        }
        for i in 0..count {
            let at = REPLY_INTS + i * RECORD_INTS;
            let r: [i32; 6] = std::array::from_fn(|k| st.submits.read(at + k));
            if !apply_record(st, js_env, r) {
                st.failed_records += 1;
            }
        }
        if !collect {
            let result = st.engine.submit();
            st.publish_debt();
            result.map_err(to_napi)?;
            return Ok(0);
        }
        let mut events = std::mem::take(&mut st.scratch);
        events.clear();
        let result = st.engine.submit_and_collect(&mut events);
        st.scratch = events;
        st.queue_scratch();
        st.publish_debt();
        result.map_err(to_napi)?;
        Ok(st.write_events() as u32)
    }

    /// Writes events left over from an earlier `flush(…, true)` (more than fit in the event
    /// records) and returns their number.
    #[napi]
    pub fn take_pending(&self) -> u32 {
        self.state.borrow_mut().write_events() as u32
    }

    /// Queues `data` on socket `id` (copied into pool buffers, or written directly when the
    /// socket is writable); order is kept with earlier flushed records.
    #[napi]
    pub fn send_copy(&self, id: u32, data: Uint8ArraySlice) -> Result<()> {
        let mut st = self.state.borrow_mut();
        let result = st.engine.send_copy(id, &data);
        st.publish_debt();
        result.map_err(to_napi)
    }

    /// What the engine holds that only a submit hands to the kernel (all zero right after a
    /// `flush`): for diagnostics of a stranded submit.
    #[napi]
    pub fn submit_debt(&self) -> SubmitDebtInfo {
        let d = self.state.borrow_mut().engine.debt();
        SubmitDebtInfo {
            dirty_sockets: d.dirty_sockets as u32,
            queued_bytes: d.queued_bytes as f64,
            sqes: d.sqes as u32,
            unannounced_events: d.unannounced_events as u32,
            zerocopy_done: d.zerocopy_done as u32,
        }
    }

    /// Lends the memory of `data` to the next `SEND_ZC` record (region -1, offset = the returned
    /// token). JS must keep `data` referenced (and not detach its buffer) until the send's
    /// `ZC_DONE` or the socket's `CLOSED`: the kernel reads it in place.
    #[napi]
    pub fn pin_zero_copy(&self, data: Uint8ArraySlice) -> u32 {
        let mut st = self.state.borrow_mut();
        st.pins.pin(data.as_ptr(), data.len() as u32)
    }

    /// The `ArrayBuffer` over the bytes of a `MAPPED` event (its release token). Read-only
    /// memory: writing to it kills the process. Detached (empty) once released.
    #[napi(ts_return_type = "ArrayBuffer")]
    pub fn mapped_buffer(&self, env: Env, token: u32) -> Result<crate::zerocopy::RawValue> {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        // SAFETY: `env` is this call's env, on the engine's JS thread.
        unsafe { st.lends.buffer(env.raw(), &st.engine, token) }
    }

    /// Bytes queued on a socket and not yet handed to the kernel.
    #[napi]
    pub fn queued_bytes(&self, id: u32) -> f64 {
        self.state.borrow().engine.queued_bytes(id) as f64
    }

    /// Engine counters (syscalls, SQEs, CQEs, bytes, copy-breaks, …) and pool counters.
    #[napi]
    pub fn stats(&self) -> serde_like::Stats {
        let st = self.state.borrow();
        let mut s = serde_like::Stats::new(&st.engine.stats(), &st.pool.stats(), st.failed_records);
        s.busy_poll_budget_us = st.busy.budget().as_micros() as f64;
        s.stranded_submits = st.stranded as f64;
        s
    }

    /// Stops watching the event loop. The engine can't deliver events after this.
    #[napi]
    pub fn close(&mut self) {
        self.busy_hook = None;
        self.watcher = None;
        if let Some(js) = self.js.take() {
            // SAFETY: on the JS thread; the reference and context were created in `start` and
            // are released once, here.
            unsafe {
                sys::napi_delete_reference(js.env, js.callback);
                sys::napi_async_destroy(js.env, js.async_context);
            }
        }
    }
}

/// A `SEND_ZC` record: pool memory (`region`, byte `offset`) or, for region -1, the JS memory
/// pinned under token `offset`. Its send id is the socket's next one (JS counts along).
/// Carries out one submission record; false if it was refused (counted in `failedRecords`).
/// Handles come back only if JS holds them ([`LentHandles`]): a forged or repeated one is
/// refused before the engine or the pool sees it.
fn apply_record(st: &mut State, js_env: Option<sys::napi_env>, r: [i32; 6]) -> bool {
    let sock = r[1] as u32;
    let h = records::handle_from_ints(r[2], r[3]);
    match r[0] {
        records::submit::SEND => {
            if !st.lent.take_back(h) {
                return false;
            }
            let sent = st.engine.send(sock, h, r[4] as u32, r[5] as u32).is_ok();
            if !sent {
                // Refused (the socket failed or closed first): the buffer is still ours.
                let _ = st.js_pool.release(h);
            }
            sent
        }
        // SAFETY: `js_env` is the env of this engine's JS thread (set by `start`).
        records::submit::RELEASE if r[3] == 0 => unsafe {
            st.lends.release(js_env, &mut st.engine, r[2] as u32)
        },
        records::submit::RELEASE => st.lent.take_back(h) && st.engine.release_recv(h).is_ok(),
        records::submit::DROP => st.lent.take_back(h) && st.js_pool.release(h).is_ok(),
        records::submit::SEND_ZC => send_zc_record(st, sock, r[2], r[3], r[4] as u32),
        records::submit::ZC_RECV => st.engine.set_zerocopy_receive(sock, r[2] != 0).is_ok(),
        records::submit::SHUTDOWN => st.engine.shutdown_write(sock).is_ok(),
        records::submit::CLOSE => st.engine.close(sock).is_ok(),
        records::submit::PAUSE => st.engine.pause_recv(sock).is_ok(),
        records::submit::RESUME => st.engine.resume_recv(sock).is_ok(),
        _ => false,
    }
}

/// `[SEND_ZC, socket, -1, token, len]`: a zerocopy send of the JS memory pinned under `token`.
fn send_zc_record(st: &mut State, sock: u32, region: i32, token: i32, len: u32) -> bool {
    if region != -1 {
        return false;
    }
    let Some((ptr, pinned)) = st.pins.take(token as u32) else {
        return false;
    };
    if pinned != len {
        return false;
    }
    // SAFETY: pinned JS memory is kept referenced by JS until this send's completion or the
    // socket's close (see pin_zero_copy).
    unsafe { st.engine.send_zerocopy_pinned(sock, ptr, len) }.is_ok()
}

/// The system call names error records refer to by index.
#[napi]
pub fn syscall_names() -> Vec<String> {
    records::SYSCALLS.iter().map(|s| s.to_string()).collect()
}

mod serde_like {
    //! Stats as a plain JS object.
    use napi_derive::napi;

    /// Engine and pool counters.
    #[napi(object)]
    pub struct Stats {
        pub enters: f64,
        pub epoll_waits: f64,
        pub read_calls: f64,
        pub write_calls: f64,
        /// Writes (send completions / writev calls) that sent queued bytes.
        pub send_ops: f64,
        pub other_syscalls: f64,
        pub sqes: f64,
        pub cqes: f64,
        pub bytes_in: f64,
        pub bytes_out: f64,
        pub recv_events: f64,
        pub copy_breaks: f64,
        pub recv_buffer_exhausted: f64,
        pub accepted: f64,
        pub open_sockets: f64,
        pub pool_in_use: f64,
        pub pool_high_water: f64,
        pub pool_acquired: f64,
        pub pool_released: f64,
        pub failed_records: f64,
        /// Turns that returned to the event loop with work only a submit hands to the kernel
        /// (the engine submitted it then); always 0 unless a path forgot to flush.
        pub stranded_submits: f64,
        /// Busy-poll spins (`setBusyPoll`), those that saw work arrive in their budget, those cut
        /// short because another handle of the loop was ready, the time spent spinning (µs) and
        /// the adaptive budget now (µs).
        pub busy_polls: f64,
        pub busy_poll_hits: f64,
        pub busy_poll_yields: f64,
        pub busy_poll_spun_us: f64,
        pub busy_poll_budget_us: f64,
        pub zerocopy_sends: f64,
        pub zerocopy_bytes: f64,
        pub zerocopy_copied_bytes: f64,
        pub zerocopy_copied_sends: f64,
        pub zerocopy_done_sends: f64,
        pub zerocopy_fallback_sends: f64,
        pub zc_writes: f64,
        pub zc_notifications: f64,
        pub zc_done_events: f64,
        pub zc_enobufs: f64,
        pub zc_leaked_sends: f64,
        pub recv_mapped_bytes: f64,
        pub recv_copied_bytes: f64,
        pub zc_recv_calls: f64,
        pub zc_recv_fallbacks: f64,
        /// Zerocopy sends completed per kernel notification.
        pub zerocopy_sends_per_notification: f64,
    }

    impl Stats {
        pub fn new(
            e: &zerosock_uring::EngineStats,
            p: &zerosock_pool::PoolStats,
            failed_records: u64,
        ) -> Stats {
            Stats {
                enters: e.enters as f64,
                epoll_waits: e.epoll_waits as f64,
                read_calls: e.read_calls as f64,
                write_calls: e.write_calls as f64,
                send_ops: e.send_ops as f64,
                other_syscalls: e.other_syscalls as f64,
                sqes: e.sqes as f64,
                cqes: e.cqes as f64,
                bytes_in: e.bytes_in as f64,
                bytes_out: e.bytes_out as f64,
                recv_events: e.recv_events as f64,
                copy_breaks: e.copy_breaks as f64,
                recv_buffer_exhausted: e.recv_buffer_exhausted as f64,
                accepted: e.accepted as f64,
                open_sockets: e.open_sockets as f64,
                pool_in_use: p.in_use as f64,
                pool_high_water: p.high_water as f64,
                pool_acquired: p.acquired as f64,
                pool_released: p.released as f64,
                failed_records: failed_records as f64,
                stranded_submits: 0.0,
                busy_polls: e.busy_polls as f64,
                busy_poll_hits: e.busy_poll_hits as f64,
                busy_poll_yields: e.busy_poll_yields as f64,
                busy_poll_spun_us: e.busy_poll_spun_us as f64,
                busy_poll_budget_us: 0.0,
                zerocopy_sends: e.zerocopy_sends as f64,
                zerocopy_bytes: e.zerocopy_bytes as f64,
                zerocopy_copied_bytes: e.zerocopy_copied_bytes as f64,
                zerocopy_copied_sends: e.zerocopy_copied_sends as f64,
                zerocopy_done_sends: e.zerocopy_done_sends as f64,
                zerocopy_fallback_sends: e.zerocopy_fallback_sends as f64,
                zc_writes: e.zc_writes as f64,
                zc_notifications: e.zc_notifications as f64,
                zc_done_events: e.zc_done_events as f64,
                zc_enobufs: e.zc_enobufs as f64,
                zc_leaked_sends: e.zc_leaked_sends as f64,
                recv_mapped_bytes: e.recv_mapped_bytes as f64,
                recv_copied_bytes: e.recv_copied_bytes as f64,
                zc_recv_calls: e.zc_recv_calls as f64,
                zc_recv_fallbacks: e.zc_recv_fallbacks as f64,
                zerocopy_sends_per_notification: if e.zc_notifications == 0 {
                    0.0
                } else {
                    e.zerocopy_done_sends as f64 / e.zc_notifications as f64
                },
            }
        }
    }
}
