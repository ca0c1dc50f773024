//! Unix domain sockets on both backends: std peers both ways over a path and an abstract
//! name, the socket file's life (removed on close, EADDRINUSE while it exists, permissions),
//! connect errors, addresses, and zerocopy sends (which the kernel copies on AF_UNIX).

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr as StdUnixAddr, UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;
use zerosock_uring::{EngineError, Event, SockAddr, UnixAddr};

const T: Duration = Duration::from_secs(15);

/// A fresh socket path in the temp dir (nothing exists there yet).
fn temp_path(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("zs-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn unix(name: &[u8]) -> SockAddr {
    SockAddr::Unix(UnixAddr::new(name).unwrap())
}

fn path_addr(p: &std::path::Path) -> SockAddr {
    unix(p.as_os_str().as_encoded_bytes())
}

/// A std client writes a pattern, half-closes and reads the echo back.
fn std_client(
    connect: impl FnOnce() -> UnixStream + Send + 'static,
    n: usize,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut s = connect();
        let mut data = vec![0u8; n];
        fill_pattern(&mut data, 11);
        s.write_all(&data).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        assert!(back == data, "echoed bytes differ");
    })
}

fn echo_once(e: &mut zerosock_uring::Engine, kind: impl std::fmt::Display, n: usize) {
    let mut echo = Echo::default();
    drive(e, T, |e, ev| {
        assert!(echo.on(e, &ev), "{kind}: unexpected {ev:?}");
        echo.closed == 1
    });
    assert_eq!((echo.accepted, echo.bytes), (1, n as u64), "{kind}");
}

#[test]
fn std_client_against_engine_server_on_a_path() {
    for kind in backends() {
        let path = temp_path(&format!("echo-{kind}"));
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let l = e.listen(path_addr(&path), 128, false).unwrap();
        assert!(
            path.exists(),
            "{kind}: the socket file exists while listening"
        );
        assert_eq!(e.local_addr(l).unwrap(), path_addr(&path));
        let p = path.clone();
        let client = std_client(move || UnixStream::connect(&p).unwrap(), 300_000);
        echo_once(&mut e, kind, 300_000);
        client.join().unwrap();
        e.close(l).unwrap();
        assert!(!path.exists(), "{kind}: close() removes the socket file");
        drive(
            &mut e,
            T,
            |_, ev| matches!(ev, Event::Closed { socket } if socket == l),
        );
        assert_eq!(e.stats().open_sockets, 0, "{kind}");
    }
}

#[test]
fn std_client_against_engine_server_on_an_abstract_name() {
    for kind in backends() {
        let name = format!("zs-abstract-{kind}-{}", std::process::id());
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(name.as_bytes());
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let l = e.listen(unix(&bytes), 128, false).unwrap();
        assert_eq!(e.local_addr(l).unwrap(), unix(&bytes));
        let client = std_client(
            move || {
                // NUL-padded to the whole sun_path, as node:net and zerosock name them.
                let mut padded = name.into_bytes();
                padded.resize(107, 0);
                let at = StdUnixAddr::from_abstract_name(&padded).unwrap();
                UnixStream::connect_addr(&at).unwrap()
            },
            100_000,
        );
        echo_once(&mut e, kind, 100_000);
        client.join().unwrap();
        e.close(l).unwrap();
        drive(
            &mut e,
            T,
            |_, ev| matches!(ev, Event::Closed { socket } if socket == l),
        );
    }
}

#[test]
fn engine_client_against_std_server() {
    for kind in backends() {
        let path = temp_path(&format!("client-{kind}"));
        let listener = UnixListener::bind(&path).unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(&got).unwrap();
            got.len()
        });
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let c = e.connect(path_addr(&path)).unwrap();
        let mut data = vec![0u8; 200_000];
        fill_pattern(&mut data, 5);
        e.send_copy(c, &data).unwrap(); // queued before Connected
        e.shutdown_write(c).unwrap();
        let got = collect_echo(&mut e, &pool, c, T, |e| {
            assert_eq!(e.peer_addr(c).unwrap(), path_addr(&path), "{kind}");
            let own = e.local_addr(c).unwrap();
            assert!(
                matches!(&own, SockAddr::Unix(u) if u.is_unnamed()),
                "{kind}: a client's own end has no name, got {own:?}"
            );
        });
        assert_eq!(server.join().unwrap(), data.len());
        assert!(got == data, "{kind}: bytes differ");
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn a_path_in_use_is_eaddrinuse_and_stays_the_owners() {
    for kind in backends() {
        let path = temp_path(&format!("inuse-{kind}"));
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let l = e.listen(path_addr(&path), 16, false).unwrap();
        let err = e.listen(path_addr(&path), 16, false).unwrap_err();
        assert_eq!((err.code(), err.syscall), ("EADDRINUSE", "bind"), "{kind}");
        assert!(
            path.exists(),
            "{kind}: a failed bind leaves the owner's file alone"
        );
        // A stale file (nobody listening) is EADDRINUSE too, as in node:net.
        e.close(l).unwrap();
        drive(&mut e, T, |_, ev| matches!(ev, Event::Closed { .. }));
        std::fs::write(&path, b"").unwrap();
        let err = e.listen(path_addr(&path), 16, false).unwrap_err();
        assert_eq!(err.code(), "EADDRINUSE", "{kind}");
        std::fs::remove_file(&path).unwrap();
        let err = e.listen(path_addr(&path), 16, true).unwrap_err();
        assert_eq!(
            err.code(),
            "EINVAL",
            "{kind}: SO_REUSEPORT has no meaning on a path"
        );
    }
}

#[test]
fn connect_errors_are_reported_as_events() {
    for kind in backends() {
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let missing = temp_path(&format!("missing-{kind}"));
        let not_listening = temp_path(&format!("stale-{kind}"));
        drop(UnixListener::bind(&not_listening).unwrap()); // the file stays, nobody listens
        for (at, want) in [(&missing, "ENOENT"), (&not_listening, "ECONNREFUSED")] {
            let c = e.connect(path_addr(at)).unwrap();
            let mut seen = None;
            drive(&mut e, T, |e, ev| match ev {
                Event::Error { socket, err } if socket == c => {
                    seen = Some(err);
                    e.close(c).unwrap();
                    false
                }
                Event::Closed { socket } => socket == c,
                other => panic!("{kind}: unexpected {other:?}"),
            });
            let err = seen.expect("an error event");
            assert_eq!((err.code(), err.syscall), (want, "connect"), "{kind}");
        }
        let _ = std::fs::remove_file(&not_listening);
    }
}

#[test]
fn allow_all_adds_permission_bits_only_to_path_listeners() {
    for kind in backends() {
        let path = temp_path(&format!("mode-{kind}"));
        let pool = pool(16, None);
        let mut e = engine(kind, &pool);
        let l = e.listen(path_addr(&path), 16, false).unwrap();
        let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        e.allow_all(l, true, false).unwrap();
        assert_eq!(mode(&path), 0o744, "{kind}");
        e.allow_all(l, false, true).unwrap();
        assert_eq!(mode(&path), 0o766, "{kind}");
        let tcp = e.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        assert!(matches!(
            e.allow_all(tcp, true, true),
            Err(EngineError::WrongSocketKind)
        ));
        e.close(l).unwrap();
        e.close(tcp).unwrap();
        let mut closed = 0;
        drive(&mut e, T, |_, ev| {
            closed += matches!(ev, Event::Closed { .. }) as u32;
            closed == 2
        });
        assert!(!path.exists());
    }
}

/// On AF_UNIX the kernel has no zerocopy path: a zerocopy send must still deliver every byte,
/// complete, and say it was copied.
#[test]
fn zerocopy_sends_complete_as_copied() {
    for kind in backends() {
        let path = temp_path(&format!("zc-{kind}"));
        let listener = UnixListener::bind(&path).unwrap();
        const N: usize = 16;
        const LEN: usize = 65536;
        let reader = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            got
        });
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let baseline = in_use(&pool); // the engine's own receive buffers
        let c = e.connect(path_addr(&path)).unwrap();
        let local = pool.local();
        let mut want = Vec::new();
        for i in 0..N {
            let h = local.acquire(1).unwrap();
            // SAFETY: `h` was just acquired; nothing else refers to its memory.
            let buf = unsafe { pool.slice_mut(h).unwrap() };
            fill_pattern(&mut buf[..LEN], (i * LEN) as u64);
            want.extend_from_slice(&buf[..LEN]);
            e.send_zerocopy(c, h, 0, LEN as u32).unwrap();
        }
        e.shutdown_write(c).unwrap();
        let (mut done, mut copied) = (0u32, 0u32);
        drive(&mut e, T, |e, ev| match ev {
            Event::Connected { .. } | Event::Sent { .. } => false,
            Event::ZeroCopyDone {
                first,
                last,
                copied: c_,
                ..
            } => {
                let n = last.wrapping_sub(first) + 1;
                done += n;
                copied += if c_ { n } else { 0 };
                if done == N as u32 {
                    e.close(c).unwrap();
                }
                false
            }
            Event::Closed { socket } => socket == c,
            other => panic!("{kind}: unexpected {other:?}"),
        });
        assert_eq!(
            (done, copied),
            (N as u32, N as u32),
            "{kind}: every send done, copied"
        );
        assert!(reader.join().unwrap() == want, "{kind}: bytes differ");
        assert_eq!(in_use(&pool), baseline, "{kind}: every buffer back");
        let _ = std::fs::remove_file(&path);
    }
}
