//! Data-path tests on both backends: echo of random sizes, a 256 MB stream with hashes on both
//! sides, 256 concurrent connections, slow readers with bounded pool use.

mod common;

use common::*;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};
use zerosock_pool::BufHandle;
use zerosock_uring::{BackendKind, Engine, EngineConfig, Event, SocketId};

const T: Duration = Duration::from_secs(18);
/// A long stream fails after this long without a byte moving ...
const STALL: Duration = Duration::from_secs(15);
/// ... or after this long in all.
const STREAM_CAP: Duration = Duration::from_secs(120);

fn has(kind: BackendKind) -> bool {
    backends().contains(&kind)
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

fn echo_random_sizes(kind: BackendKind) {
    let pool = pool(64, None);
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
    let (c, _server) = pair(&mut e, l);
    let mut rng = Rng(0x1234_5678 ^ kind as u64);
    let mut sent = StreamHash::new();
    let mut pos = 0u64;
    for i in 0..48 {
        // Sizes spread over 1 B .. 1 MB (log-uniform).
        let bits = rng.below(21);
        let len = 1 + rng.below(1u64 << bits) as usize;
        let mut msg = vec![0u8; len];
        fill_pattern(&mut msg, pos);
        pos += len as u64;
        sent.update(&msg);
        if i % 3 == 0 && len <= 65536 {
            // The zero-copy path: a pool buffer handed to the engine.
            let local = pool.local();
            let h = local.acquire(1).unwrap();
            let off = (rng.below(65536 - len as u64 + 1)) as u32;
            // SAFETY: `h` is ours, `off + len` <= 64 KiB.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    msg.as_ptr(),
                    pool.ptr(h).unwrap().add(off as usize),
                    len,
                )
            };
            e.send(c, h, off, len as u32).unwrap();
        } else {
            e.send_copy(c, &msg).unwrap();
        }
    }
    e.shutdown_write(c).unwrap();
    let mut echo = Echo::default();
    let mut got = StreamHash::new();
    let mut client_eof = false;
    drive(&mut e, T, |e, ev| {
        match ev {
            Event::Data { socket, .. } if socket == c => got.update(&take_data(e, &pool, &ev)),
            Event::Eof { socket } if socket == c => {
                client_eof = true;
                e.close(c).unwrap();
            }
            Event::Sent { socket, .. } if socket == c => {}
            Event::Closed { socket } if socket == c => {}
            other => assert!(echo.on(e, &other), "unexpected {other:?}"),
        }
        client_eof && echo.closed == 1 && e.stats().open_sockets == 1
    });
    assert_eq!(got.bytes, pos, "{kind}: echoed length");
    assert_eq!(got.finish(), sent.finish(), "{kind}: echoed checksum");
    let st = e.stats();
    eprintln!("{kind}: echo {pos} bytes, stats {st:?}");
}

#[test]
fn echo_random_sizes_epoll() {
    echo_random_sizes(BackendKind::Epoll);
}

#[test]
fn echo_random_sizes_io_uring() {
    if has(BackendKind::IoUring) {
        echo_random_sizes(BackendKind::IoUring);
    }
}

fn stream_256mb(kind: BackendKind) {
    const TOTAL: u64 = 256 << 20;
    const HIGH_WATER: usize = 4 << 20;
    let pool = pool(256, None);
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
    let (c, server) = pair(&mut e, l);
    let local = pool.local();
    let before = e.stats();
    let start = Instant::now();
    let mut watchdog = Watchdog::new(STALL, STREAM_CAP);
    let mut sent_hash = StreamHash::new();
    let mut got_hash = StreamHash::new();
    let mut pos = 0u64;
    let mut events = Vec::new();
    let mut eof = false;
    while !eof {
        while pos < TOTAL && e.queued_bytes(c) < HIGH_WATER {
            let h: BufHandle = local.acquire(1).unwrap();
            let n = (TOTAL - pos).min(65536) as usize;
            // SAFETY: `h` is ours and 64 KiB long.
            let buf = unsafe { std::slice::from_raw_parts_mut(pool.ptr(h).unwrap(), n) };
            fill_pattern(buf, pos);
            sent_hash.update(buf);
            e.send(c, h, 0, n as u32).unwrap();
            pos += n as u64;
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
                Event::Sent { .. } => {}
                other => panic!("{kind}: unexpected {other:?}"),
            }
        }
        watchdog.check(got_hash.bytes, &format!("{kind}: 256 MB stream"));
    }
    let secs = start.elapsed().as_secs_f64();
    let st = e.stats();
    assert_eq!(got_hash.bytes, TOTAL);
    assert_eq!(got_hash.finish(), sent_hash.finish(), "{kind}: stream hash");
    let mb = TOTAL as f64 / (1 << 20) as f64;
    let syscalls = (st.enters - before.enters)
        + (st.epoll_waits - before.epoll_waits)
        + (st.read_calls - before.read_calls)
        + (st.write_calls - before.write_calls)
        + (st.other_syscalls - before.other_syscalls);
    eprintln!(
        "{kind}: 256 MB in {secs:.2} s = {:.0} MB/s; {:.1} syscalls/MB (enters {}, epoll_waits {}, reads {}, writes {}, other {}), sqes {}, cqes {}, recv events {}, buffer exhaustion {}",
        mb / secs,
        syscalls as f64 / mb,
        st.enters - before.enters,
        st.epoll_waits - before.epoll_waits,
        st.read_calls - before.read_calls,
        st.write_calls - before.write_calls,
        st.other_syscalls - before.other_syscalls,
        st.sqes - before.sqes,
        st.cqes - before.cqes,
        st.recv_events - before.recv_events,
        st.recv_buffer_exhausted - before.recv_buffer_exhausted,
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
fn stream_256mb_epoll() {
    stream_256mb(BackendKind::Epoll);
}

#[test]
fn stream_256mb_io_uring() {
    if has(BackendKind::IoUring) {
        stream_256mb(BackendKind::IoUring);
    }
}

fn concurrent_connections(kind: BackendKind, ring_entries: u32) -> zerosock_uring::EngineStats {
    const N: usize = 256;
    const LEN: usize = 8192;
    let pool = pool(256, None);
    let mut cfg = EngineConfig::new(kind, pool.clone());
    cfg.ring_entries = ring_entries;
    let mut e = Engine::new(cfg).unwrap();
    let l = e
        .listen("127.0.0.1:0".parse().unwrap(), 1024, false)
        .unwrap();
    let at = e.local_addr(l).unwrap().ip().unwrap();
    let mut clients: HashMap<SocketId, (usize, Vec<u8>)> = HashMap::new();
    for i in 0..N {
        let c = e.connect(at).unwrap();
        let mut msg = vec![0u8; LEN];
        fill_pattern(&mut msg, (i * LEN) as u64);
        e.send_copy(c, &msg).unwrap();
        e.shutdown_write(c).unwrap();
        clients.insert(c, (i, Vec::new()));
    }
    let mut echo = Echo::default();
    let mut done = 0;
    drive(&mut e, T, |e, ev| {
        match ev {
            Event::Connected { socket } => assert!(clients.contains_key(&socket)),
            Event::Data { socket, .. } if clients.contains_key(&socket) => {
                let bytes = take_data(e, &pool, &ev);
                clients.get_mut(&socket).unwrap().1.extend(bytes);
            }
            Event::Sent { socket, .. } if clients.contains_key(&socket) => {}
            Event::Eof { socket } if clients.contains_key(&socket) => {
                let (i, got) = &clients[&socket];
                let mut want = vec![0u8; LEN];
                fill_pattern(&mut want, (i * LEN) as u64);
                assert!(got == &want, "{kind}: client {i} got other bytes");
                e.close(socket).unwrap();
            }
            Event::Closed { socket } if clients.contains_key(&socket) => done += 1,
            other => assert!(echo.on(e, &other), "{kind}: unexpected {other:?}"),
        }
        done == N && echo.closed == N
    });
    assert_eq!(echo.accepted, N);
    assert_eq!(e.stats().open_sockets, 1);
    e.stats()
}

#[test]
fn concurrent_256_connections_epoll() {
    concurrent_connections(BackendKind::Epoll, 1024);
}

#[test]
fn concurrent_256_connections_io_uring() {
    if has(BackendKind::IoUring) {
        concurrent_connections(BackendKind::IoUring, 1024);
    }
}

#[test]
fn tiny_ring_overflows_without_losing_anything_io_uring() {
    if has(BackendKind::IoUring) {
        // 8 SQEs / 32 CQEs for 512 sockets: the SQ fills and the CQ overflows constantly.
        let st = concurrent_connections(BackendKind::IoUring, 8);
        eprintln!(
            "tiny ring: sq_full {}, cq_overflows {}",
            st.sq_full, st.cq_overflows
        );
        assert!(st.sq_full > 0, "the SQ must have been full at some point");
    }
}

/// A std::net peer writes `total` bytes; the engine side holds up to `hold` received buffers
/// before releasing them (a slow reader); with `wait_dry` only after a poll that brought no
/// data (the engine ran out of buffers). Returns (max large buffers in use, exhaustion count).
fn slow_reader(
    kind: BackendKind,
    large_max: Option<u32>,
    hold: usize,
    wait_dry: bool,
    total: u64,
) -> (u64, u64) {
    let pool = pool(32, large_max);
    let mut cfg = EngineConfig::new(kind, pool.clone());
    cfg.recv_buffers = 32;
    let mut e = Engine::new(cfg).unwrap();
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
    let at = e.local_addr(l).unwrap().ip().unwrap();
    let writer = thread::spawn(move || {
        let mut s = TcpStream::connect(at).unwrap();
        let mut pos = 0u64;
        let mut chunk = vec![0u8; 256 * 1024];
        while pos < total {
            let n = (total - pos).min(chunk.len() as u64) as usize;
            fill_pattern(&mut chunk[..n], pos);
            s.write_all(&chunk[..n]).unwrap();
            pos += n as u64;
        }
    });
    let mut held: VecDeque<BufHandle> = VecDeque::new();
    let mut hash = StreamHash::new();
    let mut max_in_use = 0;
    let mut max_engine_held = 0;
    let mut events = Vec::new();
    let mut watchdog = Watchdog::new(STALL, STREAM_CAP);
    let mut closed = false;
    let mut dry = false;
    while !closed {
        watchdog.check(hash.bytes, &format!("{kind}: slow reader"));
        e.submit().unwrap();
        events.clear();
        e.wait(Duration::from_millis(50), &mut events);
        // Buffers the engine holds now: in use minus the reader's and this batch's.
        let in_use = large_in_use(&pool);
        let in_batch = events
            .iter()
            .filter(|ev| matches!(ev, Event::Data { buf, .. } if buf.class() == 1))
            .count() as u64;
        max_in_use = max_in_use.max(in_use);
        max_engine_held = max_engine_held.max(in_use - held.len() as u64 - in_batch);
        let mut got_data = false;
        let dry_before = dry;
        for ev in events.drain(..) {
            match ev {
                Event::Accepted { .. } => {}
                Event::Data {
                    buf, offset, len, ..
                } => {
                    let p = pool.ptr(buf).unwrap();
                    // SAFETY: the engine gave us `len` bytes at `offset` of `buf`.
                    hash.update(unsafe {
                        std::slice::from_raw_parts(p.add(offset as usize), len as usize)
                    });
                    if buf.class() == 1 {
                        held.push_back(buf);
                    } else {
                        e.release_recv(buf).unwrap();
                    }
                    got_data = true;
                    if held.len() >= hold && !wait_dry {
                        thread::sleep(Duration::from_millis(2));
                        for h in held.drain(..) {
                            e.release_recv(h).unwrap();
                        }
                    }
                }
                Event::Eof { socket } => {
                    for h in held.drain(..) {
                        e.release_recv(h).unwrap();
                    }
                    e.close(socket).unwrap();
                }
                Event::Closed { .. } => closed = true,
                other => panic!("{kind}: unexpected {other:?}"),
            }
        }
        dry = !got_data;
        if wait_dry && held.len() >= hold && dry_before && dry {
            for h in held.drain(..) {
                e.release_recv(h).unwrap();
            }
        }
    }
    writer.join().unwrap();
    let mut want = StreamHash::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut pos = 0;
    while pos < total {
        let n = (total - pos).min(chunk.len() as u64) as usize;
        fill_pattern(&mut chunk[..n], pos);
        want.update(&chunk[..n]);
        pos += n as u64;
    }
    assert_eq!(hash.bytes, total, "{kind}");
    assert_eq!(hash.finish(), want.finish(), "{kind}: slow reader hash");
    assert!(
        max_engine_held <= 32 + 2,
        "{kind}: the engine itself held {max_engine_held} large buffers"
    );
    (max_in_use, e.stats().recv_buffer_exhausted)
}

fn slow_reader_bounded(kind: BackendKind) {
    // Growable pool: what is in use is bounded by the ring (32), what the reader holds (64)
    // and one poll's batch of Data events (at most two ring-fulls); the engine's own share
    // (ring) is checked inside `slow_reader`.
    let (max, _) = slow_reader(kind, None, 64, false, 48 << 20);
    assert!(max <= 64 + 2 * 32 + 2, "{kind}: {max} large buffers in use");
    // Hard limit: the reader keeps every buffer until the engine has none left, so receiving
    // must stall (ENOBUFS / pool empty) and then resume when they come back.
    let (max, exhausted) = slow_reader(kind, Some(48), 48, true, 16 << 20);
    assert!(max <= 48, "{kind}: {max}");
    assert!(
        exhausted > 0,
        "{kind}: the receiver must have run out of buffers"
    );
}

#[test]
fn slow_reader_bounded_epoll() {
    slow_reader_bounded(BackendKind::Epoll);
}

#[test]
fn slow_reader_bounded_io_uring() {
    if has(BackendKind::IoUring) {
        slow_reader_bounded(BackendKind::IoUring);
    }
}
