//! Zerocopy send and receive on both backends, over loopback.
//!
//! Loopback usually makes the kernel copy zerocopy sends (the receive side cannot keep the
//! sender's pages), so these tests assert that `copied` matches what the kernel says on a raw
//! MSG_ZEROCOPY probe of the same kind of connection, not that zerocopy happened.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use zerosock_pool::{BufHandle, Pool};
use zerosock_uring::{BackendKind, Engine, Event, SocketId};

const T: Duration = Duration::from_secs(30);

fn has(kind: BackendKind) -> bool {
    backends().contains(&kind)
}

/// Page-aligned heap memory (what a zerocopy sender wants: whole pages).
struct Aligned {
    ptr: *mut u8,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size layout.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Aligned { ptr, len }
    }

    fn slice_mut(&mut self) -> &mut [u8] {
        // SAFETY: our allocation of `len` bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len, 4096).unwrap();
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, layout) };
    }
}

/// What the kernel says about MSG_ZEROCOPY on a loopback TCP connection: `Some(copied)` from
/// the first notification of a raw send, `None` when SO_ZEROCOPY is refused.
fn kernel_copies_on_loopback() -> Option<bool> {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut srv, _) = l.accept().unwrap();
    let fd = c.as_raw_fd();
    let one: libc::c_int = 1;
    // SAFETY: `one` is a valid int option value.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            60, // SO_ZEROCOPY
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    if rc != 0 {
        return None;
    }
    let mut data = Aligned::new(65536);
    data.slice_mut().fill(7);
    // SAFETY: `data` is valid for reads and outlives the notification we wait for below.
    let n = unsafe { libc::send(fd, data.ptr.cast(), data.len, libc::MSG_ZEROCOPY) };
    assert_eq!(n as usize, data.len);
    let mut sink = vec![0u8; 65536];
    srv.read_exact(&mut sink).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut control = [0u64; 16];
        // SAFETY: msghdr is plain old data.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` points at our control buffer.
        let rc = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if rc >= 0 {
            // SAFETY: filled by recvmsg.
            let cm = unsafe { libc::CMSG_FIRSTHDR(&msg) };
            assert!(!cm.is_null());
            // SAFETY: a RECVERR message carries a sock_extended_err.
            let ee: libc::sock_extended_err =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cm).cast()) };
            assert_eq!(ee.ee_origin, 5, "a zerocopy notification");
            return Some(ee.ee_code & 1 != 0);
        }
        assert!(Instant::now() < deadline, "no zerocopy notification");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits for the client's Connected and the server's Accepted.
fn pair(e: &mut Engine, listener: SocketId) -> (SocketId, SocketId) {
    let at = e.local_addr(listener).unwrap().ip().unwrap();
    let c = e.connect(at).unwrap();
    let mut server = None;
    let mut connected = false;
    drive(e, T, |_, ev| {
        match ev {
            Event::Accepted { socket, .. } => server = Some(socket),
            Event::Connected { socket } => connected = socket == c,
            other => panic!("unexpected {other:?}"),
        }
        connected && server.is_some()
    });
    (c, server.unwrap())
}

/// Memory of one zerocopy send: a pool buffer (the engine releases it) or pinned heap memory
/// we keep until its completion.
enum Held {
    Pool,
    Heap(Vec<u8>),
}

/// Outstanding sends by id; checks every id completes exactly once and `copied` matches.
#[derive(Default)]
struct Completions {
    held: HashMap<u32, Held>,
    done: u64,
    copied: u64,
    ranges: u64,
}

impl Completions {
    fn on_done(&mut self, first: u32, last: u32, copied: bool, kernel: Option<bool>, what: &str) {
        self.ranges += 1;
        let mut id = first;
        loop {
            let held = self
                .held
                .remove(&id)
                .unwrap_or_else(|| panic!("{what}: id {id} completed twice or never sent"));
            if let Held::Heap(mut v) = held {
                // The kernel let go: scribbling now must not change what the peer gets.
                v.fill(0xEE);
            }
            self.done += 1;
            self.copied += copied as u64;
            if id == last {
                break;
            }
            id = id.wrapping_add(1);
        }
        // On loopback the kernel's answer is the same for every send of a connection.
        let want = kernel.unwrap_or(true);
        assert_eq!(
            copied, want,
            "{what}: copied flag vs the kernel's probe answer"
        );
    }
}

fn zerocopy_stream(kind: BackendKind) {
    const TOTAL: u64 = 48 << 20;
    const HIGH_WATER: usize = 8 << 20;
    let kernel = kernel_copies_on_loopback();
    let pool = pool(256, None);
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
    let (c, server) = pair(&mut e, l);
    let local = pool.local();
    let baseline = in_use(&pool);
    let mut rng = Rng(0xC0FF_EE00 ^ kind as u64);
    let mut sent_hash = StreamHash::new();
    let mut got_hash = StreamHash::new();
    let mut pos = 0u64;
    let mut done = Completions::default();
    let (mut zc_sends, mut next_id) = (0u64, 0u32);
    let mut events = Vec::new();
    let mut eof = false;
    let start = Instant::now();
    while !eof || !done.held.is_empty() {
        while pos < TOTAL && e.queued_bytes(c) < HIGH_WATER {
            let len = (1 + rng.below(256 * 1024)).min(TOTAL - pos) as usize;
            match rng.below(3) {
                0 if len <= 65536 => {
                    let h: BufHandle = local.acquire(1).unwrap();
                    let off = rng.below(65536 - len as u64 + 1) as u32;
                    // SAFETY: `h` is ours, `off + len` <= 64 KiB.
                    let buf = unsafe {
                        std::slice::from_raw_parts_mut(pool.ptr(h).unwrap().add(off as usize), len)
                    };
                    fill_pattern(buf, pos);
                    sent_hash.update(buf);
                    let id = e.send_zerocopy(c, h, off, len as u32).unwrap();
                    assert_eq!(id, next_id, "{kind}: ids are consecutive");
                    done.held.insert(id, Held::Pool);
                }
                1 => {
                    let mut v = vec![0u8; len];
                    fill_pattern(&mut v, pos);
                    sent_hash.update(&v);
                    // SAFETY: `v` is kept in `held` until this id's completion.
                    let id = unsafe { e.send_zerocopy_pinned(c, v.as_ptr(), len as u32) }.unwrap();
                    assert_eq!(id, next_id, "{kind}: ids are consecutive");
                    done.held.insert(id, Held::Heap(v));
                }
                _ => {
                    // A plain send in between: order must hold.
                    let mut v = vec![0u8; len];
                    fill_pattern(&mut v, pos);
                    sent_hash.update(&v);
                    e.send_copy(c, &v).unwrap();
                    pos += len as u64;
                    if pos == TOTAL {
                        e.shutdown_write(c).unwrap();
                    }
                    continue;
                }
            }
            next_id += 1;
            zc_sends += 1;
            pos += len as u64;
            if pos == TOTAL {
                e.shutdown_write(c).unwrap();
            }
        }
        e.submit().unwrap();
        events.clear();
        e.wait(Duration::from_millis(100), &mut events);
        for ev in events.drain(..) {
            match ev {
                Event::Data {
                    socket,
                    buf,
                    offset,
                    len,
                } => {
                    assert_eq!(socket, server);
                    hash_received(&mut e, &pool, buf, offset, len, &mut got_hash);
                }
                Event::Eof { socket } => {
                    assert_eq!(socket, server);
                    eof = true;
                }
                Event::ZeroCopyDone {
                    socket,
                    first,
                    last,
                    copied,
                } => {
                    assert_eq!(socket, c);
                    done.on_done(first, last, copied, kernel, kind.as_str());
                }
                Event::Sent { .. } => {}
                other => panic!("{kind}: unexpected {other:?}"),
            }
        }
        if start.elapsed() >= T {
            let mut left: Vec<_> = done.held.keys().copied().collect();
            left.sort_unstable();
            panic!(
                "{kind}: timed out at {} bytes; {} sends not completed ({:?}…); {:?}",
                got_hash.bytes,
                left.len(),
                &left[..left.len().min(10)],
                e.stats()
            );
        }
    }
    let st = e.stats();
    assert_eq!(got_hash.bytes, TOTAL);
    assert_eq!(got_hash.finish(), sent_hash.finish(), "{kind}: stream hash");
    assert_eq!(
        done.done, zc_sends,
        "{kind}: every zerocopy send completed once"
    );
    assert_eq!(st.zerocopy_sends, zc_sends);
    assert_eq!(st.zerocopy_done_sends, zc_sends);
    assert_eq!(st.zerocopy_copied_sends, done.copied);
    assert_eq!(st.zc_done_events, done.ranges);
    assert!(
        st.zc_notifications > 0 || kernel.is_none(),
        "{kind}: {st:?}"
    );
    assert_eq!(st.zc_leaked_sends, 0);
    assert_eq!(
        in_use(&pool) - baseline,
        0,
        "{kind}: zerocopy pool buffers came back"
    );
    eprintln!(
        "{kind}: {} MB, {zc_sends} zerocopy sends in {:.2} s: kernel probe copied={kernel:?}; reported copied {} of {}, {} kernel writes, {} notifications, {} ranges; copied bytes {} of {}",
        TOTAL >> 20,
        start.elapsed().as_secs_f64(),
        done.copied,
        done.done,
        st.zc_writes,
        st.zc_notifications,
        st.zc_done_events,
        st.zerocopy_copied_bytes,
        st.zerocopy_bytes,
    );
    e.close(c).unwrap();
    e.close(server).unwrap();
    let mut closed = 0;
    drive(&mut e, T, |_, ev| {
        closed += matches!(ev, Event::Closed { .. }) as u32;
        closed == 2
    });
    drop(e);
    drop(local);
    assert_eq!(in_use(&pool), 0, "{kind}: every buffer back after drop");
}

#[test]
fn zerocopy_stream_epoll() {
    zerocopy_stream(BackendKind::Epoll);
}

#[test]
fn zerocopy_stream_io_uring() {
    if has(BackendKind::IoUring) {
        zerocopy_stream(BackendKind::IoUring);
    }
}

fn notifications_are_batched(kind: BackendKind) {
    const N: u32 = 10_000;
    const LEN: usize = 64;
    let kernel = kernel_copies_on_loopback();
    let pool = pool(64, None);
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
    let (c, server) = pair(&mut e, l);
    let mut arena = vec![0u8; N as usize * LEN];
    fill_pattern(&mut arena, 0);
    for i in 0..N {
        let at = i as usize * LEN;
        // SAFETY: `arena` lives until every completion arrived (checked below).
        let id = unsafe { e.send_zerocopy_pinned(c, arena[at..].as_ptr(), LEN as u32) }.unwrap();
        assert_eq!(id, i);
    }
    let mut left: Vec<bool> = vec![true; N as usize];
    let (mut completed, mut ranges, mut received) = (0u32, 0u32, 0usize);
    drive(&mut e, T, |e, ev| {
        match ev {
            Event::ZeroCopyDone {
                first,
                last,
                copied,
                ..
            } => {
                ranges += 1;
                assert_eq!(copied, kernel.unwrap_or(true), "{kind}: copied vs kernel");
                for id in first..=last {
                    assert!(std::mem::take(&mut left[id as usize]), "{kind}: {id} twice");
                    completed += 1;
                }
            }
            Event::Data { socket, .. } => {
                assert_eq!(socket, server);
                received += take_data(e, &pool, &ev).len();
            }
            Event::Sent { .. } => {}
            other => panic!("{kind}: unexpected {other:?}"),
        }
        completed == N && received == N as usize * LEN
    });
    let st = e.stats();
    eprintln!(
        "{kind}: {N} zerocopy sends of {LEN} B: {} kernel writes, {} kernel notifications, {ranges} ZeroCopyDone events",
        st.zc_writes, st.zc_notifications
    );
    assert!(
        ranges * 20 < N,
        "{kind}: {ranges} completion events for {N} sends is not batched"
    );
    assert!(st.zc_writes * 20 < u64::from(N), "{kind}: {st:?}");
    assert_eq!(st.zc_done_events, u64::from(ranges));
    drop(arena);
}

#[test]
fn notifications_are_batched_epoll() {
    notifications_are_batched(BackendKind::Epoll);
}

#[test]
fn notifications_are_batched_io_uring() {
    if has(BackendKind::IoUring) {
        notifications_are_batched(BackendKind::IoUring);
    }
}

/// Close with zerocopy sends stuck in the kernel (the peer never reads): the close waits,
/// aborts the connection after its grace period, and only then reports Closed with every
/// buffer back.
fn close_with_sends_in_flight(kind: BackendKind) {
    let pool = pool(256, None);
    let mut e = engine(kind, &pool);
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = e.connect(silent.local_addr().unwrap()).unwrap();
    drive(&mut e, T, |_, ev| matches!(ev, Event::Connected { .. }));
    let (_peer, _) = silent.accept().unwrap();
    let baseline = in_use(&pool);
    let local = pool.local();
    let mut heap = vec![0x5Au8; 16 << 20];
    for _ in 0..64 {
        let h = local.acquire(1).unwrap();
        e.send_zerocopy(c, h, 0, 65536).unwrap();
    }
    for chunk in heap.chunks_mut(1 << 20) {
        // SAFETY: `heap` outlives the engine's Closed below.
        unsafe { e.send_zerocopy_pinned(c, chunk.as_ptr(), chunk.len() as u32) }.unwrap();
    }
    // Let the kernel take what fits (pinning those pages).
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        e.submit().unwrap();
        let mut evs = Vec::new();
        e.wait(Duration::from_millis(20), &mut evs);
        for ev in evs {
            assert!(
                matches!(ev, Event::Sent { .. }),
                "{kind}: unexpected {ev:?}"
            );
        }
    }
    // (io_uring reports bytes only when a MSG_WAITALL write completes.)
    assert!(e.stats().zc_writes > 0, "{kind}: zerocopy writes in flight");
    let closing = Instant::now();
    e.close(c).unwrap();
    drive(&mut e, T, |_, ev| match ev {
        Event::Closed { socket } => socket == c,
        other => panic!("{kind}: after close only Closed may follow, got {other:?}"),
    });
    let waited = closing.elapsed();
    let st = e.stats();
    eprintln!("{kind}: close with zerocopy in flight took {waited:?}; {st:?}");
    assert!(
        waited < Duration::from_secs(5),
        "{kind}: close took {waited:?}"
    );
    assert_eq!(
        st.zc_leaked_sends, 0,
        "{kind}: the kernel let go of everything"
    );
    assert_eq!(
        in_use(&pool),
        baseline,
        "{kind}: every zerocopy buffer came back"
    );
    heap.fill(0);
}

#[test]
fn close_with_sends_in_flight_epoll() {
    close_with_sends_in_flight(BackendKind::Epoll);
}

#[test]
fn close_with_sends_in_flight_io_uring() {
    if has(BackendKind::IoUring) {
        close_with_sends_in_flight(BackendKind::IoUring);
    }
}

/// Whether the mapping that contains `addr` is the socket (TCP window) in /proc/self/maps.
fn maps_socket_at(addr: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().any(|line| {
        let range = line.split_whitespace().next().unwrap_or("");
        let (a, b) = range.split_once('-').unwrap_or(("0", "0"));
        let (a, b) = (
            usize::from_str_radix(a, 16).unwrap_or(0),
            usize::from_str_radix(b, 16).unwrap_or(0),
        );
        a <= addr && addr < b && line.contains("socket:")
    })
}

/// A sender engine on its own thread: `total` pattern bytes with zerocopy sends of `chunk`
/// bytes from one page-aligned buffer (or plain copies), then FIN.
fn spawn_sender(
    kind: BackendKind,
    at: std::net::SocketAddr,
    total: usize,
    zerocopy: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let mut data = Aligned::new(total);
        fill_pattern(data.slice_mut(), 0);
        let c = e.connect(at).unwrap();
        const CHUNK: usize = 256 * 1024;
        let mut sends = 0u32;
        for at in (0..total).step_by(CHUNK) {
            let n = CHUNK.min(total - at);
            if zerocopy {
                // SAFETY: `data` outlives every completion (we wait for them below).
                unsafe { e.send_zerocopy_pinned(c, data.ptr.add(at), n as u32) }.unwrap();
                sends += 1;
            } else {
                e.send_copy(c, &data.slice_mut()[at..at + n]).unwrap();
            }
        }
        e.shutdown_write(c).unwrap();
        let mut done = 0u32;
        let mut eof = false;
        drive(&mut e, T, |e, ev| {
            match ev {
                Event::ZeroCopyDone { first, last, .. } => done += last - first + 1,
                Event::Eof { .. } => eof = true,
                Event::Data { .. } => {
                    take_data(e, &pool, &ev);
                }
                _ => {}
            }
            eof && done == sends
        });
        e.close(c).unwrap();
        drive(&mut e, T, |_, ev| matches!(ev, Event::Closed { .. }));
        drop(data);
    })
}

fn zerocopy_receive(kind: BackendKind, zerocopy_sender: bool) {
    let total = stream_len(64 << 20);
    let pool = pool(256, None);
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
    let active = e.set_zerocopy_receive(l, true).unwrap();
    let at = e.local_addr(l).unwrap().ip().unwrap();
    let sender = spawn_sender(BackendKind::Epoll, at, total, zerocopy_sender);
    let mut got = StreamHash::new();
    let mut server = None;
    let mut held: Option<(u32, u32, usize)> = None;
    let (mut mapped_events, mut data_events) = (0u64, 0u64);
    drive(&mut e, T, |e, ev| {
        match ev {
            Event::Accepted { socket, .. } => server = Some(socket),
            Event::Mapped {
                socket,
                window,
                chunk,
                len,
            } => {
                assert_eq!(Some(socket), server);
                assert!(kind == BackendKind::Epoll && active);
                mapped_events += 1;
                let (ptr, _keep) = e.mapped_chunk(window, chunk).expect("lent chunk");
                assert!(maps_socket_at(ptr as usize), "{kind}: a TCP mapping");
                // SAFETY: the engine mapped `len` readable bytes at `ptr`.
                got.update(unsafe { std::slice::from_raw_parts(ptr, len as usize) });
                // Keep the first chunk past the socket's close; release the others.
                if held.is_none() {
                    held = Some((window, chunk, ptr as usize));
                } else {
                    e.release_mapped(window, chunk).unwrap();
                    assert!(e.release_mapped(window, chunk).is_err(), "double release");
                }
            }
            Event::Data { socket, .. } => {
                assert_eq!(Some(socket), server);
                data_events += 1;
                got.update(&take_data(e, &pool, &ev));
            }
            Event::Eof { socket } => {
                assert_eq!(Some(socket), server);
                e.close(socket).unwrap();
            }
            Event::Closed { socket } => return Some(socket) == server,
            other => panic!("{kind}: unexpected {other:?}"),
        }
        false
    });
    sender.join().unwrap();
    let mut want = StreamHash::new();
    let mut v = vec![0u8; total];
    fill_pattern(&mut v, 0);
    want.update(&v);
    assert_eq!(got.bytes, total as u64, "{kind}: length");
    assert_eq!(got.finish(), want.finish(), "{kind}: stream hash");
    let st = e.stats();
    assert_eq!(
        st.recv_mapped_bytes + st.recv_copied_bytes,
        total as u64,
        "{kind}: mapped + copied = total ({st:?})"
    );
    if kind == BackendKind::IoUring {
        assert!(!active);
        assert_eq!(st.recv_mapped_bytes, 0);
        assert_eq!(st.zc_recv_fallbacks, 1, "{kind}: the fallback is counted");
    }
    if let Some((window, chunk, addr)) = held {
        assert!(maps_socket_at(addr), "the lent chunk keeps the window");
        e.release_mapped(window, chunk).unwrap();
        assert!(
            !maps_socket_at(addr),
            "released after close: the window let go"
        );
    }
    eprintln!(
        "{kind}: zerocopy receive of {} MB from a {} sender: mapped {} B in {mapped_events} chunks, copied {} B in {data_events} Data events, {} getsockopt calls",
        total >> 20,
        if zerocopy_sender { "MSG_ZEROCOPY" } else { "plain" },
        st.recv_mapped_bytes,
        st.recv_copied_bytes,
        st.zc_recv_calls
    );
}

#[test]
fn zerocopy_receive_epoll_zerocopy_sender() {
    zerocopy_receive(BackendKind::Epoll, true);
}

#[test]
fn zerocopy_receive_epoll_plain_sender() {
    zerocopy_receive(BackendKind::Epoll, false);
}

#[test]
fn zerocopy_receive_io_uring_falls_back() {
    if has(BackendKind::IoUring) {
        zerocopy_receive(BackendKind::IoUring, true);
    }
}

#[test]
fn zerocopy_misuse() {
    for kind in backends() {
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 8, false).unwrap();
        let local = pool.local();
        let h = local.acquire(1).unwrap();
        let err = e.send_zerocopy(l, h, 0, 10).unwrap_err();
        assert_eq!(err.code(), "ERR_ZEROSOCK_WRONG_SOCKET_KIND");
        let err = e.send_zerocopy(l, h, 65530, 10).unwrap_err();
        assert_eq!(err.code(), "ERR_ZEROSOCK_INVALID_ARGUMENT");
        let (c, _s) = pair(&mut e, l);
        let err = e.send_zerocopy(c, h, 0, 0).unwrap_err();
        assert_eq!(err.code(), "ERR_ZEROSOCK_INVALID_ARGUMENT");
        assert!(e.release_mapped(12345, 0).is_err());
        assert!(e.mapped_chunk(12345, 0).is_none());
        local.release(h).unwrap();
        let _: &Pool = &pool;
    }
}
