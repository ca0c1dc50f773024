//! Target `submit_records`: the 8-int submission records JS writes into shared memory,
//! applied by the real `zerosock_wire::Session` (what the binding's `flush` calls) against a
//! live engine with a listener and two loopback connections to plain peer sockets that write
//! and read at random — with forged socket ids, stale, foreign, mutated and random buffer
//! handles, pinned zerocopy sends with right and wrong tokens and lengths, zerocopy receive
//! on and off, mapped-chunk releases, and out-of-range offsets and lengths mixed in. Events
//! are read back from the event records, as JS reads them.
//!
//! Must hold: no panic; a record that hands over a buffer JS does not hold is refused (the
//! lent-handle gate); every event record is well formed (known kind, a DATA buffer JS now
//! holds and lies inside its region, an error's syscall has a name); no event of a socket
//! arrives after its `CLOSED`; once everything is closed and released, the pool has every
//! buffer back (no leak, no double free).

use arbitrary::{Result, Unstructured};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use zerosock_pool::{BufHandle, Pool, PoolConfig, SizeClass};
use zerosock_uring::{probe, BackendKind, SocketId};
use zerosock_wire::records::{
    self, EventKind, Record, SubmitKind, RECORD_INTS, REPLY_INTS, SUBMIT_RECORDS,
};
use zerosock_wire::{Session, SessionOptions, Syscall};

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

/// The session under test and what the harness (playing JS) believes about ownership.
struct World {
    session: Session,
    pool: Pool,
    listener: SocketId,
    sockets: Vec<SocketId>,
    /// A CLOSE record named it: only `CLOSED` may explain its end.
    closing: HashSet<SocketId>,
    closed: HashSet<SocketId>,
    /// Cork buffers JS acquired and has not handed over.
    owned: Vec<BufHandle>,
    /// Received buffers JS holds.
    received: Vec<BufHandle>,
    /// Handles given back already (stale).
    stale: Vec<BufHandle>,
    /// Release tokens of mapped chunks JS holds.
    mapped: Vec<u32>,
    /// Pin tokens with their lengths, not yet named by a SEND_ZC record.
    pins: Vec<(u32, u32)>,
    /// Records written since the last flush.
    queued: Vec<Record>,
    /// The other ends of the engine's two connections (plain sockets, closed with RST).
    peers: Vec<TcpStream>,
    /// JS memory pinned for zerocopy sends: kept until the session is gone (declared after
    /// it, so dropped after it).
    pinned: Vec<Box<[u8]>>,
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

fn small_pool() -> PoolConfig {
    PoolConfig {
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
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let kind = match u.ratio(1u8, 2u8) {
        Ok(true) if io_uring_usable() => BackendKind::IoUring,
        _ => BackendKind::Epoll,
    };
    let pool = {
        let mut w = World::new(kind);
        let _ = w.ops(&mut u);
        w.teardown();
        w.pool.clone()
    };
    let stats = pool.stats();
    assert_eq!(
        stats.in_use, 0,
        "{kind}: buffers missing after teardown: {stats:?}"
    );
}

impl World {
    fn new(kind: BackendKind) -> World {
        let options = SessionOptions {
            recv_buffers: Some(16),
            pool: Some(small_pool()),
            ..SessionOptions::default()
        };
        let mut session = Session::new(kind, options).expect("session");
        let engine = session.engine_mut();
        // A listener for the records to hit (nobody connects to it).
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let listener = engine.listen(addr.into(), 64, false).expect("listen");
        let at = peer_listener().local_addr().expect("peer address");
        let clients = [
            engine.connect(at).expect("connect"),
            engine.connect(at).expect("connect"),
        ];
        engine.submit().expect("submit");
        let mut w = World {
            pool: session.pool().clone(),
            session,
            listener,
            sockets: clients.to_vec(),
            closing: HashSet::new(),
            closed: HashSet::new(),
            owned: Vec::new(),
            received: Vec::new(),
            stale: Vec::new(),
            mapped: Vec::new(),
            pins: Vec::new(),
            queued: Vec::new(),
            peers: Vec::new(),
            pinned: Vec::new(),
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
            let _ = w.session.engine_mut().submit();
            connected += w
                .poll_events()
                .iter()
                .filter(|r| r[0] == EventKind::Connected as i32)
                .count();
            std::thread::sleep(Duration::from_micros(200));
        }
        w
    }

    /// Applies fuzzed operations.
    fn ops(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        for _ in 0..MAX_OPS {
            if u.is_empty() {
                break;
            }
            match u.int_in_range(0u8..=12)? {
                0..=3 => {
                    let rec = self.record(u)?;
                    if trace() {
                        eprintln!("record {rec:?}");
                    }
                    if self.queued.len() < SUBMIT_RECORDS {
                        self.queued.push(rec);
                    }
                }
                4 => self.acquire(u.int_in_range(0usize..=2)?),
                5 | 6 => {
                    let collect = u.ratio(1u8, 2u8)?;
                    self.flush(collect);
                    if !collect {
                        self.poll_events();
                    }
                }
                7 => {
                    let sock = self.pick_socket(u)?;
                    let data = vec![0x5Au8; u.int_in_range(0usize..=200_000)?];
                    let r = self.session.send_copy(sock, &data);
                    if trace() {
                        eprintln!("send_copy({sock}, {}) -> {r:?}", data.len());
                    }
                }
                8 => {
                    let bytes = vec![0xC3u8; u.int_in_range(0usize..=100_000)?].into_boxed_slice();
                    let token = self.session.pin(bytes.as_ptr(), bytes.len() as u32);
                    self.pins.push((token, bytes.len() as u32));
                    self.pinned.push(bytes);
                }
                9 => {
                    let e = self.session.engine();
                    let _ = e.queued_bytes(u.arbitrary()?);
                    let _ = e.local_addr(u.arbitrary()?);
                    let _ = e.peer_addr(self.pick_socket(u)?);
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

    /// `acquire(class)`, checking the reply ints it writes.
    fn acquire(&mut self, class: usize) {
        let Ok(region) = self.session.acquire(class) else {
            return;
        };
        assert!(class < 2, "acquired from a class that does not exist");
        let reply: [i32; 5] = std::array::from_fn(|i| self.session.submits().read(i));
        assert_eq!(reply[0], region);
        let h = records::handle_from_ints(reply[2], reply[3]);
        assert_eq!(h.class(), class);
        assert_eq!(reply[4] as usize, self.pool.class_size(class).unwrap());
        self.check_location(h, region, reply[1], reply[4] as u32);
        assert!(self.session.lent_to_js(h));
        self.owned.push(h);
    }

    /// `len` bytes at (`region`, `at`) lie inside buffer `h` and its region.
    fn check_location(&mut self, h: BufHandle, region: i32, at: i32, len: u32) {
        let ptr = self.pool.ptr(h).expect("a live buffer") as usize;
        let size = self.pool.class_size(h.class()).expect("a real class");
        let regions = self.session.regions();
        let r = regions.get(region as usize).expect("a mapped region");
        let start = r.base as usize + at as usize;
        assert!(
            at >= 0 && at as usize + len as usize <= r.len,
            "past its region"
        );
        assert!(
            start >= ptr && start + len as usize <= ptr + size,
            "past its buffer"
        );
    }

    /// One fuzzed record.
    fn record(&mut self, u: &mut Unstructured<'_>) -> Result<Record> {
        let kind = match u.int_in_range(0u8..=18)? {
            k @ 0..=8 => i32::from(k) + 1,
            9 => 0,
            10 => -1,
            11 | 12 => SubmitKind::Send as i32,
            13 | 14 => SubmitKind::Release as i32,
            15 => SubmitKind::SendZc as i32,
            16 => 10,
            17 => SubmitKind::SendZcPool as i32,
            _ => u.arbitrary()?,
        };
        let sock = self.pick_socket(u)?;
        let (mut lo, mut hi) = records::handle_ints(self.pick_handle(u)?);
        let (mut offset, mut len) = (pick_u32(u)?, pick_u32(u)?);
        if kind == SubmitKind::Release as i32 && !self.mapped.is_empty() && u.ratio(1u8, 3u8)? {
            // A mapped chunk's release: `[RELEASE, 0, token, 0]`.
            (lo, hi) = (*u.choose(&self.mapped)? as i32, 0);
        }
        if kind == SubmitKind::SendZc as i32 {
            // `[SEND_ZC, socket, -1, token, len]`, mostly with a pinned token and its length.
            let (token, pinned) = match self.pins.is_empty() {
                false if u.ratio(3u8, 4u8)? => {
                    self.pins.swap_remove(u.choose_index(self.pins.len())?)
                }
                _ => (u.arbitrary()?, u.arbitrary()?),
            };
            lo = if u.ratio(7u8, 8u8)? {
                -1
            } else {
                u.arbitrary()?
            };
            hi = token as i32;
            offset = if u.ratio(7u8, 8u8)? {
                pinned
            } else {
                u.arbitrary()?
            };
            len = 0;
        }
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

    /// Writes the queued records into the submission block and flushes them, then checks
    /// what the session did with each handle they named.
    fn flush(&mut self, collect: bool) {
        let records = std::mem::take(&mut self.queued);
        for (i, r) in records.iter().enumerate() {
            self.session
                .submits()
                .write(REPLY_INTS + i * RECORD_INTS, r);
        }
        let failed_before = self.failed_records();
        // Handles JS holds right now; a record naming one that is not among them is forged.
        let mut held: HashSet<BufHandle> =
            self.owned.iter().chain(&self.received).copied().collect();
        let mut forged = 0;
        for r in &records {
            let hands_over = [SubmitKind::Send, SubmitKind::Release, SubmitKind::Drop]
                .iter()
                .any(|k| *k as i32 == r[0]);
            let mapped_release = r[0] == SubmitKind::Release as i32 && r[3] == 0;
            if hands_over && !mapped_release {
                let h = records::handle_from_ints(r[2], r[3]);
                if !held.remove(&h) {
                    forged += 1;
                }
            }
            if r[0] == SubmitKind::Close as i32 {
                self.closing.insert(r[1] as u32);
            }
        }
        let n = self.session.flush(records.len(), collect, &mut ());
        if trace() {
            eprintln!("flush {} records collect={collect} -> {n:?}", records.len());
        }
        let refused = self.failed_records() - failed_before;
        assert!(
            refused >= forged,
            "{forged} forged hand-overs, only {refused} records refused"
        );
        // Whatever JS no longer holds was handed over.
        let session = &self.session;
        let gone: Vec<BufHandle> = self
            .owned
            .iter()
            .chain(&self.received)
            .copied()
            .filter(|h| !session.lent_to_js(*h))
            .collect();
        self.owned.retain(|h| !gone.contains(h));
        self.received.retain(|h| !gone.contains(h));
        self.stale.extend(gone);
        self.mapped.retain(|t| session.lent_chunk(*t).is_some());
        if let Ok(n) = n {
            self.read_events(n);
        }
    }

    fn failed_records(&self) -> u64 {
        self.session.stats().failed_records
    }

    /// Delivers one batch from the engine, as the event loop does; returns its records.
    fn poll_events(&mut self) -> Vec<Record> {
        let n = self.session.next_batch();
        self.read_events(n)
    }

    /// Reads and checks the first `n` event records.
    fn read_events(&mut self, n: usize) -> Vec<Record> {
        let recs: Vec<Record> = (0..n)
            .map(|i| std::array::from_fn(|k| self.session.events().read(i * RECORD_INTS + k)))
            .collect();
        for r in &recs {
            self.on_event(r);
        }
        recs
    }

    fn on_event(&mut self, r: &Record) {
        if trace() {
            eprintln!("  event {r:?}");
        }
        let kind = EventKind::ALL
            .into_iter()
            .find(|k| *k as i32 == r[0])
            .unwrap_or_else(|| panic!("unknown event kind in {r:?}"));
        let socket = r[1] as u32;
        match kind {
            EventKind::Accepted => {
                assert_eq!(socket, self.listener);
                self.sockets.push(r[2] as u32);
            }
            EventKind::Data => {
                let h = records::handle_from_ints(r[5], r[6]);
                assert!(r[4] > 0, "empty DATA");
                assert!(
                    self.session.lent_to_js(h),
                    "DATA of a buffer not lent to JS"
                );
                self.check_location(h, r[2], r[3], r[4] as u32);
                self.received.push(h);
            }
            EventKind::Mapped => {
                assert!(r[5] > 0, "MAPPED without a release token");
                self.mapped.push(r[5] as u32);
            }
            EventKind::Error => {
                let syscall = Syscall::ALL.get(r[3] as usize).expect("syscall index");
                assert_ne!(
                    *syscall,
                    Syscall::Unknown,
                    "an error without a syscall name: {r:?}"
                );
            }
            EventKind::Closed => {
                assert!(self.closed.insert(socket), "socket {socket} closed twice");
                assert!(
                    self.closing.contains(&socket),
                    "CLOSED for socket {socket} nobody closed"
                );
                return;
            }
            _ => {}
        }
        // What must hold: nothing after `CLOSED` (the id is stale then).
        assert!(
            !self.closed.contains(&socket),
            "{}: event {r:?} after CLOSED of socket {socket}",
            self.session.engine().backend()
        );
    }

    /// Queues the records that give back everything JS holds.
    fn give_back(&mut self) {
        let release = |h: &BufHandle, kind: SubmitKind| {
            let (lo, hi) = records::handle_ints(*h);
            [kind as i32, 0, lo, hi, 0, 0, 0, 0]
        };
        let mut recs: Vec<Record> = self
            .received
            .iter()
            .map(|h| release(h, SubmitKind::Release))
            .collect();
        recs.extend(self.owned.iter().map(|h| release(h, SubmitKind::Drop)));
        recs.extend(
            self.mapped
                .iter()
                .map(|t| [SubmitKind::Release as i32, 0, *t as i32, 0, 0, 0, 0, 0]),
        );
        self.queued.extend(recs);
    }

    /// Gives everything back through records, closes every socket and waits for their
    /// `CLOSED` records.
    fn teardown(&mut self) {
        self.peers.clear(); // RST
        self.flush(true);
        self.give_back();
        let all: Vec<SocketId> = std::iter::once(self.listener)
            .chain(self.sockets.iter().copied())
            .collect();
        for &s in &all {
            if !self.closed.contains(&s) {
                self.queued
                    .push([SubmitKind::Close as i32, s as i32, 0, 0, 0, 0, 0, 0]);
            }
        }
        self.flush(true);
        let deadline = Instant::now() + LIMIT;
        while all.iter().any(|s| !self.closed.contains(s))
            || !self.received.is_empty()
            || !self.mapped.is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "teardown timed out: {:?} of {all:?} closed",
                self.closed
            );
            self.poll_events();
            self.give_back();
            self.flush(true);
            std::thread::sleep(Duration::from_micros(200));
        }
        assert!(
            self.owned.is_empty(),
            "cork buffers still held: {:?}",
            self.owned
        );
        assert_eq!(self.session.engine().stats().open_sockets, 0);
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
