//! Engine micro-benchmark: a server engine and a client engine on two threads over loopback.
//!
//! `cargo run --release -p zerosock-uring --example engine_bench -- [epoll|io_uring] [MB] [msgs]`
//!
//! Stream: the client streams MB megabytes in 64 KiB pool buffers, the server counts them.
//! Ping-pong: 64-byte request/response, `msgs` round trips, one connection.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use zerosock_pool::{Pool, PoolConfig};
use zerosock_uring::{BackendChoice, Engine, EngineConfig, EngineStats, Event};

fn syscalls(s: &EngineStats) -> u64 {
    s.enters + s.epoll_waits + s.read_calls + s.write_calls + s.other_syscalls
}

fn server(
    kind: zerosock_uring::BackendKind,
    pool: Pool,
    tx: mpsc::Sender<std::net::SocketAddr>,
    echo: bool,
) -> EngineStats {
    let mut e = Engine::new(EngineConfig::new(kind, pool)).unwrap();
    let l = e
        .listen("127.0.0.1:0".parse().unwrap(), 128, false)
        .unwrap();
    tx.send(e.local_addr(l).unwrap().ip().unwrap()).unwrap();
    let mut out = Vec::new();
    loop {
        out.clear();
        e.wait(Duration::from_millis(100), &mut out);
        for ev in out.drain(..) {
            match ev {
                Event::Data {
                    socket,
                    buf,
                    offset,
                    len,
                } => {
                    if echo {
                        e.send(socket, buf, offset, len).unwrap();
                    } else {
                        e.release_recv(buf).unwrap();
                    }
                }
                Event::Eof { socket } => {
                    e.close(socket).unwrap();
                }
                Event::Closed { .. } => return e.stats(),
                _ => {}
            }
        }
        e.submit().unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = BackendChoice::parse(args.get(1).map_or("auto", |s| s), "argv")
        .unwrap()
        .pick(zerosock_uring::probe().io_uring_usable());
    let mb: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let msgs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let pool = Pool::new(PoolConfig::default()).unwrap();

    // Stream.
    let (tx, rx) = mpsc::channel();
    let p2 = pool.clone();
    let srv = thread::spawn(move || server(kind, p2, tx, false));
    let at = rx.recv().unwrap();
    let mut cfg = EngineConfig::new(kind, pool.clone());
    // ZS_DIRECT=<bytes>: direct_send_min; ZS_COPY=1: stream with send_copy of 1 MiB slices.
    // ZS_COPY_BREAK=<bytes>: copy_break (both engines).
    if let Some(v) = std::env::var("ZS_DIRECT").ok().and_then(|v| v.parse().ok()) {
        cfg.direct_send_min = v;
    }
    if let Some(v) = std::env::var("ZS_COPY_BREAK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.copy_break = v;
    }
    let copy_mode = std::env::var_os("ZS_COPY").is_some();
    let mut e = Engine::new(cfg.clone()).unwrap();
    println!(
        "{} (direct_send_min {}, send_copy {copy_mode})",
        e.describe(),
        cfg.direct_send_min
    );
    let slice = vec![5u8; 1 << 20];
    let local = pool.local();
    let c = e.connect(at).unwrap();
    let total = mb << 20;
    let mut sent = 0u64;
    let start = Instant::now();
    let mut out = Vec::new();
    let mut done = false;
    while !done {
        while sent < total && e.queued_bytes(c) < 4 << 20 {
            if copy_mode {
                e.send_copy(c, &slice).unwrap();
                sent += slice.len() as u64;
            } else {
                let h = local.acquire(1).unwrap();
                e.send(c, h, 0, 65536).unwrap();
                sent += 65536;
            }
            if sent >= total {
                e.shutdown_write(c).unwrap();
            }
        }
        e.submit().unwrap();
        out.clear();
        e.wait(Duration::from_millis(100), &mut out);
        for ev in out.drain(..) {
            match ev {
                Event::Eof { .. } | Event::Error { .. } => e.close(c).unwrap(),
                Event::Closed { .. } => done = true,
                Event::Data { buf, .. } => e.release_recv(buf).unwrap(),
                _ => {}
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cs = e.stats();
    let ss = srv.join().unwrap();
    println!(
        "stream {mb} MB: {:.0} MB/s ({:.2} Gbit/s); client {:.2} syscalls/MB, server {:.2} syscalls/MB ({} recv events, {} exhausted)",
        mb as f64 / secs,
        mb as f64 * 8.0 / 1024.0 / secs,
        syscalls(&cs) as f64 / mb as f64,
        syscalls(&ss) as f64 / mb as f64,
        ss.recv_events,
        ss.recv_buffer_exhausted
    );

    // Ping-pong.
    let (tx, rx) = mpsc::channel();
    let p2 = pool.clone();
    let srv = thread::spawn(move || server(kind, p2, tx, true));
    let at = rx.recv().unwrap();
    let c = e.connect(at).unwrap();
    let before = e.stats();
    let mut rtts = Vec::with_capacity(msgs as usize);
    let msg = [7u8; 64];
    let mut connected = false;
    while !connected {
        out.clear();
        e.wait(Duration::from_millis(100), &mut out);
        connected = out.iter().any(|ev| matches!(ev, Event::Connected { .. }));
    }
    let start = Instant::now();
    for _ in 0..msgs {
        let t0 = Instant::now();
        e.send_copy(c, &msg).unwrap();
        out.clear();
        e.submit_and_collect(&mut out).unwrap();
        let mut got = 0;
        while got < 64 {
            if out.is_empty() {
                e.wait(Duration::from_millis(100), &mut out);
            }
            for ev in out.drain(..) {
                if let Event::Data { buf, len, .. } = ev {
                    got += len;
                    e.release_recv(buf).unwrap();
                }
            }
        }
        rtts.push(t0.elapsed());
    }
    let secs = start.elapsed().as_secs_f64();
    e.shutdown_write(c).unwrap();
    e.submit().unwrap();
    let after = e.stats();
    let mut done = false;
    while !done {
        out.clear();
        e.wait(Duration::from_millis(100), &mut out);
        for ev in out.drain(..) {
            match ev {
                Event::Eof { .. } => e.close(c).unwrap(),
                Event::Closed { .. } => done = true,
                Event::Data { buf, .. } => e.release_recv(buf).unwrap(),
                _ => {}
            }
        }
        e.submit().unwrap();
    }
    srv.join().unwrap();
    rtts.sort();
    println!(
        "ping-pong 64 B x {msgs}: {:.0} round trips/s, p50 {:?}, p99 {:?}; client {:.2} syscalls/round trip",
        msgs as f64 / secs,
        rtts[rtts.len() / 2],
        rtts[rtts.len() * 99 / 100],
        (syscalls(&after) - syscalls(&before)) as f64 / msgs as f64
    );
    let per = |a: u64, b: u64| (a - b) as f64 / msgs as f64;
    println!(
        "  per round trip: enters {:.2}, epoll_waits {:.2}, reads {:.2}, writes {:.2}, other {:.2}, empty polls {:.2}",
        per(after.enters, before.enters),
        per(after.epoll_waits, before.epoll_waits),
        per(after.read_calls, before.read_calls),
        per(after.write_calls, before.write_calls),
        per(after.other_syscalls, before.other_syscalls),
        per(after.empty_polls, before.empty_polls)
    );
}
