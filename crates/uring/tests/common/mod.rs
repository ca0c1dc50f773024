//! Shared helpers of the engine tests: pools, engines on both backends, an event loop driver,
//! a deterministic byte pattern and a word-wise hash.
#![allow(dead_code)]

use std::time::{Duration, Instant};
use zerosock_pool::{Pool, PoolConfig, SizeClass};
use zerosock_uring::{probe, BackendKind, Engine, EngineConfig, Event};

/// Backends to run a test on: epoll always, io_uring when the probe says it's usable.
pub fn backends() -> Vec<BackendKind> {
    let mut v = vec![BackendKind::Epoll];
    let report = probe();
    if report.io_uring_usable() {
        v.push(BackendKind::IoUring);
    } else {
        eprintln!(
            "io_uring not usable here ({:?}, features {:?}): io_uring part skipped",
            report.io_uring.error, report.features
        );
    }
    v
}

/// A stream length for a test: `full` natively, an eighth of it under valgrind memcheck
/// (`ZEROSOCK_UNDER_VALGRIND=1`, set by .ci/memcheck.sh), where every instruction is ~50x
/// slower and a full-size stream runs into the test's time limit. Whatever the length, the
/// test checks every byte of it.
pub fn stream_len(full: usize) -> usize {
    if std::env::var_os("ZEROSOCK_UNDER_VALGRIND").is_some() {
        (full / 8).max(1 << 20)
    } else {
        full
    }
}

/// The time bound of a long stream: it fails when no byte moved for `stall` (a hang) or the
/// whole stream took longer than `cap`. Progress, not a fixed total, is what a loaded machine
/// (a CI box running builds beside the tests) cannot fake, so the bound holds a hang to
/// seconds without failing a slow but moving stream.
pub struct Watchdog {
    start: Instant,
    last_move: Instant,
    last_bytes: u64,
    stall: Duration,
    cap: Duration,
}

impl Watchdog {
    /// A watchdog starting now.
    pub fn new(stall: Duration, cap: Duration) -> Self {
        let now = Instant::now();
        Watchdog {
            start: now,
            last_move: now,
            last_bytes: 0,
            stall,
            cap,
        }
    }

    /// Panics with `what` when `bytes` has not grown for the stall time or the cap is reached.
    pub fn check(&mut self, bytes: u64, what: &str) {
        let now = Instant::now();
        if bytes != self.last_bytes {
            self.last_bytes = bytes;
            self.last_move = now;
        }
        assert!(
            now - self.last_move < self.stall,
            "{what}: no progress for {:?} at {bytes} bytes",
            self.stall
        );
        assert!(
            now - self.start < self.cap,
            "{what}: still running after {:?} at {bytes} bytes",
            self.cap
        );
    }
}

/// A pool: small 2 KiB x 1024 (growable), large 64 KiB with `large_max` as the hard limit.
pub fn pool(large_count: u32, large_max: Option<u32>) -> Pool {
    Pool::new(PoolConfig {
        classes: vec![
            SizeClass {
                size: 2048,
                count: 1024,
                max_count: None,
            },
            SizeClass {
                size: 64 * 1024,
                count: large_count,
                max_count: large_max,
            },
        ],
        populate: false,
    })
    .expect("pool")
}

/// Large buffers in use.
pub fn large_in_use(pool: &Pool) -> u64 {
    pool.stats().classes[1].in_use
}

/// Buffers in use, all classes.
pub fn in_use(pool: &Pool) -> u64 {
    pool.stats().in_use
}

/// An engine with default settings on `kind`.
pub fn engine(kind: BackendKind, pool: &Pool) -> Engine {
    Engine::new(EngineConfig::new(kind, pool.clone())).expect("engine")
}

thread_local! {
    /// Events of the last batch that came after `step` returned true; the next `drive` on
    /// this thread sees them first.
    static LEFTOVER: std::cell::RefCell<std::collections::VecDeque<Event>> =
        Default::default();
}

/// Runs the engine until `step` returns true (called for each event, with the engine), or
/// panics after `limit`. Submits after every batch of events, like the binding does per tick.
pub fn drive(
    engine: &mut Engine,
    limit: Duration,
    mut step: impl FnMut(&mut Engine, Event) -> bool,
) {
    let deadline = Instant::now() + limit;
    let mut events: Vec<Event> = LEFTOVER.with(|l| l.borrow_mut().drain(..).collect());
    let mut flip = false;
    loop {
        let mut batch = events.drain(..);
        while let Some(ev) = batch.next() {
            if step(engine, ev) {
                let rest: Vec<Event> = batch.collect();
                LEFTOVER.with(|l| l.borrow_mut().extend(rest));
                engine.submit().expect("submit");
                return;
            }
        }
        drop(batch);
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} on {}: {:?}",
            engine.describe(),
            engine.stats()
        );
        // Alternate the two ways of submitting, so both stay covered.
        if flip {
            engine.submit_and_collect(&mut events).expect("submit");
        } else {
            engine.submit().expect("submit");
        }
        flip = !flip;
        if events.is_empty() {
            engine.wait(Duration::from_millis(50), &mut events);
        }
    }
}

/// Drives client `c` (its bytes sent, its write side shut) until the echo came back and the
/// peer's FIN closed it; returns the echoed bytes. `on_connected` looks at the socket once it
/// is connected.
pub fn collect_echo(
    e: &mut Engine,
    pool: &Pool,
    c: zerosock_uring::SocketId,
    limit: Duration,
    mut on_connected: impl FnMut(&mut Engine),
) -> Vec<u8> {
    let mut got = Vec::new();
    drive(e, limit, |e, ev| match ev {
        Event::Connected { socket } => {
            assert_eq!(socket, c);
            on_connected(e);
            false
        }
        Event::Data { .. } => {
            got.extend(take_data(e, pool, &ev));
            false
        }
        Event::Sent { .. } => false,
        Event::Eof { .. } => {
            e.close(c).unwrap();
            false
        }
        Event::Closed { socket } => socket == c,
        other => panic!("{}: unexpected {other:?}", e.describe()),
    });
    got
}

/// Takes the events `drive` kept back.
pub fn leftover_events() -> Vec<Event> {
    LEFTOVER.with(|l| l.borrow_mut().drain(..).collect())
}

/// Takes the events `drive` kept back and returns the buffers of their Data events.
pub fn leftover_buffers() -> Vec<zerosock_pool::BufHandle> {
    LEFTOVER.with(|l| {
        l.borrow_mut()
            .drain(..)
            .filter_map(|ev| match ev {
                Event::Data { buf, .. } => Some(buf),
                _ => None,
            })
            .collect()
    })
}

/// Copies a Data event's bytes out (and releases the buffer).
pub fn take_data(engine: &mut Engine, pool: &Pool, ev: &Event) -> Vec<u8> {
    let Event::Data {
        buf, offset, len, ..
    } = *ev
    else {
        panic!("not data: {ev:?}");
    };
    let ptr = pool.ptr(buf).expect("live buffer");
    // SAFETY: the engine handed us `buf` with `len` valid bytes at `offset`.
    let bytes =
        unsafe { std::slice::from_raw_parts(ptr.add(offset as usize), len as usize) }.to_vec();
    engine.release_recv(buf).expect("release");
    bytes
}

/// Feeds the `len` received bytes at `offset` of `buf` to `hash`, then gives `buf` back.
pub fn hash_received(
    engine: &mut Engine,
    pool: &Pool,
    buf: zerosock_pool::BufHandle,
    offset: u32,
    len: u32,
    hash: &mut StreamHash,
) {
    let p = pool.ptr(buf).expect("live buffer");
    // SAFETY: the engine handed us `buf` with `len` valid bytes at `offset`.
    hash.update(unsafe { std::slice::from_raw_parts(p.add(offset as usize), len as usize) });
    engine.release_recv(buf).expect("release");
}

/// The 8 pattern bytes at stream positions `8 * word .. 8 * word + 8`.
pub fn pattern_word(word: u64) -> u64 {
    let x = word.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

/// The byte at stream position `pos` of the test pattern.
pub fn pattern_byte(pos: u64) -> u8 {
    pattern_word(pos / 8).to_le_bytes()[(pos % 8) as usize]
}

/// Fills `buf` with the pattern from stream position `pos` (fast when `pos` is 8-aligned).
pub fn fill_pattern(buf: &mut [u8], pos: u64) {
    if pos.is_multiple_of(8) {
        let mut chunks = buf.chunks_exact_mut(8);
        let mut w = pos / 8;
        for c in &mut chunks {
            c.copy_from_slice(&pattern_word(w).to_le_bytes());
            w += 1;
        }
        let rest = chunks.into_remainder();
        let tail = pattern_word(w).to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&tail[..n]);
        return;
    }
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(pos + i as u64);
    }
}

/// FNV-1a over 64-bit words, fed in arbitrary chunks (a tail of < 8 bytes is carried over).
#[derive(Default)]
pub struct StreamHash {
    h: u64,
    carry: [u8; 8],
    carried: usize,
    pub bytes: u64,
}

impl StreamHash {
    pub fn new() -> Self {
        StreamHash {
            h: 0xcbf2_9ce4_8422_2325,
            ..Default::default()
        }
    }

    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(0x0000_0100_0000_01B3);
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.bytes += data.len() as u64;
        if self.carried > 0 {
            let n = (8 - self.carried).min(data.len());
            self.carry[self.carried..self.carried + n].copy_from_slice(&data[..n]);
            self.carried += n;
            data = &data[n..];
            if self.carried < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.carry);
            self.word(w);
            self.carried = 0;
        }
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let rest = chunks.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    pub fn finish(&self) -> u64 {
        let mut h = self.h;
        for &b in &self.carry[..self.carried] {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3);
        }
        h ^ self.bytes
    }
}

/// xorshift64* for random sizes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Sets SO_LINGER {on, 0} so that close sends RST.
pub fn linger_zero(fd: std::os::fd::RawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `l` is a valid linger struct for the length passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
}

#[test]
fn stream_hash_is_chunking_independent() {
    let data: Vec<u8> = (0..1000u32).map(|i| pattern_byte(i as u64)).collect();
    let mut a = StreamHash::new();
    a.update(&data);
    let mut b = StreamHash::new();
    for c in data.chunks(7) {
        b.update(c);
    }
    assert_eq!(a.finish(), b.finish());
}

/// An echo server over an engine: sends every received buffer straight back (no copy),
/// half-closes after the peer's FIN, closes once that is flushed.
#[derive(Default)]
pub struct Echo {
    draining: std::collections::HashSet<zerosock_uring::SocketId>,
    pub accepted: usize,
    pub closed: usize,
    pub bytes: u64,
}

impl Echo {
    /// Handles one server-side event; returns false if the event was not the server's.
    pub fn on(&mut self, e: &mut Engine, ev: &Event) -> bool {
        match *ev {
            Event::Accepted { .. } => self.accepted += 1,
            Event::Data {
                socket,
                buf,
                offset,
                len,
            } => {
                self.bytes += len as u64;
                e.send(socket, buf, offset, len).expect("echo send");
            }
            Event::Eof { socket } => {
                e.shutdown_write(socket).expect("shutdown");
                if e.queued_bytes(socket) == 0 {
                    e.close(socket).expect("close");
                } else {
                    self.draining.insert(socket);
                }
            }
            Event::Sent { socket, .. } => {
                if self.draining.contains(&socket) && e.queued_bytes(socket) == 0 {
                    self.draining.remove(&socket);
                    e.close(socket).expect("close");
                }
            }
            Event::Closed { .. } => self.closed += 1,
            Event::Error { socket, err } => panic!("echo server socket {socket}: {err}"),
            Event::TlsReady { .. } => {}
            Event::TlsFailed { socket } => {
                let why = e
                    .tls_session(socket)
                    .and_then(|s| s.error())
                    .map(|e| e.to_string());
                panic!("echo server socket {socket}: TLS failed: {why:?}")
            }
            Event::Connected { .. }
            | Event::ZeroCopyDone { .. }
            | Event::Mapped { .. }
            | Event::FileSent { .. } => return false,
        }
        true
    }
}
