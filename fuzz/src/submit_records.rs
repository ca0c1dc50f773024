//! Target `submit_records`: the 8-int submission records JS writes into shared memory, decoded
//! and applied exactly as `NativeEngine::flush` (crates/node/src/engine.rs) does, against a
//! live engine with a listener and two loopback connections to plain peer sockets that write
//! and read at random — with forged socket ids, stale, foreign,
//! mutated and random buffer handles, and out-of-range offsets and lengths mixed in.
//!
//! Must hold: no panic; every call fails cleanly or succeeds; a buffer the harness still
//! believes it owns (not handed over by a successful record) can be released exactly once;
//! no event of a socket arrives after its `Closed`; once everything is
//! closed and released, the pool has every buffer back (no leak, no double free).

use crate::node_records::{self as records, RECORD_INTS};
use arbitrary::{Result, Unstructured};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use zerosock_pool::{BufHandle, LocalPool, Pool, PoolConfig, SizeClass};
use zerosock_uring::{probe, BackendKind, Engine, EngineConfig, Event, SocketId};

/// Operations per input at most.
const MAX_OPS: usize = 64;
/// How long setup and teardown may wait for the kernel.
const LIMIT: Duration = Duration::from_secs(10);

/// `ZEROSOCK_FUZZ_TRACE=1` prints each operation and event (to minimise a finding by hand).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ZEROSOCK_FUZZ_TRACE").is_some())
}

fn io_uring_usable() -> bool {
    static USABLE: OnceLock<bool> = OnceLock::new();
    *USABLE.get_or_init(|| probe().io_uring_usable())
}

/// The engine under test and what the harness believes about ownership.
struct World {
    engine: Engine,
    pool: Pool,
    js: LocalPool,
    listener: SocketId,
    sockets: Vec<SocketId>,
    /// `close()` succeeded: only `Closed` may follow.
    closing: HashSet<SocketId>,
    closed: HashSet<SocketId>,
    /// Cork-like buffers JS acquired and has not handed over.
    owned: Vec<BufHandle>,
    /// Received buffers JS holds.
    received: Vec<BufHandle>,
    /// Handles given back already (stale).
    stale: Vec<BufHandle>,
    events: Vec<Event>,
    /// A forged record freed or took a buffer JS never held (see [`FORGED_LIVE`]).
    forged_live: bool,
    /// The other ends of the engine's two connections (plain sockets, closed with RST).
    peers: Vec<TcpStream>,
}

/// One listener for every input's peers, bound once: binding a fresh port per input and
/// closing with FIN left two TIME_WAIT sockets per input, and ~30 000 inputs exhausted the
/// ephemeral ports (bind: EADDRINUSE). Peers close with RST (SO_LINGER 0): no TIME_WAIT.
fn peer_listener() -> &'static TcpListener {
    static LISTENER: OnceLock<TcpListener> = OnceLock::new();
    LISTENER.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").expect("peer listener");
        l.set_nonblocking(true).expect("nonblocking listener");
        l
    })
}

/// SO_LINGER {on, 0}: close sends RST and leaves no TIME_WAIT behind.
fn linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid descriptor and a `linger` of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
}

/// Inputs in which a forged SEND/RELEASE/DROP record named a buffer that the engine or the
/// kernel holds (e.g. a posted receive buffer: generations start at 1, so its handle is easy
/// to guess) and the engine accepted it. The engine trusts the binding to only release what
/// it lent; this counts how often fuzzing breaks that trust. `ZEROSOCK_FUZZ_STRICT=1` makes
/// it a finding (panic) instead.
pub static FORGED_LIVE: AtomicU64 = AtomicU64::new(0);

fn small_pool() -> Pool {
    Pool::new(PoolConfig {
        classes: vec![
            SizeClass {
                size: 2048,
                count: 64,
                max_count: Some(256),
            },
            SizeClass {
                size: 64 * 1024,
                count: 32,
                max_count: Some(128),
            },
        ],
        populate: false,
    })
    .expect("pool")
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let kind = match u.ratio(1u8, 2u8) {
        Ok(true) if io_uring_usable() => BackendKind::IoUring,
        _ => BackendKind::Epoll,
    };
    let pool = small_pool();
    {
        let mut w = World::new(kind, pool.clone());
        let _ = w.ops(&mut u);
        if w.forged_live {
            // Nothing to check: the books were broken on purpose. Dropping must not crash.
            return;
        }
        w.teardown();
    }
    assert_eq!(
        pool.stats().in_use,
        0,
        "{kind}: buffers missing after teardown: {:?}",
        pool.stats()
    );
}

impl World {
    fn new(kind: BackendKind, pool: Pool) -> World {
        let mut cfg = EngineConfig::new(kind, pool.clone());
        cfg.recv_buffers = 16;
        let mut engine = Engine::new(cfg).expect("engine");
        // A listener for the records to hit (nobody connects to it).
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let listener = engine.listen(addr, 64, false).expect("listen");
        let at = peer_listener().local_addr().expect("peer address");
        let clients = [
            engine.connect(at).expect("connect"),
            engine.connect(at).expect("connect"),
        ];
        engine.submit().expect("submit");
        let mut w = World {
            engine,
            js: pool.local(),
            pool,
            listener,
            sockets: clients.to_vec(),
            closing: HashSet::new(),
            closed: HashSet::new(),
            owned: Vec::new(),
            received: Vec::new(),
            stale: Vec::new(),
            events: Vec::new(),
            forged_live: false,
            peers: Vec::new(),
        };
        let deadline = Instant::now() + LIMIT;
        let mut connected = 0;
        while connected < 2 || w.peers.len() < 2 {
            assert!(Instant::now() < deadline, "{kind}: setup timed out");
            match peer_listener().accept() {
                Ok((peer, _)) => {
                    peer.set_nonblocking(true).expect("nonblocking peer");
                    linger_zero(&peer);
                    w.peers.push(peer);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
            w.events.clear();
            w.engine.submit().expect("submit");
            let mut events = std::mem::take(&mut w.events);
            w.engine.wait(Duration::from_millis(1), &mut events);
            for ev in &events {
                if matches!(ev, Event::Connected { .. }) {
                    connected += 1;
                }
                w.on_event(ev);
            }
            w.events = events;
        }
        w
    }

    /// Applies fuzzed operations.
    fn ops(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        for _ in 0..MAX_OPS {
            if u.is_empty() || self.forged_live {
                break;
            }
            match u.int_in_range(0u8..=11)? {
                0..=3 => {
                    let rec = self.record(u)?;
                    self.apply(rec);
                }
                4 => {
                    let class = u.int_in_range(0usize..=2)?;
                    match self.js.acquire(class) {
                        Ok(h) => {
                            assert!(class < 2, "acquired from a class that does not exist");
                            self.owned.push(h);
                        }
                        Err(e) => assert!(!e.code().is_empty()),
                    }
                }
                5 | 6 => {
                    let collect = u.ratio(1u8, 2u8)?;
                    if trace() {
                        eprintln!("tick collect={collect}");
                    }
                    self.tick(collect)
                }
                7 => {
                    let sock = self.pick_socket(u)?;
                    let len = u.int_in_range(0usize..=200_000)?;
                    let data = vec![0x5Au8; len];
                    let r = self.engine.send_copy(sock, &data);
                    if trace() {
                        eprintln!("send_copy({sock}, {len}) -> {r:?}");
                    }
                }
                8 => {
                    if !self.received.is_empty() {
                        let i = u.choose_index(self.received.len())?;
                        let h = self.received.swap_remove(i);
                        self.engine
                            .release_recv(h)
                            .expect("a received buffer JS holds must release once");
                        self.stale.push(h);
                    }
                }
                9 => {
                    let _ = self.engine.queued_bytes(u.arbitrary()?);
                    let _ = self.engine.local_addr(u.arbitrary()?);
                    let _ = self.engine.peer_addr(self.pick_socket(u)?);
                }
                _ => {
                    // A peer writes (so Data events come) or reads what it was sent.
                    let i = u.choose_index(self.peers.len())?;
                    if u.ratio(1u8, 2u8)? {
                        let n = u.int_in_range(1usize..=150_000)?;
                        let _ = self.peers[i].write(&vec![0xA5u8; n]);
                    } else {
                        let mut buf = vec![0u8; 256 * 1024];
                        let _ = self.peers[i].read(&mut buf);
                    }
                }
            }
        }
        Ok(())
    }

    /// One fuzzed record: `[kind, socket, handleLo, handleHi, offset, len, 0, 0]`.
    fn record(&self, u: &mut Unstructured<'_>) -> Result<[i32; RECORD_INTS]> {
        let kind = match u.int_in_range(0u8..=15)? {
            k @ 0..=6 => i32::from(k) + 1,
            7 => 0,
            8 => 8,
            9 => -1,
            10 | 11 => records::submit::SEND,
            12 | 13 => records::submit::RELEASE,
            _ => u.arbitrary()?,
        };
        let sock = self.pick_socket(u)?;
        let h = self.pick_handle(u)?;
        let (lo, hi) = records::handle_ints(h);
        let offset = pick_u32(u)?;
        let len = pick_u32(u)?;
        Ok([
            kind,
            sock as i32,
            lo,
            hi,
            offset as i32,
            len as i32,
            u.arbitrary()?,
            0,
        ])
    }

    /// What `NativeEngine::flush` does with one record, plus the harness's bookkeeping.
    fn apply(&mut self, r: [i32; RECORD_INTS]) {
        if trace() {
            eprintln!("record {r:?}");
        }
        let sock = r[1] as u32;
        let h = records::handle_from_ints(r[2], r[3]);
        let ok = match r[0] {
            records::submit::SEND => self.engine.send(sock, h, r[4] as u32, r[5] as u32).is_ok(),
            records::submit::RELEASE => self.engine.release_recv(h).is_ok(),
            records::submit::DROP => self.js.release(h).is_ok(),
            records::submit::SHUTDOWN => self.engine.shutdown_write(sock).is_ok(),
            records::submit::CLOSE => {
                let ok = self.engine.close(sock).is_ok();
                if ok {
                    assert!(
                        !self.closing.contains(&sock),
                        "close() of socket {sock} succeeded twice"
                    );
                    self.closing.insert(sock);
                }
                ok
            }
            records::submit::PAUSE => self.engine.pause_recv(sock).is_ok(),
            records::submit::RESUME => self.engine.resume_recv(sock).is_ok(),
            _ => false,
        };
        let hands_over = matches!(
            r[0],
            records::submit::SEND | records::submit::RELEASE | records::submit::DROP
        );
        if ok && hands_over && !self.owned.contains(&h) && !self.received.contains(&h) {
            // A forged handle that happened to name a live buffer held by the engine or the
            // kernel (a posted receive buffer, a queued send): the engine took it. Known gap,
            // see FORGED_LIVE; the pool's books are wrong from here on by construction.
            FORGED_LIVE.fetch_add(1, Ordering::Relaxed);
            assert!(
                std::env::var_os("ZEROSOCK_FUZZ_STRICT").is_none(),
                "{}: record {r:?} handed over buffer {h:?} that JS never held",
                self.engine.backend()
            );
            self.forged_live = true;
            return;
        }
        if ok && hands_over {
            // The handle was live: whoever the harness thought held it, it does no longer.
            self.owned.retain(|&x| x != h);
            self.received.retain(|&x| x != h);
            if r[0] != records::submit::SEND {
                self.stale.push(h);
            }
        }
    }

    fn tick(&mut self, collect: bool) {
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        if collect {
            let _ = self.engine.submit_and_collect(&mut events);
        } else {
            let _ = self.engine.submit();
            self.engine.poll(&mut events, 256);
        }
        for ev in &events {
            self.on_event(ev);
        }
        self.events = events;
    }

    fn on_event(&mut self, ev: &Event) {
        if trace() {
            eprintln!("  event {ev:?}");
        }
        let socket = match *ev {
            Event::Accepted { listener, socket } => {
                assert_eq!(listener, self.listener);
                self.sockets.push(socket);
                listener
            }
            Event::Data {
                socket,
                buf,
                offset,
                len,
            } => {
                let size = self
                    .pool
                    .class_size(buf.class())
                    .expect("data in a real class");
                assert!(
                    offset as usize + len as usize <= size,
                    "data past its buffer"
                );
                assert!(len > 0);
                self.received.push(buf);
                socket
            }
            Event::Closed { socket } => {
                assert!(self.closed.insert(socket), "socket {socket} closed twice");
                assert!(
                    self.closing.contains(&socket),
                    "Closed for socket {socket} nobody closed"
                );
                return;
            }
            Event::Connected { socket }
            | Event::Sent { socket, .. }
            | Event::Eof { socket }
            | Event::Error { socket, .. }
            | Event::ZeroCopyDone { socket, .. }
            | Event::Mapped { socket, .. } => socket,
        };
        // Engine::close documents that no other event follows the call; io_uring reports a
        // `Sent` that send_copy's direct send queued before close() after it (harmless to the
        // binding, which ignores events of destroyed sockets). What must hold: nothing
        // after `Closed` (the id is stale then).
        assert!(
            !self.closed.contains(&socket),
            "{}: event {ev:?} after Closed of socket {socket}",
            self.engine.backend()
        );
    }

    /// Gives everything back, closes every socket and waits for their `Closed` events.
    fn teardown(&mut self) {
        self.peers.clear(); // RST
        for h in std::mem::take(&mut self.received) {
            self.engine
                .release_recv(h)
                .expect("release of a held received buffer");
        }
        for h in std::mem::take(&mut self.owned) {
            self.js.release(h).expect("release of a held cork buffer");
        }
        let all: Vec<SocketId> = std::iter::once(self.listener)
            .chain(self.sockets.iter().copied())
            .collect();
        for &s in &all {
            if !self.closing.contains(&s) {
                self.engine.close(s).expect("close of an open socket");
                self.closing.insert(s);
            }
        }
        let deadline = Instant::now() + LIMIT;
        while all.iter().any(|s| !self.closed.contains(s)) {
            assert!(
                Instant::now() < deadline,
                "teardown timed out: {:?} of {all:?} closed",
                self.closed
            );
            let mut events = std::mem::take(&mut self.events);
            events.clear();
            let _ = self.engine.submit();
            self.engine.wait(Duration::from_millis(1), &mut events);
            for ev in &events {
                self.on_event(ev);
            }
            self.events = events;
            for h in std::mem::take(&mut self.received) {
                self.engine.release_recv(h).expect("release after close");
            }
        }
        assert_eq!(self.engine.stats().open_sockets, 0);
    }

    fn pick_socket(&self, u: &mut Unstructured<'_>) -> Result<SocketId> {
        Ok(match u.int_in_range(0u8..=7)? {
            0 => self.listener,
            1..=4 => *u.choose(&self.sockets)?,
            5 => u.arbitrary()?,
            6 => self.sockets[0] ^ (1 << u.int_in_range(0u32..=31)?),
            _ => 0,
        })
    }

    fn pick_handle(&self, u: &mut Unstructured<'_>) -> Result<BufHandle> {
        let pick = |u: &mut Unstructured<'_>, v: &[BufHandle]| -> Result<Option<BufHandle>> {
            Ok(if v.is_empty() {
                None
            } else {
                Some(*u.choose(v)?)
            })
        };
        let h = match u.int_in_range(0u8..=7)? {
            0 | 1 => pick(u, &self.owned)?,
            2 | 3 => pick(u, &self.received)?,
            4 => pick(u, &self.stale)?,
            5 => pick(u, &self.owned)?.map(|h| mutate(u, h)).transpose()?,
            6 => Some(BufHandle::from_u64(u.arbitrary()?)),
            _ => Some(BufHandle::from_u64(0)),
        };
        Ok(h.unwrap_or(BufHandle::from_u64(0)))
    }
}

/// A handle one field away from `h`: next/previous generation, index or class.
fn mutate(u: &mut Unstructured<'_>, h: BufHandle) -> Result<BufHandle> {
    let (c, i, g) = (h.class(), h.index(), h.generation());
    Ok(match u.int_in_range(0u8..=5)? {
        0 => BufHandle::new(c, i, g.wrapping_add(1)),
        1 => BufHandle::new(c, i, g.wrapping_sub(1)),
        2 => BufHandle::new(c, i.wrapping_add(1), g),
        3 => BufHandle::new(c, i.wrapping_sub(1), g),
        4 => BufHandle::new(c ^ 1, i, g),
        _ => BufHandle::new(c + 2, i, g),
    })
}

fn pick_u32(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(match u.int_in_range(0u8..=6)? {
        0 => 0,
        1 => u.int_in_range(1..=64)?,
        2 => u.int_in_range(0..=2048)?,
        3 => 64 * 1024,
        4 => 64 * 1024 + 1,
        5 => u32::MAX,
        _ => u.arbitrary()?,
    })
}
