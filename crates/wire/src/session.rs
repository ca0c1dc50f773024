//! [`Session`]: one JS thread's engine and everything between it and the shared records —
//! the submission-record interpreter with its ownership gate (a handle comes back only if JS
//! holds it; pinned memory by token), the event writer with its overflow queue, the
//! submit-debt reply int, busy polling's budget and the counters. The binding only calls it.

use crate::lends::{Lend, MappedLends, Views};
use crate::pins::Pins;
use crate::records::{self, Record, SubmitKind, EVENT_RECORDS, RECORD_INTS, REPLY_INTS};
use crate::shared_ints::SharedInts;
use crate::stats::StatsSources;
use crate::tls::TlsConfigs;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use zerosock_pool::{BufHandle, LentHandles, LocalPool, Pool, PoolConfig, PoolError, RegionInfo};
use zerosock_uring::{
    BackendKind, BusyPoll, Engine, EngineConfig, EngineError, Event, SockAddr, SocketId,
    SubmitDebt, SysError,
};

/// What JS may set when it makes an engine.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Reads shorter than this are copied into a small buffer (copy-break).
    pub copy_break: Option<usize>,
    /// Provided receive buffers (io_uring).
    pub recv_buffers: Option<u32>,
    /// The pool (default: `PoolConfig::default()`).
    pub pool: Option<PoolConfig>,
}

/// One engine and its shared records, for one JS thread.
pub struct Session {
    engine: Engine,
    pool: Pool,
    /// JS's own owner handle: cork buffers are taken here; the engine's release of a sent
    /// buffer returns it through this owner's return ring (deferred free).
    js_pool: LocalPool,
    regions: Vec<RegionInfo>,
    events: SharedInts,
    submits: SharedInts,
    scratch: Vec<Event>,
    /// Events that did not fit the event records yet (delivered first, nothing is lost).
    pending: VecDeque<Event>,
    failed_records: u64,
    /// JS memory named by the next SEND_ZC records, and receive chunks lent to JS.
    pins: Pins,
    lends: MappedLends,
    /// Pool buffers JS holds (received in a DATA record, or taken for corking): the only
    /// handles SEND, RELEASE and DROP records may name, each once.
    lent: LentHandles,
    /// Busy polling's adaptive budget (off with a zero maximum).
    busy: BusyPoll,
    /// Turns that returned to the event loop with work owed (see [`Session::settle`]).
    stranded: u64,
    /// Times the event loop woke for the engine (its notify fd was ready).
    loop_wakeups: u64,
    tls: TlsConfigs,
}

/// Region id and byte offset within the region of `offset` in buffer `h` (-1 if none).
fn locate(pool: &Pool, regions: &[RegionInfo], h: BufHandle, offset: u32) -> (i32, i32) {
    let Ok(ptr) = pool.ptr(h) else {
        return (-1, 0);
    };
    let addr = ptr as usize + offset as usize;
    regions
        .iter()
        .position(|r| addr >= r.base as usize && addr < r.base as usize + r.len)
        .map_or((-1, 0), |id| {
            (id as i32, (addr - regions[id].base as usize) as i32)
        })
}

impl Session {
    /// An engine of `backend` with its own pool, and empty records.
    pub fn new(backend: BackendKind, options: SessionOptions) -> Result<Session, EngineError> {
        let pool = Pool::new(options.pool.unwrap_or_default())?;
        let mut config = EngineConfig::new(backend, pool.clone());
        if let Some(c) = options.copy_break {
            config.copy_break = c;
        }
        if let Some(r) = options.recv_buffers {
            config.recv_buffers = r;
        }
        let engine = Engine::new(config)?;
        Ok(Session {
            engine,
            js_pool: pool.local(),
            regions: pool.regions(),
            pool,
            events: SharedInts::new(EVENT_RECORDS * RECORD_INTS),
            submits: SharedInts::new(REPLY_INTS + records::SUBMIT_RECORDS * RECORD_INTS),
            scratch: Vec::with_capacity(EVENT_RECORDS),
            pending: VecDeque::with_capacity(EVENT_RECORDS),
            failed_records: 0,
            pins: Pins::default(),
            lends: MappedLends::default(),
            lent: LentHandles::new(),
            busy: BusyPoll::new(Duration::ZERO),
            stranded: 0,
            loop_wakeups: 0,
            tls: TlsConfigs::default(),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, for calls that change nothing the session tracks.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Listens on `addr`; returns the listener. The multishot accept is handed to the kernel
    /// at once (a process that only listens has nothing else that would submit it).
    pub fn listen(
        &mut self,
        addr: SockAddr,
        backlog: u32,
        reuse_port: bool,
    ) -> Result<SocketId, EngineError> {
        let id = self.engine.listen(addr, backlog, reuse_port)?;
        self.engine.submit()?;
        Ok(id)
    }

    /// Starts connecting to `addr` (submitted at once); `CONNECTED` or `ERROR` follows.
    pub fn connect(&mut self, addr: impl Into<SockAddr>) -> Result<SocketId, EngineError> {
        let id = self.engine.connect(addr)?;
        self.engine.submit()?;
        Ok(id)
    }

    /// Builds a TLS server (`server`) or client config from the JSON of ts/net/tls.ts.
    pub fn tls_config(&mut self, json: &str, server: bool) -> Result<u32, EngineError> {
        self.tls.add(json, server)
    }

    /// TLS config `config` on listener `id` (no `servername`) or on connecting socket `id`
    /// (checked against `servername`); the ClientHello is submitted at once.
    pub fn set_tls(
        &mut self,
        id: SocketId,
        config: u32,
        servername: Option<&str>,
    ) -> Result<(), EngineError> {
        self.tls.apply(&mut self.engine, id, config, servername)?;
        Ok(self.engine.submit().map(|_| ())?)
    }

    /// The pool the engine and JS share.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The event records (native → JS).
    pub fn events(&self) -> &SharedInts {
        &self.events
    }

    /// The reply ints then the submission records (JS → native).
    pub fn submits(&self) -> &SharedInts {
        &self.submits
    }

    /// The pool's regions now (they grow with the pool).
    pub fn regions(&mut self) -> &[RegionInfo] {
        // (regions are only ever appended: positions, the ids JS caches views by, stay put)
        if self.pool.region_count() != self.regions.len() {
            self.regions = self.pool.regions();
        }
        &self.regions
    }

    /// Tells JS (the [`records::OWES_SUBMIT_INT`] reply int) whether the engine holds work
    /// that only a submit hands to the kernel.
    fn publish_debt(&mut self) {
        let owes = !self.engine.debt().is_empty();
        self.submits
            .write(records::OWES_SUBMIT_INT, &[i32::from(owes)]);
    }

    /// The end of a turn (JS returned to native, microtasks drained): nothing may stay owed,
    /// since nothing would wake the loop for it. Anything that is owed is counted as stranded
    /// (`strandedSubmits`, always 0 when JS settles its turns) and submitted here, so no byte
    /// waits on a submit that never comes. Returns what was owed.
    pub fn settle(&mut self) -> Option<SubmitDebt> {
        let debt = self.engine.debt();
        if debt.is_empty() {
            return None;
        }
        self.stranded += 1;
        let _ = self.engine.submit();
        self.publish_debt();
        Some(debt)
    }

    /// Takes a pool buffer of `class` for JS to fill (lent to JS from now on); writes
    /// `[region, byteOffset, handleLo, handleHi, size]` into the reply ints, returns region.
    pub fn acquire(&mut self, class: usize) -> Result<i32, PoolError> {
        let h = self.js_pool.acquire(class)?;
        self.regions();
        let (region, at) = locate(&self.pool, &self.regions, h, 0);
        self.lent.lend(h);
        let (lo, hi) = records::handle_ints(h);
        let size = self.pool.class_size(class).unwrap_or(0) as i32;
        self.submits.write(0, &[region, at, lo, hi, size]);
        Ok(region)
    }

    /// Writes up to [`EVENT_RECORDS`] events, queued ones first, into the event records and
    /// returns their number; whatever does not fit stays queued for the next call.
    pub fn write_events(&mut self) -> usize {
        self.regions();
        let n = self.pending.len().min(EVENT_RECORDS);
        for i in 0..n {
            let ev = self.pending.pop_front().expect("counted above");
            let mut rec = records::encode(&ev, &|h, off| locate(&self.pool, &self.regions, h, off));
            match ev {
                Event::Mapped {
                    window, chunk, len, ..
                } => rec[5] = self.lends.lend(Lend { window, chunk, len }),
                Event::Data { buf, offset, .. } => {
                    // JS forwards a lent view by its place in the view (ts/core/engine.ts
                    // takeLent): received bytes start their buffer.
                    debug_assert_eq!(offset, 0, "Data starts at its buffer's first byte");
                    self.lent.lend(buf)
                }
                _ => {}
            }
            self.events.write(i * RECORD_INTS, &rec);
        }
        n
    }

    /// Moves the scratch events into the queue.
    fn queue_scratch(&mut self) {
        self.pending.extend(self.scratch.drain(..));
    }

    /// One batch for the event loop's callback: polls the engine if nothing is queued, writes
    /// the event records and returns their number (0: nothing to deliver).
    pub fn next_batch(&mut self) -> usize {
        if self.pending.is_empty() {
            self.scratch.clear();
            self.engine.poll(&mut self.scratch, EVENT_RECORDS);
            self.queue_scratch();
        }
        let n = self.write_events();
        if n > 0 {
            self.busy.engine_work();
        }
        n
    }

    /// Applies `count` submission records, then submits everything queued with one
    /// `io_uring_enter` (or the epoll writes). With `collect`, events that completed right
    /// away are written to the event records and their number returned. Refused records
    /// (naming a socket that is gone, a handle JS does not hold, …) are counted in
    /// `failedRecords`. `views` detaches JS views of mapped chunks that are released.
    pub fn flush(
        &mut self,
        count: usize,
        collect: bool,
        views: &mut dyn Views,
    ) -> Result<usize, SysError> {
        let count = count.min(records::SUBMIT_RECORDS);
        if count > 0 {
            self.busy.engine_work();
        }
        for i in 0..count {
            let at = REPLY_INTS + i * RECORD_INTS;
            let r: Record = std::array::from_fn(|k| self.submits.read(at + k));
            if !self.apply(&r, views) {
                self.failed_records += 1;
            }
        }
        if !collect {
            let result = self.engine.submit();
            self.publish_debt();
            return result.map(|_| 0);
        }
        self.scratch.clear();
        let result = self.engine.submit_and_collect(&mut self.scratch);
        self.queue_scratch();
        self.publish_debt();
        result?;
        Ok(self.write_events())
    }

    /// Carries out one submission record; false if it was refused. Handles come back only if
    /// JS holds them ([`LentHandles`]): a forged or repeated one is refused before the engine
    /// or the pool sees it.
    pub fn apply(&mut self, r: &Record, views: &mut dyn Views) -> bool {
        let sock: SocketId = r[1] as u32;
        let h = records::handle_from_ints(r[2], r[3]);
        let Some(kind) = SubmitKind::from_i32(r[0]) else {
            return false;
        };
        let e = &mut self.engine;
        match kind {
            SubmitKind::Send => {
                if !self.lent.take_back(h) {
                    return false;
                }
                let sent = e.send(sock, h, r[4] as u32, r[5] as u32).is_ok();
                if !sent {
                    // Refused (the socket failed or closed first): the buffer is still ours.
                    let _ = self.js_pool.release(h);
                }
                sent
            }
            SubmitKind::Release if r[3] == 0 => self.release_mapped(r[2] as u32, views),
            SubmitKind::Release => self.lent.take_back(h) && e.release_recv(h).is_ok(),
            SubmitKind::Drop => self.lent.take_back(h) && self.js_pool.release(h).is_ok(),
            SubmitKind::SendZc => self.send_pinned(sock, r[2], r[3] as u32, r[4] as u32),
            SubmitKind::SendZcPool => {
                if !self.lent.take_back(h) {
                    return false;
                }
                let sent = e.send_zerocopy(sock, h, r[4] as u32, r[5] as u32).is_ok();
                if !sent {
                    // Refused (the socket failed or closed first): the buffer is still ours.
                    let _ = self.js_pool.release(h);
                }
                sent
            }
            SubmitKind::SendFile => {
                let off = (r[3] as u32 as u64) | ((r[4] as u32 as u64) << 32);
                let len = (r[5] as u32 as u64) | ((r[6] as u32 as u64) << 32);
                e.send_file(sock, r[2], off, len).is_ok()
            }
            SubmitKind::ZcRecv => e.set_zerocopy_receive(sock, r[2] != 0).is_ok(),
            SubmitKind::Shutdown => e.shutdown_write(sock).is_ok(),
            SubmitKind::Close => e.close(sock).is_ok(),
            SubmitKind::Pause => e.pause_recv(sock).is_ok(),
            SubmitKind::Resume => e.resume_recv(sock).is_ok(),
        }
    }

    /// `[RELEASE, 0, token, 0]`: gives a mapped chunk back once its views are detached.
    fn release_mapped(&mut self, token: u32, views: &mut dyn Views) -> bool {
        match self.lends.end(token, views) {
            Some(l) => self.engine.release_mapped(l.window, l.chunk).is_ok(),
            None => false,
        }
    }

    /// `[SEND_ZC, socket, -1, token, len]`: a zerocopy send of the JS memory pinned under
    /// `token`; refused unless region is -1 and `len` is what was pinned.
    fn send_pinned(&mut self, sock: SocketId, region: i32, token: u32, len: u32) -> bool {
        if region != -1 {
            return false;
        }
        let Some((ptr, pinned)) = self.pins.take(token) else {
            return false;
        };
        if pinned != len {
            return false;
        }
        // SAFETY: pinned JS memory is kept referenced by JS until this send's completion or
        // the socket's close (the contract of `Session::pin`).
        unsafe { self.engine.send_zerocopy_pinned(sock, ptr, len) }.is_ok()
    }

    /// Whether JS holds pool buffer `h` (taken with [`Session::acquire`] or delivered in a
    /// `DATA` record, not yet handed back): what SEND, RELEASE and DROP records are checked
    /// against.
    pub fn lent_to_js(&self, h: BufHandle) -> bool {
        self.lent.is_lent(h)
    }

    /// Lends `len` bytes at `ptr` to the next `SEND_ZC` record; returns its token. The caller
    /// keeps the memory valid and unchanged until the send's `ZC_DONE` or the socket's
    /// `CLOSED` (the kernel reads it in place); the session never dereferences it.
    pub fn pin(&mut self, ptr: *const u8, len: u32) -> u32 {
        self.pins.pin(ptr, len)
    }

    /// The mapped chunk lent under release `token`, and where its bytes are now (with what
    /// keeps them mapped).
    pub fn lent_chunk(
        &self,
        token: u32,
    ) -> Option<(Lend, *const u8, zerosock_uring::MappedMemory)> {
        let lend = self.lends.get(token)?;
        let (ptr, keep) = self.engine.mapped_chunk(lend.window, lend.chunk)?;
        Some((lend, ptr, keep))
    }

    /// Queues `data` on socket `id` (copied, or written directly when the socket is
    /// writable); order is kept with earlier flushed records.
    pub fn send_copy(&mut self, id: SocketId, data: &[u8]) -> Result<(), EngineError> {
        let result = self.engine.send_copy(id, data);
        self.publish_debt();
        result
    }

    /// Busy polling spins at most `max` before the loop waits (zero: off).
    pub fn set_busy_poll(&mut self, max: Duration) {
        self.busy.set_max(max);
    }

    /// The event loop woke up for the engine's notify fd.
    pub fn woke(&mut self) {
        self.loop_wakeups += 1;
        self.busy.engine_woke(Instant::now());
    }

    /// Right before the loop waits `timeout_ms` for I/O on `loop_fd`: spins on the engine for
    /// busy polling's budget, if it grants one.
    pub fn before_io_wait(&mut self, timeout_ms: i32, loop_fd: i32) {
        let now = Instant::now();
        if let Some(budget) = self.busy.before_wait(timeout_ms, now) {
            let end = self.engine.busy_wait(budget, Some(loop_fd));
            self.busy.spun(end, now);
        }
    }

    /// Everything the counters of `stats()` are read from.
    pub fn stats(&self) -> StatsSources {
        StatsSources {
            engine: self.engine.stats(),
            pool: self.pool.stats(),
            failed_records: self.failed_records,
            stranded_submits: self.stranded,
            loop_wakeups: self.loop_wakeups,
            busy_poll_budget_us: self.busy.budget().as_micros() as u64,
        }
    }
}
