//! Socket lifecycle on both backends: close with operations in flight, 2 000 connect/close
//! cycles without leaking descriptors or buffers. The tests count process-wide descriptors,
//! so they run one at a time (a lock).

mod common;

use common::*;
use std::net::TcpListener;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};
use zerosock_uring::{open_fd_count, BackendKind, Event, SocketId};

const T: Duration = Duration::from_secs(18);
static SERIAL: Mutex<()> = Mutex::new(());

fn has(kind: BackendKind) -> bool {
    // The probe opens and closes descriptors: never while another test counts them.
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    backends().contains(&kind)
}

fn close_with_inflight(kind: BackendKind) {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pool = pool(64, None);
    let fds_before = open_fd_count();
    let mut e = engine(kind, &pool);
    let baseline = in_use(&pool);
    // A std peer that accepts and never reads: our sends stay in flight.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let _ = rx.recv_timeout(Duration::from_secs(15));
        drop(s);
    });
    let c = e.connect(at).unwrap();
    drive(&mut e, T, |_, ev| ev == Event::Connected { socket: c });
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..16 {
        e.send_copy(c, &chunk).unwrap();
    }
    // Let the kernel buffers fill up so a send is parked in the kernel.
    let start = Instant::now();
    let mut out = Vec::new();
    while start.elapsed() < Duration::from_millis(300) {
        e.submit().unwrap();
        out.clear();
        e.wait(Duration::from_millis(20), &mut out);
        for ev in &out {
            assert!(matches!(ev, Event::Sent { .. }), "{kind}: {ev:?}");
        }
    }
    assert!(
        e.queued_bytes(c) > 0,
        "{kind}: the peer never reads, data must be queued"
    );
    assert!(in_use(&pool) > baseline);
    // Also a server-side socket with a receive in flight.
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 8, false).unwrap();
    let c2 = e.connect(e.local_addr(l).unwrap().ip().unwrap()).unwrap();
    let mut server: Option<SocketId> = None;
    let mut connected = false;
    drive(&mut e, T, |_, ev| {
        match ev {
            Event::Accepted { socket, .. } => server = Some(socket),
            Event::Connected { socket } => connected |= socket == c2,
            Event::Sent { .. } => {}
            other => panic!("{kind}: unexpected {other:?}"),
        }
        server.is_some() && connected
    });
    let server = server.unwrap();
    e.close(c).unwrap();
    e.close(server).unwrap();
    e.close(c2).unwrap();
    e.close(l).unwrap();
    let mut closed = Vec::new();
    drive(&mut e, T, |_, ev| {
        match ev {
            Event::Closed { socket } => closed.push(socket),
            other => panic!("{kind}: event after close: {other:?}"),
        }
        closed.len() == 4
    });
    closed.sort();
    let mut want = vec![c, server, c2, l];
    want.sort();
    assert_eq!(closed, want);
    assert_eq!(in_use(&pool), baseline, "{kind}: queued buffers released");
    assert_eq!(e.stats().open_sockets, 0);
    drop(e);
    assert_eq!(in_use(&pool), 0, "{kind}: all buffers back after drop");
    tx.send(()).unwrap();
    peer.join().unwrap();
    assert_eq!(open_fd_count(), fds_before, "{kind}: descriptors leaked");
}

#[test]
fn close_with_inflight_ops_epoll() {
    close_with_inflight(BackendKind::Epoll);
}

#[test]
fn close_with_inflight_ops_io_uring() {
    if has(BackendKind::IoUring) {
        close_with_inflight(BackendKind::IoUring);
    }
}

fn connect_close_cycles(kind: BackendKind) {
    const CYCLES: usize = 2000;
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pool = pool(64, None);
    let fds_before = open_fd_count();
    let mut e = engine(kind, &pool);
    let l = e
        .listen("127.0.0.1:0".parse().unwrap(), 128, false)
        .unwrap();
    let at = e.local_addr(l).unwrap().ip().unwrap();
    let baseline = in_use(&pool);
    let fds_engine = open_fd_count();
    let start = Instant::now();
    for i in 0..CYCLES {
        let c = e.connect(at).unwrap();
        if i % 2 == 0 {
            e.send_copy(c, b"hello").unwrap();
        }
        let mut server = None;
        let mut connected = false;
        let mut closed = 0;
        drive(&mut e, T, |e, ev| {
            match ev {
                Event::Accepted { socket, .. } => server = Some(socket),
                Event::Connected { .. } => connected = true,
                Event::Data { .. } => {
                    take_data(e, &pool, &ev);
                }
                Event::Sent { .. } | Event::Eof { .. } | Event::Error { .. } => {}
                Event::Closed { .. } => closed += 1,
                other @ (Event::ZeroCopyDone { .. }
                | Event::Mapped { .. }
                | Event::TlsReady { .. }
                | Event::TlsFailed { .. }
                | Event::FileSent { .. }) => {
                    panic!("no zerocopy, TLS or files here: {other:?}")
                }
            }
            if connected && closed == 0 {
                if let Some(s) = server.take() {
                    // Alternate who closes first; both close at once.
                    if i % 3 == 0 {
                        e.close(s).unwrap();
                        e.close(c).unwrap();
                    } else {
                        e.close(c).unwrap();
                        e.close(s).unwrap();
                    }
                    connected = false;
                }
            }
            closed == 2
        });
        assert!(start.elapsed() < T, "{kind}: {i} cycles took too long");
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(e.stats().open_sockets, 1, "{kind}");
    assert_eq!(open_fd_count(), fds_engine, "{kind}: descriptors leaked");
    assert_eq!(in_use(&pool), baseline, "{kind}: buffers leaked");
    eprintln!(
        "{kind}: {CYCLES} connect/close cycles in {secs:.2} s ({:.0} us each)",
        secs * 1e6 / CYCLES as f64
    );
    drop(e);
    assert_eq!(in_use(&pool), 0);
    assert_eq!(
        open_fd_count(),
        fds_before,
        "{kind}: engine descriptors leaked"
    );
}

#[test]
fn connect_close_cycles_epoll() {
    connect_close_cycles(BackendKind::Epoll);
}

#[test]
fn connect_close_cycles_io_uring() {
    if has(BackendKind::IoUring) {
        connect_close_cycles(BackendKind::IoUring);
    }
}

fn drop_with_open_sockets(kind: BackendKind) {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pool = pool(64, None);
    let fds_before = open_fd_count();
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
    let at = e.local_addr(l).unwrap().ip().unwrap();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let c = e.connect(at).unwrap();
        e.send_copy(c, &vec![1u8; 4 << 20]).unwrap();
        clients.push(c);
    }
    let mut accepted = 0;
    let mut held = Vec::new();
    drive(&mut e, T, |_, ev| {
        match ev {
            Event::Accepted { .. } => accepted += 1,
            // Keep some received buffers: they are the caller's, not the engine's.
            Event::Data { buf, .. } => held.push(buf),
            _ => {}
        }
        accepted == 8 && held.len() >= 8
    });
    drop(e); // sends and receives still in flight
    let local = pool.local();
    for h in held.into_iter().chain(leftover_buffers()) {
        local.release(h).unwrap();
    }
    drop(local);
    assert_eq!(
        in_use(&pool),
        0,
        "{kind}: the engine's buffers are back after drop"
    );
    assert_eq!(open_fd_count(), fds_before, "{kind}: descriptors leaked");
}

#[test]
fn drop_with_open_sockets_epoll() {
    drop_with_open_sockets(BackendKind::Epoll);
}

#[test]
fn drop_with_open_sockets_io_uring() {
    if has(BackendKind::IoUring) {
        drop_with_open_sockets(BackendKind::IoUring);
    }
}
