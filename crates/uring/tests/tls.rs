//! TLS on both backends, engine to engine over 127.0.0.1: sends before and after the
//! handshake arrive in order, `Sent` counts plaintext, small sends made during the handshake
//! leave in a few records (not one per send), a wrong name and garbage end in `TlsFailed` with
//! node:tls's code, files are read and encrypted in order with sends, and nothing leaks.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;
use zerosock_uring::tls::{ClientConfig, ClientOptions, ServerConfig, ServerOptions};
use zerosock_uring::{Event, SocketId};

const T: Duration = Duration::from_secs(20);

fn configs() -> (ServerConfig, ClientConfig) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = ck.cert.pem();
    let key = ck.signing_key.serialize_pem();
    let server = ServerConfig::new(&ServerOptions {
        cert: cert.as_bytes(),
        key: key.as_bytes(),
        ..Default::default()
    })
    .unwrap();
    let client = ClientConfig::new(&ClientOptions {
        ca: Some(cert.as_bytes()),
        ..Default::default()
    })
    .unwrap();
    (server, client)
}

#[test]
fn echo_through_tls_keeps_order_counts_plaintext_and_batches_records() {
    let (scfg, ccfg) = configs();
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let baseline = in_use(&pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
        e.set_tls_server(l, scfg.clone()).unwrap();
        let at = e.local_addr(l).unwrap();
        let c = e.connect(at).unwrap();
        e.set_tls_client(c, &ccfg, "localhost").unwrap();
        // 1000 small sends during the handshake, then a large one
        let mut want = Vec::new();
        for i in 0..1000u32 {
            let m = [(i % 251) as u8; 64];
            e.send_copy(c, &m).unwrap();
            want.extend_from_slice(&m);
        }
        let big: Vec<u8> = (0..(3 << 20)).map(|i| pattern_byte(i as u64)).collect();
        e.send_copy(c, &big).unwrap();
        want.extend_from_slice(&big);
        e.shutdown_write(c).unwrap();
        let mut echo = Echo::default();
        let (mut got, mut ready, mut sent) = (Vec::new(), 0, 0u64);
        drive(&mut e, T, |e, ev| {
            if ev.connection() != Some(c) && !matches!(ev, Event::Closed { socket } if socket == c)
            {
                echo.on(e, &ev);
                return false;
            }
            match ev {
                Event::Connected { .. } => {}
                Event::TlsReady { .. } => ready += 1,
                Event::Data { .. } => got.extend(take_data(e, &pool, &ev)),
                Event::Sent { bytes, .. } => sent += bytes,
                Event::Eof { .. } => e.close(c).unwrap(),
                Event::Closed { .. } => return true,
                other => panic!(
                    "{kind:?}: unexpected {other:?}: {:?}",
                    e.tls_session(c)
                        .and_then(|s| s.error())
                        .map(|x| x.to_string())
                ),
            }
            false
        });
        assert_eq!(ready, 1, "{kind:?}: one TlsReady");
        assert_eq!(got.len(), want.len(), "{kind:?}");
        assert!(got == want, "{kind:?}: the echo differs");
        assert_eq!(sent, want.len() as u64, "{kind:?}: Sent counts plaintext");
        let s = e.stats();
        assert_eq!(s.tls_handshakes, 2, "{kind:?}: both ends");
        assert_eq!(s.tls_failures, 0);
        // The client's 1000 small sends left in a few records: what it sent beyond its
        // plaintext (handshake + record overhead) stays far below 1000 x 22 bytes.
        let overhead = s.bytes_out - s.tls_plain_out;
        assert!(
            overhead < 12_000,
            "{kind:?}: {overhead} bytes of TLS overhead"
        );
        if echo.closed == 0 {
            drive(&mut e, T, |e, ev| {
                echo.on(e, &ev);
                echo.closed == 1
            });
        }
        e.close(l).unwrap();
        drive(
            &mut e,
            T,
            |_, ev| matches!(ev, Event::Closed { socket } if socket == l),
        );
        assert_eq!(in_use(&pool), baseline, "{kind:?}: buffers leaked");
    }
}

#[test]
fn files_on_tls_are_encrypted_in_order_with_sends_and_the_fin_waits_for_them() {
    use std::os::fd::AsRawFd;
    let (scfg, ccfg) = configs();
    let path = std::env::temp_dir().join(format!("zs-tls-file-{}", std::process::id()));
    let data: Vec<u8> = (0..(5 << 20) + 123)
        .map(|i| pattern_byte(i as u64 * 7))
        .collect();
    std::fs::write(&path, &data).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let baseline = in_use(&pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
        e.set_tls_server(l, scfg.clone()).unwrap();
        let at = e.local_addr(l).unwrap();
        let c = e.connect(at).unwrap();
        e.set_tls_client(c, &ccfg, "localhost").unwrap();
        // during the handshake: a send, a file range, a send, an empty range, a send, end()
        let (off, len) = (7u64, data.len() as u64 - 10);
        e.send_copy(c, b"head").unwrap();
        e.send_file(c, file.as_raw_fd(), off, len).unwrap();
        e.send_copy(c, b"mid").unwrap();
        e.send_file(c, file.as_raw_fd(), 3, 0).unwrap();
        e.send_copy(c, b"tail").unwrap();
        e.shutdown_write(c).unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[off as usize..(off + len) as usize]);
        want.extend_from_slice(b"midtail");
        let mut echo = Echo::default();
        let (mut got, mut sent, mut files) = (Vec::new(), 0u64, Vec::new());
        drive(&mut e, T, |e, ev| {
            if ev.connection() != Some(c) && !matches!(ev, Event::Closed { socket } if socket == c)
            {
                echo.on(e, &ev);
                return false;
            }
            match ev {
                Event::Connected { .. } | Event::TlsReady { .. } => {}
                Event::Data { .. } => got.extend(take_data(e, &pool, &ev)),
                Event::Sent { bytes, .. } => sent += bytes,
                Event::FileSent { bytes, errno, .. } => files.push((bytes, errno, sent)),
                Event::Eof { .. } => e.close(c).unwrap(),
                Event::Closed { .. } => return true,
                other => panic!("{kind:?}: unexpected {other:?}"),
            }
            false
        });
        assert!(
            got == want,
            "{kind:?}: {} bytes back, {} wanted",
            got.len(),
            want.len()
        );
        assert_eq!(files.len(), 2, "{kind:?}: one FileSent per file");
        assert_eq!((files[0].0, files[0].1), (len, 0), "{kind:?}");
        assert_eq!((files[1].0, files[1].1), (0, 0), "{kind:?}");
        // each FileSent comes once the file's last byte was sent, not when it was read
        assert!(
            files[0].2 >= 4 + len,
            "{kind:?}: FileSent before its bytes were sent"
        );
        assert_eq!(
            sent,
            want.len() as u64,
            "{kind:?}: Sent counts the file's plaintext"
        );
        if echo.closed == 0 {
            drive(&mut e, T, |e, ev| {
                echo.on(e, &ev);
                echo.closed == 1
            });
        }
        e.close(l).unwrap();
        drive(
            &mut e,
            T,
            |_, ev| matches!(ev, Event::Closed { socket } if socket == l),
        );
        assert_eq!(in_use(&pool), baseline, "{kind:?}: buffers leaked");
    }
}

/// Drives until both sockets closed; returns the client's events (TLS ones, Eof, Error).
fn run_until_closed(
    e: &mut zerosock_uring::Engine,
    pool: &zerosock_pool::Pool,
    socks: &[SocketId],
) -> Vec<Event> {
    let mut seen = Vec::new();
    let mut closed = 0;
    drive(e, T, |e, ev| {
        match ev {
            Event::Accepted { .. } | Event::Connected { .. } | Event::Sent { .. } => {}
            Event::Data { .. } => drop(take_data(e, pool, &ev)),
            Event::TlsFailed { socket } | Event::Eof { socket } | Event::Error { socket, .. } => {
                seen.push(ev);
                let _ = e.close(socket);
            }
            Event::Closed { socket } if socks.contains(&socket) => closed += 1,
            other => seen.push(other),
        }
        closed == socks.len()
    });
    seen
}

#[test]
fn a_wrong_name_fails_with_nodes_code_on_both_ends() {
    let (scfg, ccfg) = configs();
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let baseline = in_use(&pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
        e.set_tls_server(l, scfg.clone()).unwrap();
        let c = e.connect(e.local_addr(l).unwrap()).unwrap();
        e.set_tls_client(c, &ccfg, "other.example").unwrap();
        let mut server = None;
        let mut code = None;
        drive(&mut e, T, |e, ev| {
            match ev {
                Event::Accepted { socket, .. } => server = Some(socket),
                Event::TlsFailed { socket } if socket == c => {
                    code = e.tls_session(c).and_then(|s| s.error()).map(|x| x.code());
                    return true;
                }
                Event::TlsReady { socket } => assert_ne!(socket, c, "{kind:?}"),
                _ => {}
            }
            false
        });
        assert_eq!(code, Some("ERR_TLS_CERT_ALTNAME_INVALID"), "{kind:?}");
        e.close(c).unwrap();
        let s = server.expect("accepted");
        let seen = run_until_closed(&mut e, &pool, &[c, s]);
        assert!(!seen.is_empty(), "{kind:?}: the server heard of it");
        e.close(l).unwrap();
        drive(
            &mut e,
            T,
            |_, ev| matches!(ev, Event::Closed { socket } if socket == l),
        );
        assert_eq!(in_use(&pool), baseline, "{kind:?}: buffers leaked");
    }
}

#[test]
fn garbage_instead_of_a_client_hello_fails_the_session_and_alerts_the_peer() {
    let (scfg, _) = configs();
    for kind in backends() {
        let pool = pool(64, None);
        let mut e = engine(kind, &pool);
        let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
        e.set_tls_server(l, scfg.clone()).unwrap();
        let at = e.local_addr(l).unwrap().ip().unwrap();
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(at).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut reply = Vec::new();
            let _ = s.read_to_end(&mut reply);
            reply
        });
        let mut failed = None;
        drive(&mut e, T, |e, ev| match ev {
            Event::TlsFailed { socket } => {
                failed = e
                    .tls_session(socket)
                    .and_then(|s| s.error())
                    .map(|x| x.code());
                e.close(socket).unwrap();
                false
            }
            Event::Closed { socket } => socket != l,
            Event::Data { .. } => panic!("{kind:?}: garbage delivered as data"),
            _ => false,
        });
        assert!(failed.is_some(), "{kind:?}");
        let reply = peer.join().unwrap();
        assert_eq!(
            reply.first(),
            Some(&0x15),
            "{kind:?}: an alert record, got {reply:?}"
        );
        assert_eq!(e.stats().tls_failures, 1);
        e.close(l).unwrap();
    }
}
