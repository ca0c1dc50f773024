//! Engine basics on both backends: interop with std::net peers both ways, IPv6, connect
//! refused, peer reset, stale ids, the notify fd.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::Duration;
use zerosock_uring::{Engine, EngineError, Event, SpinEnd};

const T: Duration = Duration::from_secs(15);

fn std_client_echo(addr: &str) {
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let l = e.listen(addr.parse().unwrap(), 128, false).unwrap();
        let at = e.local_addr(l).unwrap().ip().unwrap();
        assert_ne!(at.port(), 0);
        let client = thread::spawn(move || {
            let mut s = TcpStream::connect(at).unwrap();
            let mut data = vec![0u8; 300_000];
            fill_pattern(&mut data, 7);
            s.write_all(&data).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).unwrap();
            assert!(back == data, "echoed bytes differ");
        });
        let mut echo = Echo::default();
        drive(&mut e, T, |e, ev| {
            assert!(echo.on(e, &ev), "unexpected {ev:?}");
            echo.closed == 1
        });
        client.join().unwrap();
        assert_eq!(echo.accepted, 1);
        assert_eq!(echo.bytes, 300_000);
        assert_eq!(
            e.stats().open_sockets,
            1,
            "{kind}: only the listener is left"
        );
    }
}

#[test]
fn std_client_against_engine_server_v4() {
    std_client_echo("127.0.0.1:0");
}

#[test]
fn std_client_against_engine_server_v6() {
    std_client_echo("[::1]:0");
}

#[test]
fn engine_client_against_std_server() {
    for kind in backends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let at = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(&got).unwrap();
            got.len()
        });
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let c = e.connect(at).unwrap();
        let mut data = vec![0u8; 200_000];
        fill_pattern(&mut data, 3);
        e.send_copy(c, &data).unwrap(); // queued before Connected
        e.shutdown_write(c).unwrap();
        assert_eq!(
            e.send_copy(c, b"late").unwrap_err().code(),
            "ERR_ZEROSOCK_SOCKET_CLOSED"
        );
        let mut connected = false;
        let got = collect_echo(&mut e, &pool, c, T, |e| {
            assert_eq!(e.peer_addr(c).unwrap().ip(), Some(at));
            connected = true;
        });
        assert!(connected);
        assert_eq!(server.join().unwrap(), data.len());
        assert!(got == data, "{kind}: bytes differ");
    }
}

#[test]
fn connect_refused_reports_econnrefused() {
    for kind in backends() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(); // closed again: nobody listens there now
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let c = e.connect(addr).unwrap();
        let mut seen = None;
        drive(&mut e, T, |e, ev| match ev {
            Event::Error { socket, err } => {
                assert_eq!(socket, c);
                seen = Some(err);
                e.close(c).unwrap();
                false
            }
            Event::Closed { socket } => socket == c,
            other => panic!("{kind}: unexpected {other:?}"),
        });
        let err = seen.expect("an error");
        assert_eq!(err.code(), "ECONNREFUSED", "{kind}");
        assert_eq!(err.errno, libc::ECONNREFUSED);
        assert_eq!(err.syscall, "connect");
        assert_eq!(err.to_string(), "connect ECONNREFUSED");
    }
}

#[test]
fn peer_reset_reports_econnreset() {
    for kind in backends() {
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let at = e.local_addr(l).unwrap().ip().unwrap();
        let peer = TcpStream::connect(at).unwrap();
        let mut peer = Some(peer);
        let mut server = None;
        let mut err = None;
        drive(&mut e, T, |e, ev| match ev {
            Event::Accepted { socket, .. } => {
                server = Some(socket);
                let mut p = peer.take().unwrap();
                p.write_all(b"hello").unwrap();
                linger_zero(p.as_raw_fd());
                drop(p); // RST
                false
            }
            Event::Data { .. } => {
                take_data(e, &pool, &ev);
                false
            }
            Event::Error { socket, err: x } => {
                assert_eq!(Some(socket), server);
                err = Some(x);
                e.close(socket).unwrap();
                false
            }
            Event::Closed { socket } => Some(socket) == server,
            other => panic!("{kind}: unexpected {other:?}"),
        });
        let err = err.expect("error event");
        assert_eq!(err.code(), "ECONNRESET", "{kind}");
        assert_eq!(err.syscall, "read");
    }
}

#[test]
fn stale_and_closed_ids_are_errors() {
    for kind in backends() {
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let at = e.local_addr(l).unwrap().ip().unwrap();
        let c = e.connect(at).unwrap();
        let mut server = None;
        let mut connected = false;
        drive(&mut e, T, |_, ev| {
            match ev {
                Event::Accepted { socket, .. } => server = Some(socket),
                Event::Connected { socket } => connected = socket == c,
                other => panic!("{kind}: unexpected {other:?}"),
            }
            connected && server.is_some()
        });
        let server = server.unwrap();
        // A listener can't send.
        assert!(matches!(
            e.send_copy(l, b"x"),
            Err(EngineError::WrongSocketKind)
        ));
        e.close(c).unwrap();
        // Closing: calls fail with SocketClosed until Closed, then with BadSocket.
        assert!(
            matches!(e.send_copy(c, b"x"), Err(EngineError::SocketClosed))
                || matches!(e.send_copy(c, b"x"), Err(EngineError::BadSocket))
        );
        drive(&mut e, T, |_, ev| ev == Event::Closed { socket: c });
        for r in [
            e.send_copy(c, b"x"),
            e.close(c),
            e.pause_recv(c),
            e.resume_recv(c),
            e.shutdown_write(c),
            e.local_addr(c).map(|_| ()),
        ] {
            assert_eq!(r.unwrap_err().code(), "ERR_ZEROSOCK_BAD_SOCKET", "{kind}");
        }
        assert_eq!(e.queued_bytes(c), 0);
        // A new socket reusing the slot gets a different id; the old one still misses it.
        let c2 = e.connect(at).unwrap();
        assert_ne!(c2, c);
        assert!(e.send_copy(c, b"x").is_err());
        e.send_copy(c2, b"ok").unwrap();
        // Never-issued ids.
        assert!(matches!(e.close(0xFFFF_FFFF), Err(EngineError::BadSocket)));
        let mut got = Vec::new();
        let mut server2 = None;
        drive(&mut e, T, |e, ev| {
            match ev {
                Event::Eof { socket } | Event::Error { socket, .. } if socket == server => {
                    e.close(server).unwrap();
                }
                Event::Accepted { socket, .. } => server2 = Some(socket),
                Event::Data { socket, .. } => {
                    assert_eq!(Some(socket), server2);
                    got.extend(take_data(e, &pool, &ev));
                }
                _ => {}
            }
            got == b"ok"
        });
    }
}

#[test]
fn notify_fd_wakes_and_is_cleared_by_poll() {
    for kind in backends() {
        let (pool, mut e, mut peer) = listening_engine_and_peer(kind);
        let fd = e.notify_fd();
        let readable = |ms: i32| fd_readable(fd, ms);
        assert!(readable(5000), "{kind}: accept must wake the notify fd");
        let mut out = Vec::new();
        let mut server = None;
        for _ in 0..50 {
            e.poll(&mut out, 64);
            e.submit().unwrap();
            server = out.iter().find_map(|ev| match ev {
                Event::Accepted { socket, .. } => Some(*socket),
                _ => None,
            });
            if server.is_some() {
                break;
            }
            readable(100);
        }
        let server = server.expect("accepted");
        // Drain everything; then the fd must go quiet.
        poll_until_quiet(&mut e);
        assert!(!readable(50), "{kind}: poll() must clear the notify fd");
        peer.write_all(b"ping").unwrap();
        assert!(readable(5000), "{kind}: data must wake the notify fd");
        assert_eq!(poll_bytes(&mut e, &pool, server, 4), b"ping");
        // A reply sent and collected by the caller itself must not wake the loop again: the
        // kernel's own eventfd signals for completions posted while the engine reaps are muted
        // (io_uring), and a direct epoll write touches no fd. Then the peer's next message must.
        for _ in 0..10 {
            out.clear();
            e.poll(&mut out, 64);
            if !readable(20) {
                break;
            }
        }
        for round in 0..20u8 {
            e.send_copy(server, &[round; 64]).unwrap();
            out.clear();
            e.submit_and_collect(&mut out).unwrap();
            assert!(
                out.iter().any(|ev| matches!(ev, Event::Sent { .. })),
                "{kind}: round {round}: the send completes inline ({out:?})"
            );
            let mut reply = [0u8; 64];
            peer.read_exact(&mut reply).unwrap();
            assert_eq!(reply, [round; 64]);
            assert!(
                !readable(20),
                "{kind}: round {round}: the notify fd woke for a completion already collected"
            );
            peer.write_all(&[round]).unwrap();
            assert!(
                readable(5000),
                "{kind}: round {round}: data must wake the notify fd"
            );
            let seen = poll_bytes(&mut e, &pool, server, 1);
            assert_eq!(seen, [round], "{kind}: round {round}");
        }
    }
}

#[test]
fn pause_stops_data_until_resume() {
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let at = e.local_addr(l).unwrap().ip().unwrap();
        const TOTAL: usize = 1 << 20;
        let writer = thread::spawn(move || {
            let mut s = TcpStream::connect(at).unwrap();
            let mut data = vec![0u8; TOTAL];
            fill_pattern(&mut data, 0);
            s.write_all(&data).unwrap();
        });
        let mut got = Vec::new();
        let mut server = None;
        drive(&mut e, T, |e, ev| match ev {
            Event::Accepted { socket, .. } => {
                server = Some(socket);
                false
            }
            Event::Data { socket, .. } => {
                got.extend(take_data(e, &pool, &ev));
                e.pause_recv(socket).unwrap();
                true
            }
            other => panic!("{kind}: unexpected {other:?}"),
        });
        let server = server.unwrap();
        // Events poll() returned before the pause are not recalled (drive kept them back).
        let mut eof_early = false;
        for ev in leftover_events() {
            match ev {
                Event::Data { .. } => got.extend(take_data(&mut e, &pool, &ev)),
                Event::Eof { .. } => eof_early = true,
                other => panic!("{kind}: {other:?}"),
            }
        }
        let mut out = Vec::new();
        let quiet = std::time::Instant::now();
        while quiet.elapsed() < Duration::from_millis(200) {
            out.clear();
            e.submit().unwrap();
            e.wait(Duration::from_millis(20), &mut out);
            for ev in &out {
                assert!(
                    !matches!(ev, Event::Data { .. } | Event::Eof { .. }),
                    "{kind}: {ev:?} while paused"
                );
            }
        }
        e.resume_recv(server).unwrap();
        if eof_early {
            e.close(server).unwrap();
        }
        drive(&mut e, T, |e, ev| match ev {
            Event::Data { .. } => {
                got.extend(take_data(e, &pool, &ev));
                false
            }
            Event::Eof { socket } => {
                e.close(socket).unwrap();
                false
            }
            Event::Closed { socket } => socket == server,
            other => panic!("{kind}: unexpected {other:?}"),
        });
        writer.join().unwrap();
        let mut want = vec![0u8; TOTAL];
        fill_pattern(&mut want, 0);
        assert_eq!(got.len(), TOTAL, "{kind}");
        assert!(got == want, "{kind}: bytes differ after pause/resume");
    }
}

#[test]
fn poll_honours_max() {
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
        let at = e.local_addr(l).unwrap().ip().unwrap();
        let peers: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(at).unwrap()).collect();
        thread::sleep(Duration::from_millis(50));
        let mut out = Vec::new();
        let mut accepted = 0;
        let start = std::time::Instant::now();
        while accepted < 20 {
            assert!(start.elapsed() < T, "{kind}: accepted only {accepted}");
            out.clear();
            e.submit().unwrap();
            let n = e.poll(&mut out, 3);
            assert!(n <= 3 && out.len() == n, "{kind}: poll returned {n} > 3");
            accepted += out
                .iter()
                .filter(|ev| matches!(ev, Event::Accepted { .. }))
                .count();
            if n == 0 {
                thread::sleep(Duration::from_millis(5));
            }
        }
        drop(peers);
    }
}

/// An engine listening on 127.0.0.1 (accept submitted) and a std client connected to it.
fn listening_engine_and_peer(
    kind: zerosock_uring::BackendKind,
) -> (zerosock_pool::Pool, Engine, TcpStream) {
    let pool = pool(16, None);
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
    let at = e.local_addr(l).unwrap().ip().unwrap();
    e.submit().unwrap();
    let peer = TcpStream::connect(at).unwrap();
    (pool, e, peer)
}

/// [`listening_engine_and_peer`] once the engine has accepted the peer: also the server id.
fn accepted_engine_and_peer(
    kind: zerosock_uring::BackendKind,
) -> (zerosock_pool::Pool, Engine, TcpStream, u32) {
    let (pool, mut e, peer) = listening_engine_and_peer(kind);
    let mut server = None;
    drive(&mut e, T, |_, ev| {
        if let Event::Accepted { socket, .. } = ev {
            server = Some(socket);
        }
        server.is_some()
    });
    (pool, e, peer, server.expect("accepted"))
}

/// Polls and submits until the notify fd stays quiet (bounded: 10 rounds); events are dropped.
fn poll_until_quiet(e: &mut Engine) {
    let mut out = Vec::new();
    for _ in 0..10 {
        out.clear();
        e.poll(&mut out, 64);
        e.submit().unwrap();
        if !fd_readable(e.notify_fd(), 20) {
            break;
        }
    }
}

/// Polls `e` (waiting on its notify fd between tries, bounded) until `want` bytes of `Data`
/// arrived for `socket`, and returns them.
fn poll_bytes(e: &mut Engine, pool: &zerosock_pool::Pool, socket: u32, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut out = Vec::new();
    for _ in 0..50 {
        out.clear();
        e.poll(&mut out, 64);
        for ev in &out {
            if let Event::Data { socket: s, .. } = ev {
                assert_eq!(*s, socket, "data for another socket");
                got.extend(take_data(e, pool, ev));
            }
        }
        if got.len() >= want {
            break;
        }
        fd_readable(e.notify_fd(), 100);
    }
    got
}

/// Waits until `fd` is readable or `ms` pass.
fn fd_readable(fd: std::os::fd::RawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

/// Drives `e` the way the Node binding does: `poll()` only after the notify fd became
/// readable, `submit()` after each batch, until `on` (which returns how much of the work an
/// event did) has counted `target`. Fails if the fd stays quiet while work is left.
fn drive_by_notify_fd(
    e: &mut Engine,
    what: &str,
    target: usize,
    mut on: impl FnMut(&mut Engine, &Event) -> usize,
) {
    let fd = e.notify_fd();
    let mut out = Vec::new();
    let mut done = 0;
    for _ in 0..100_000 {
        if done == target {
            return;
        }
        assert!(
            fd_readable(fd, 3000),
            "{}: {what}: the notify fd stayed quiet at {done} of {target} ({:?})",
            e.describe(),
            e.stats()
        );
        out.clear();
        e.poll(&mut out, 256);
        for ev in &out {
            done += on(e, ev);
        }
        e.submit().unwrap();
    }
    panic!("{what}: {done} of {target} after 100 000 polls");
}

/// More completions than the kernel runs per io_uring_enter (20 task-work items with
/// DEFER_TASKRUN): the engine must keep the notify fd readable until every one was reaped.
#[test]
fn notify_fd_stays_readable_through_a_burst() {
    const N: usize = 300;
    const REFUSED: usize = 2000;
    // About 3 000 descriptors at the peak: lift the soft limit to the hard one, as Node does.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit with a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    if lim.rlim_cur < 4096 {
        eprintln!("skipped: RLIMIT_NOFILE hard limit {} < 4096", lim.rlim_max);
        return;
    }
    for kind in backends() {
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let l = e
            .listen("127.0.0.1:0".parse().unwrap(), 1024, false)
            .unwrap();
        let at = e.local_addr(l).unwrap().ip().unwrap();
        e.submit().unwrap();
        let peers: Vec<TcpStream> = (0..N).map(|_| TcpStream::connect(at).unwrap()).collect();
        drive_by_notify_fd(&mut e, "accepting", N, |_, ev| {
            matches!(ev, Event::Accepted { .. }) as usize
        });
        // Every peer writes at once; nothing is polled until all bytes are in flight.
        for mut p in &peers {
            p.write_all(b"burst").unwrap();
        }
        thread::sleep(Duration::from_millis(100));
        drive_by_notify_fd(&mut e, "receiving", N * 5, |e, ev| match ev {
            Event::Data { .. } => take_data(e, &pool, ev).len(),
            _ => 0,
        });
        // And a burst of engine connects, all completing before the first poll.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap();
        // std listens with a backlog of 128; a second listen(2) raises it, so the kernel
        // completes all N handshakes without anyone accepting.
        // SAFETY: listen(2) on a socket we own.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 1024) }, 0);
        for _ in 0..N {
            e.connect(target).unwrap();
        }
        e.submit().unwrap();
        thread::sleep(Duration::from_millis(100));
        drive_by_notify_fd(&mut e, "connecting", N, |_, ev| {
            matches!(ev, Event::Connected { .. }) as usize
        });
        // And a burst of refused connects (the storm that once left 2 000 unsettled).
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let refused_at = closed.local_addr().unwrap();
        drop(closed);
        for _ in 0..REFUSED {
            e.connect(refused_at).unwrap();
        }
        e.submit().unwrap();
        drive_by_notify_fd(&mut e, "refused connects", REFUSED, |e, ev| match ev {
            Event::Error { socket, err } => {
                assert_eq!(err.errno, libc::ECONNREFUSED, "{err}");
                e.close(*socket).unwrap();
                1
            }
            _ => 0,
        });
        drop(peers);
    }
}

/// `close()` promises that no event of the socket follows but `Closed`: also not the `Sent` of
/// a direct write made before it, nor `Data` a poll with a small `max` kept back (whose buffers
/// must come back).
#[test]
fn no_event_of_a_socket_follows_close_but_closed() {
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let c = e.connect(e.local_addr(l).unwrap().ip().unwrap()).unwrap();
        let mut server = None;
        let mut connected = false;
        drive(&mut e, T, |_, ev| {
            match ev {
                Event::Accepted { socket, .. } => server = Some(socket),
                Event::Connected { socket } => connected |= socket == c,
                other => panic!("{kind}: unexpected {other:?}"),
            }
            server.is_some() && connected
        });
        let server = server.unwrap();
        let baseline = in_use(&pool);
        // Two direct writes (at least direct_send_min bytes, nothing queued): each leaves a
        // `Sent` waiting for the next poll.
        let chunk = vec![5u8; 256 * 1024];
        e.send_copy(server, &chunk).unwrap();
        // The client's data arrives in several receive buffers; a poll that takes one event
        // keeps the rest back.
        assert!(fd_readable(e.notify_fd(), 5000), "{kind}: data must arrive");
        let mut out = Vec::new();
        e.poll(&mut out, 1);
        e.send_copy(c, &chunk).unwrap();
        e.close(c).unwrap();
        e.close(server).unwrap();
        for ev in &out {
            if let Event::Data { buf, .. } = ev {
                e.release_recv(*buf).unwrap();
            }
        }
        let mut closed = Vec::new();
        drive(&mut e, T, |_, ev| {
            match ev {
                Event::Closed { socket } => closed.push(socket),
                other => panic!("{kind}: event after close: {other:?}"),
            }
            closed.len() == 2
        });
        assert_eq!(
            in_use(&pool),
            baseline,
            "{kind}: buffers of dropped events are back"
        );
        e.close(l).unwrap();
    }
}

/// `busy_wait` spins until `poll()` would find something: false after the budget when nothing
/// comes, true as soon as the peer's data is there (the work it saw is then polled).
#[test]
fn busy_wait_sees_work_arrive() {
    for kind in backends() {
        let (pool, mut e, mut peer, server) = accepted_engine_and_peer(kind);
        poll_until_quiet(&mut e);
        let t0 = std::time::Instant::now();
        assert_eq!(
            e.busy_wait(Duration::from_millis(5), None),
            SpinEnd::Budget,
            "{kind}: nothing was sent"
        );
        assert!(
            t0.elapsed() >= Duration::from_millis(5),
            "{kind}: spun the whole budget"
        );
        peer.write_all(b"ping").unwrap();
        assert_eq!(
            e.busy_wait(Duration::from_secs(5), None),
            SpinEnd::Work,
            "{kind}: the data must show"
        );
        assert_eq!(poll_bytes(&mut e, &pool, server, 4), b"ping", "{kind}");
        let s = e.stats();
        assert!(s.busy_polls >= 2 && s.busy_poll_hits >= 1, "{kind}: {s:?}");
    }
}

/// The `Sent` of a direct write (nothing queued, at least `direct_send_min` bytes) costs no
/// wake-up when the caller collects it itself; a plain `submit()` announces it on the notify fd.
#[test]
fn direct_send_is_announced_by_submit_or_collected() {
    for kind in backends() {
        let (pool, mut e, mut peer, server) = accepted_engine_and_peer(kind);
        poll_until_quiet(&mut e);
        let fd = e.notify_fd();
        let mut out = Vec::new();
        let chunk = vec![1u8; 64 * 1024];
        let mut sink = vec![0u8; chunk.len()];
        for round in 0..2 {
            e.send_copy(server, &chunk).unwrap();
            assert!(!fd_readable(fd, 20), "{kind}: no wake-up before submit");
            out.clear();
            if round == 0 {
                e.submit_and_collect(&mut out).unwrap();
                assert!(
                    out.contains(&Event::Sent {
                        socket: server,
                        bytes: chunk.len() as u64
                    }),
                    "{kind}: collected {out:?}"
                );
                assert!(!fd_readable(fd, 20), "{kind}: nothing left to announce");
            } else {
                e.submit().unwrap();
                assert!(fd_readable(fd, 5000), "{kind}: submit() announces the Sent");
                e.poll(&mut out, 64);
                assert!(out.contains(&Event::Sent {
                    socket: server,
                    bytes: chunk.len() as u64
                }));
            }
            peer.read_exact(&mut sink).unwrap();
            assert_eq!(sink, chunk);
        }
        drop(pool);
    }
}

/// One direct write per socket per submit: further large sends before the submit are queued
/// and leave together in one gathered write (fewer, larger TCP writes); a send of 4x the
/// direct minimum is always direct. Bytes arrive in order either way.
#[test]
fn large_sends_between_submits_are_gathered() {
    for kind in backends() {
        let (pool, mut e, mut peer, server) = accepted_engine_and_peer(kind);
        poll_until_quiet(&mut e);
        let reader = thread::spawn(move || {
            let mut all = vec![0u8; 6 * 64 * 1024 + 256 * 1024];
            peer.read_exact(&mut all).unwrap();
            all
        });
        let chunks: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i + 1; 64 * 1024]).collect();
        let w0 = e.stats().write_calls;
        for c in &chunks {
            e.send_copy(server, c).unwrap();
        }
        assert_eq!(
            e.stats().write_calls - w0,
            1,
            "{kind}: only the first is direct"
        );
        let ops0 = e.stats().send_ops;
        let mut out = Vec::new();
        e.submit_and_collect(&mut out).unwrap();
        let sent_in = |evs: &[Event]| -> u64 {
            evs.iter()
                .map(|ev| match ev {
                    Event::Sent { bytes, .. } => *bytes,
                    _ => 0,
                })
                .sum()
        };
        let mut sent = sent_in(&out);
        if sent < 3 * 64 * 1024 {
            drive(&mut e, T, |_, ev| {
                sent += sent_in(std::slice::from_ref(&ev));
                sent >= 3 * 64 * 1024
            });
        }
        let s = e.stats();
        // The kernel may take the gathered 128 KiB in two writes when its buffer is short.
        assert!(
            (1..=2).contains(&(s.send_ops - ops0)),
            "{kind}: gathered into one write, took {}",
            s.send_ops - ops0
        );
        let big = vec![9u8; 256 * 1024];
        let w1 = s.write_calls;
        e.send_copy(server, &chunks[0]).unwrap();
        poll_until_quiet(&mut e);
        e.send_copy(server, &chunks[1]).unwrap();
        assert_eq!(
            e.stats().write_calls - w1,
            2,
            "{kind}: a submit in between: direct"
        );
        e.submit().unwrap();
        poll_until_quiet(&mut e);
        let w2 = e.stats().write_calls;
        e.send_copy(server, &chunks[2]).unwrap();
        e.send_copy(server, &big).unwrap();
        assert_eq!(
            e.stats().write_calls - w2,
            2,
            "{kind}: 256 KiB is always direct"
        );
        poll_until_quiet(&mut e);
        let got = reader.join().unwrap();
        let mut want = Vec::new();
        for c in chunks
            .iter()
            .chain([&chunks[0], &chunks[1], &chunks[2], &big])
        {
            want.extend_from_slice(c);
        }
        assert_eq!(got.len(), want.len());
        assert!(got == want, "{kind}: bytes in order");
        drop(pool);
    }
}

/// A spin ends as soon as something else the event loop watches is ready (the `also` fd), so
/// other handles are not held up for the whole budget.
#[test]
fn busy_wait_yields_to_other_ready_fds() {
    for kind in backends() {
        let (_pool, mut e, _peer, _server) = accepted_engine_and_peer(kind);
        poll_until_quiet(&mut e);
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let t0 = std::time::Instant::now();
        assert_eq!(
            e.busy_wait(Duration::from_millis(2), Some(b.as_raw_fd())),
            SpinEnd::Budget,
            "{kind}: nothing ready"
        );
        a.write_all(b"x").unwrap();
        let t1 = std::time::Instant::now();
        assert_eq!(
            e.busy_wait(Duration::from_secs(5), Some(b.as_raw_fd())),
            SpinEnd::Other,
            "{kind}"
        );
        assert!(
            t1.elapsed() < Duration::from_millis(500) && t1 > t0,
            "{kind}: ended at once, not after the budget"
        );
        let s = e.stats();
        assert!(s.busy_poll_spun_us >= 2000, "{kind}: spin time counted");
        assert_eq!(s.busy_poll_yields, 1, "{kind}");
    }
}

/// `debt()` is the one account of work only a submit hands to the kernel: a direct write whose
/// remainder stays queued owes a submit (and its `Sent` is unannounced); any of submit,
/// submit_and_collect or poll settles it.
#[test]
fn debt_names_what_a_submit_owes_and_every_submit_settles_it() {
    for kind in backends() {
        for settle in ["submit", "submit_and_collect", "poll"] {
            let (_pool, mut e, peer, server) = accepted_engine_and_peer(kind);
            poll_until_quiet(&mut e);
            assert!(e.debt().is_empty(), "{kind}: nothing owed when quiet");
            // More than the kernel takes at once from a peer that does not read yet.
            let big = vec![7u8; 8 << 20];
            e.send_copy(server, &big).unwrap();
            let d = e.debt();
            assert!(!d.is_empty(), "{kind}: a direct write's remainder is owed");
            assert_eq!(d.dirty_sockets, 1, "{kind}: {d}");
            assert!(
                d.queued_bytes > 0 && d.queued_bytes < big.len(),
                "{kind}: {d}"
            );
            assert_eq!(
                d.unannounced_events, 1,
                "{kind}: the direct write's Sent: {d}"
            );
            let mut out = Vec::new();
            match settle {
                "submit" => drop(e.submit().unwrap()),
                "submit_and_collect" => drop(e.submit_and_collect(&mut out).unwrap()),
                _ => drop(e.poll(&mut out, usize::MAX)),
            }
            assert!(
                e.debt().is_empty(),
                "{kind}: {settle} settles it: {}",
                e.debt()
            );
            drop(peer);
        }
    }
}
