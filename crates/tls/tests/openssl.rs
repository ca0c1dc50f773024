//! Interop with real OpenSSL over TCP on 127.0.0.1: our client against `openssl s_server`, and
//! `openssl s_client` against a small blocking std::net server driving TlsSession. Each peer is
//! a separate process, killed if it outlives its deadline. Without `openssl` on PATH the tests
//! print why they skip.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use zerosock_tls::{
    ClientConfig, ClientOptions, ServerConfig, ServerOptions, TlsError, TlsSession,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn openssl_missing(test: &str) -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => false,
        _ => {
            println!("SKIP {test}: `openssl` is not installed (apt-get install openssl)");
            true
        }
    }
}

/// A temporary folder with the PEM files a peer process reads.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("zerosock-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Kills the process when the test is done with it (or panics).
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn send_all(stream: &mut TcpStream, s: &mut TlsSession) {
    let mut out = Vec::new();
    s.write_tls_vec(&mut out);
    if !out.is_empty() {
        stream.write_all(&out).unwrap();
    }
}

/// Drives a session over a socket until the peer closes (close_notify or EOF) or the deadline.
/// `on_data` gets all plaintext so far and returns what to send back (once the handshake
/// allows) and whether to end after it.
fn drive(
    stream: &mut TcpStream,
    s: &mut TlsSession,
    mut on_data: impl FnMut(&TlsSession, &[u8]) -> Option<(Vec<u8>, bool)>,
) -> Result<Vec<u8>, TlsError> {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut plain = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    send_all(stream, s);
    while start.elapsed() < DEADLINE {
        if !s.is_handshaking() {
            if let Some((reply, end)) = on_data(s, &plain) {
                let mut out = Vec::new();
                s.write_plaintext_vec(&[&reply], &mut out)?;
                stream.write_all(&out).unwrap();
                if end {
                    s.end()?;
                }
            }
            send_all(stream, s);
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => break,
        };
        let r = s.read_tls_vec(&mut buf[..n], &mut plain);
        send_all(stream, s);
        if r?.peer_closed {
            break;
        }
    }
    Ok(plain)
}

/// `openssl s_server -www` on a port it picks; returns the process and the port.
fn s_server(args: &[&str], dir: &Path) -> (Peer, u16) {
    let mut child = Command::new("openssl")
        .arg("s_server")
        .args(["-accept", "127.0.0.1:0", "-naccept", "1", "-www"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let peer = Peer(child);
    // "ACCEPT 127.0.0.1:PORT"
    let start = Instant::now();
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while start.elapsed() < DEADLINE {
        if out.read(&mut byte).unwrap_or(0) == 0 {
            break;
        }
        text.push(byte[0]);
        let s = String::from_utf8_lossy(&text);
        if let Some(line) = s.lines().find(|l| l.starts_with("ACCEPT ")) {
            if s.ends_with('\n') {
                let port = line.rsplit(':').next().unwrap().trim().parse().unwrap();
                return (peer, port);
            }
        }
    }
    panic!(
        "s_server did not say its port: {}",
        String::from_utf8_lossy(&text)
    );
}

fn get_page(cfg: &ClientConfig, name: &str, port: u16) -> (TlsSession, Result<String, TlsError>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut s = TlsSession::client(cfg, name).unwrap();
    let mut sent = false;
    let r = drive(&mut stream, &mut s, |_, _| {
        if sent {
            return None;
        }
        sent = true;
        Some((b"GET / HTTP/1.0\r\n\r\n".to_vec(), false))
    });
    (s, r.map(|p| String::from_utf8_lossy(&p).into_owned()))
}

#[test]
fn client_against_openssl_s_server() {
    if openssl_missing("client_against_openssl_s_server") {
        return;
    }
    let ca = ca("Interop Root");
    let srv = leaf(&ca, &["localhost", "127.0.0.1"]);
    let dir = Dir::new("s_server");
    dir.file("srv.pem", &srv.cert);
    dir.file("srv.key", &srv.key);
    dir.file("ca.pem", &ca.pem);
    let cfg = ClientConfig::new(&ClientOptions {
        ca: Some(ca.pem.as_bytes()),
        alpn_protocols: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        ..Default::default()
    })
    .unwrap();

    for (version_args, want) in [(&[][..], "TLSv1.3"), (&["-tls1_2"][..], "TLSv1.2")] {
        let mut args = vec!["-cert", "srv.pem", "-key", "srv.key", "-alpn", "http/1.1"];
        args.extend_from_slice(version_args);
        let (_peer, port) = s_server(&args, &dir.0);
        let (s, page) = get_page(&cfg, "localhost", port);
        let page = page.unwrap();
        assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
        assert!(
            page.contains(want),
            "s_server's page names the protocol: {page}"
        );
        assert_eq!(s.protocol(), Some(want));
        assert!(s.authorized(), "{:?}", s.authorization_error());
        assert_eq!(s.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(
            s.peer_certificate().unwrap().subject.get("CN"),
            Some("localhost")
        );
        assert!(s.is_peer_closed(), "s_server ends with close_notify");
    }

    // a client certificate, required by s_server
    let client = leaf(&ca, &["interop-client"]);
    let cfg = ClientConfig::new(&ClientOptions {
        ca: Some(ca.pem.as_bytes()),
        cert: Some(client.cert.as_bytes()),
        key: Some(client.key.as_bytes()),
        ..Default::default()
    })
    .unwrap();
    let (_peer, port) = s_server(
        &[
            "-cert", "srv.pem", "-key", "srv.key", "-Verify", "1", "-CAfile", "ca.pem",
        ],
        &dir.0,
    );
    let (_, page) = get_page(&cfg, "localhost", port);
    let page = page.unwrap();
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    assert!(!page.contains("no client certificate available"), "{page}");

    // a self-signed server: node's code from a real OpenSSL server
    let ss = self_signed(&["localhost"]);
    dir.file("ss.pem", &ss.cert);
    dir.file("ss.key", &ss.key);
    let (_peer, port) = s_server(&["-cert", "ss.pem", "-key", "ss.key"], &dir.0);
    let (_, r) = get_page(&client_config(&ca.pem), "localhost", port);
    assert_eq!(r.unwrap_err().code(), "DEPTH_ZERO_SELF_SIGNED_CERT");
}

/// Accepts one connection, echoes "ECHO:" + the first line, ends. Returns the session.
fn serve_one(
    listener: &TcpListener,
    cfg: &ServerConfig,
) -> (TlsSession, Result<Vec<u8>, TlsError>) {
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(_) if start.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("no connection from s_client: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let mut s = TlsSession::server(cfg).unwrap();
    let mut done = false;
    let r = drive(&mut stream, &mut s, |_, plain| {
        if done || !plain.contains(&b'\n') {
            return None;
        }
        done = true;
        Some(([b"ECHO:", plain].concat(), true))
    });
    (s, r)
}

fn s_client(port: u16, args: &[&str], dir: &Path, input: &[u8]) -> Peer {
    let mut child = Command::new("openssl")
        .arg("s_client")
        .args([
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-quiet",
            "-verify_return_error",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    Peer(child)
}

/// s_client's stdout and stderr once it exits (killed at the deadline).
fn finish(mut peer: Peer) -> (String, String) {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if peer.0.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = peer.0.kill();
    let mut out = String::new();
    let mut err = String::new();
    peer.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    peer.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out, err)
}

#[test]
fn openssl_s_client_against_our_server() {
    if openssl_missing("openssl_s_client_against_our_server") {
        return;
    }
    let ca = ca("Interop Root");
    let srv = leaf(&ca, &["localhost"]);
    let client = leaf(&ca, &["interop-client"]);
    let dir = Dir::new("s_client");
    dir.file("ca.pem", &ca.pem);
    dir.file("client.pem", &client.cert);
    dir.file("client.key", &client.key);
    let cfg = ServerConfig::new(&ServerOptions {
        cert: srv.cert.as_bytes(),
        key: srv.key.as_bytes(),
        alpn_protocols: vec![b"h2".to_vec()],
        ..Default::default()
    })
    .unwrap();

    // 40 KiB line: more than two records each way
    let line = [
        pattern(40 * 1024, 7)
            .iter()
            .map(|b| b'a' + b % 26)
            .collect::<Vec<u8>>(),
        b"\n".to_vec(),
    ]
    .concat();
    for (extra, want) in [(&[][..], "TLSv1.3"), (&["-tls1_2"][..], "TLSv1.2")] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut args = vec![
            "-CAfile",
            "ca.pem",
            "-servername",
            "localhost",
            "-verify_hostname",
            "localhost",
            "-alpn",
            "h2",
        ];
        args.extend_from_slice(extra);
        let peer = s_client(port, &args, &dir.0, &line);
        let (s, r) = serve_one(&listener, &cfg);
        let got = r.unwrap();
        let (out, err) = finish(peer);
        assert_eq!(got, line, "what s_client sent; its stderr: {err}");
        assert_eq!(
            out.as_bytes(),
            [b"ECHO:", &line[..]].concat(),
            "stderr: {err}"
        );
        assert_eq!(s.protocol(), Some(want));
        assert_eq!(s.alpn_protocol(), Some(&b"h2"[..]));
    }

    // requestCert: s_client's certificate is verified and named
    let mtls = ServerConfig::new(&ServerOptions {
        cert: srv.cert.as_bytes(),
        key: srv.key.as_bytes(),
        ca: Some(ca.pem.as_bytes()),
        request_cert: true,
        ..Default::default()
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = s_client(
        port,
        &[
            "-CAfile",
            "ca.pem",
            "-servername",
            "localhost",
            "-cert",
            "client.pem",
            "-key",
            "client.key",
        ],
        &dir.0,
        b"hi\n",
    );
    let (s, r) = serve_one(&listener, &mtls);
    r.unwrap();
    let (out, err) = finish(peer);
    assert_eq!(out, "ECHO:hi\n", "stderr: {err}");
    assert!(s.authorized(), "{:?}", s.authorization_error());
    assert_eq!(
        s.peer_certificate().unwrap().subject.get("CN"),
        Some("interop-client")
    );

    // s_client refuses our server when it does not trust it (its CA is not ours)
    let other = self::ca("Other Root");
    dir.file("other.pem", &other.pem);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = s_client(
        port,
        &["-CAfile", "other.pem", "-servername", "localhost"],
        &dir.0,
        b"hi\n",
    );
    let (_, r) = serve_one(&listener, &cfg);
    let e = r.unwrap_err();
    assert_eq!(e.code(), "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "{e}");
    let (out, _) = finish(peer);
    assert!(out.is_empty());
}
