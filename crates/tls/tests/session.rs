//! TlsSession in memory: handshake, data both ways, one record per 16 KiB of a flush, cut
//! records, small output buffers, writes before the handshake, close_notify.

mod common;

use common::*;
use zerosock_tls::records::{self, MAX_RECORD_PLAINTEXT};
use zerosock_tls::TlsSession;

fn app_records(wire: &[u8]) -> Vec<usize> {
    records::headers(wire)
        .filter(|h| h.content_type == 23)
        .map(|h| h.len)
        .collect()
}

#[test]
fn handshake_and_data_both_ways() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost", "127.0.0.1"]);
    let (mut p, r) = pair(&client_config(&ca.pem), "localhost", &server_config(&srv));
    r.unwrap();
    assert!(!p.c.is_handshaking() && !p.s.is_handshaking());
    assert!(p.c.authorized(), "{:?}", p.c.authorization_error());
    assert_eq!(p.c.authorization_error(), None);
    assert!(
        !p.s.authorized(),
        "a server without requestCert is not authorized (node)"
    );
    assert_eq!(p.c.protocol(), Some("TLSv1.3"));
    assert_eq!(p.s.protocol(), Some("TLSv1.3"));
    assert!(p.c.cipher_suite().unwrap().starts_with("TLS13_"));

    p.client_send(&[b"hello ", b"server"]);
    assert_eq!(p.s_plain, b"hello server");

    let mut wire = Vec::new();
    p.s.write_plaintext_vec(&[b"hello client"], &mut wire)
        .unwrap();
    p.c.read_tls_vec(&mut wire, &mut p.c_plain).unwrap();
    assert_eq!(p.c_plain, b"hello client");

    // an IP servername verifies against the IP SAN
    let (p, r) = pair(&client_config(&ca.pem), "127.0.0.1", &server_config(&srv));
    r.unwrap();
    assert!(p.c.authorized());
}

#[test]
fn one_record_per_16k_of_a_flush() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let (mut p, r) = pair(&client_config(&ca.pem), "localhost", &server_config(&srv));
    r.unwrap();

    // 1000 messages of 64 bytes, one flush: ⌈64 000 / 16 384⌉ = 4 records, not 1000
    let msgs: Vec<Vec<u8>> = (0..1000).map(|i| pattern(64, i as u8)).collect();
    let batch: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    let wire = p.client_send(&batch);
    let recs = app_records(&wire);
    assert_eq!(recs.len(), 4, "records: {recs:?}");
    assert_eq!(
        records::headers(&wire).count(),
        4,
        "nothing but the data records"
    );
    assert_eq!(p.s_plain, msgs.concat());

    // a mix of small and large messages: still ⌈total / 16 KiB⌉
    p.s_plain.clear();
    let big1 = pattern(40 * 1024, 1);
    let big2 = pattern(20 * 1024, 2);
    let batch: [&[u8]; 5] = [b"0123456789", &big1, b"abcde", &big2, b"z"];
    let total: usize = batch.iter().map(|s| s.len()).sum();
    let wire = p.client_send(&batch);
    assert_eq!(
        app_records(&wire).len(),
        total.div_ceil(MAX_RECORD_PLAINTEXT)
    );
    assert_eq!(p.s_plain, batch.concat());

    // 16 KiB exactly is one record; one byte more is two
    for (n, want) in [
        (MAX_RECORD_PLAINTEXT, 1),
        (MAX_RECORD_PLAINTEXT + 1, 2),
        (1, 1),
    ] {
        let data = pattern(n, 3);
        let wire = p.client_send(&[&data]);
        assert_eq!(app_records(&wire).len(), want, "{n} bytes");
    }
    // an empty batch writes nothing
    let wire = p.client_send(&[b"", b""]);
    assert!(wire.is_empty());
}

#[test]
fn ciphertext_bound_holds_and_small_buffers_fail_cleanly() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let (mut p, r) = pair(&client_config(&ca.pem), "localhost", &server_config(&srv));
    r.unwrap();
    for n in [1usize, 100, 16 * 1024, 16 * 1024 + 1, 100_000] {
        let data = pattern(n, 9);
        let bound = p.c.ciphertext_len_bound(n);
        let mut out = vec![0u8; bound];
        let w = p.c.write_plaintext(&[&data], &mut out).unwrap();
        assert!(w <= bound);
        p.s.read_tls(&mut out[..w], &mut vec![0u8; n]).unwrap();
    }
    let mut small = [0u8; 10];
    let e = p.c.write_plaintext(&[b"hello"], &mut small).unwrap_err();
    assert_eq!(e.code(), "ERR_ZEROSOCK_TLS_BUFFER_TOO_SMALL");
    // the session is still usable
    p.client_send(&[b"after"]);
}

#[test]
fn records_cut_anywhere_and_small_plaintext_buffers() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let c = TlsSession::client(&client_config(&ca.pem), "localhost").unwrap();
    let s = TlsSession::server(&server_config(&srv)).unwrap();
    let (mut c, mut s) = (c, s);

    // the handshake, delivered in 7-byte pieces both ways
    fn deliver(from: &mut TlsSession, to: &mut TlsSession) -> bool {
        let mut wire = Vec::new();
        from.write_tls_vec(&mut wire);
        for piece in wire.chunks_mut(7) {
            let mut sink = Vec::new();
            to.read_tls_vec(piece, &mut sink).unwrap();
            assert!(sink.is_empty());
        }
        !wire.is_empty()
    }
    for _ in 0..32 {
        let moved = deliver(&mut c, &mut s) | deliver(&mut s, &mut c);
        if !moved {
            break;
        }
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());

    // 100 KiB in one flush, received in uneven pieces into a 1000-byte plaintext buffer
    let data = pattern(100 * 1024, 5);
    let mut wire = Vec::new();
    c.write_plaintext_vec(&[&data], &mut wire).unwrap();
    let mut got = Vec::new();
    let mut plain = [0u8; 1000];
    let sizes = [1usize, 4, 5, 6, 333, 16 * 1024 + 22, 9000, 1];
    let mut off = 0;
    let mut i = 0;
    while off < wire.len() {
        let n = sizes[i % sizes.len()].min(wire.len() - off);
        i += 1;
        let r = s.read_tls(&mut wire[off..off + n], &mut plain).unwrap();
        got.extend_from_slice(&plain[..r.plaintext]);
        while s.plaintext_len() > 0 {
            let k = s.read_plaintext(&mut plain);
            got.extend_from_slice(&plain[..k]);
        }
        off += n;
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data);
}

#[test]
fn writes_before_the_handshake_go_after_it() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let mut c = TlsSession::client(&client_config(&ca.pem), "localhost").unwrap();
    let s = TlsSession::server(&server_config(&srv)).unwrap();
    let mut out = vec![0u8; c.ciphertext_len_bound(5)];
    let n = c.write_plaintext(&[b"early"], &mut out).unwrap();
    // only the ClientHello so far
    assert!(records::headers(&out[..n]).all(|h| h.content_type == 22));
    let mut p = Pair::new(c, s);
    p.s.read_tls_vec(&mut out[..n], &mut Vec::new()).unwrap();
    p.run().unwrap();
    assert_eq!(p.s_plain, b"early");
}

#[test]
fn end_during_the_handshake_sends_the_early_writes_first() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let mut c = TlsSession::client(&client_config(&ca.pem), "localhost").unwrap();
    let s = TlsSession::server(&server_config(&srv)).unwrap();
    let mut first = Vec::new();
    c.write_plaintext_vec(&[b"early ", b"words"], &mut first)
        .unwrap();
    c.end().unwrap();
    let mut p = Pair::new(c, s);
    p.s.read_tls_vec(&mut first, &mut Vec::new()).unwrap();
    p.run().unwrap();
    assert_eq!(p.s_plain, b"early words");
    assert!(p.s.is_peer_closed(), "close_notify after the data");
}

#[test]
fn close_notify_both_ways() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let (mut p, r) = pair(&client_config(&ca.pem), "localhost", &server_config(&srv));
    r.unwrap();
    p.client_send(&[b"last words"]);
    p.c.end().unwrap();
    let mut wire = Vec::new();
    p.c.write_tls_vec(&mut wire);
    assert_eq!(
        records::headers(&wire).count(),
        1,
        "one close_notify record"
    );
    let r = p.s.read_tls_vec(&mut wire, &mut p.s_plain).unwrap();
    assert!(r.peer_closed);
    assert!(p.s.is_peer_closed());
    assert_eq!(p.s_plain, b"last words");
    // the server may still send, then ends too
    let mut wire = Vec::new();
    p.s.write_plaintext_vec(&[b"bye"], &mut wire).unwrap();
    p.s.end().unwrap();
    p.s.write_tls_vec(&mut wire);
    let r = p.c.read_tls_vec(&mut wire, &mut p.c_plain).unwrap();
    assert!(r.peer_closed);
    assert_eq!(p.c_plain, b"bye");
    assert!(p.c.is_closed() && p.s.is_closed());
    assert_eq!(
        p.c.write_plaintext_vec(&[b"x"], &mut Vec::new())
            .unwrap_err()
            .code(),
        "ERR_ZEROSOCK_TLS_CLOSED"
    );
}

#[test]
fn garbage_from_the_peer_is_a_protocol_error_with_an_alert() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let mut s = TlsSession::server(&server_config(&srv)).unwrap();
    let mut junk = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let e = s.read_tls_vec(&mut junk, &mut Vec::new()).unwrap_err();
    assert!(e.code().starts_with("ERR_"), "{}", e.code());
    assert!(s.error().is_some());
    // sticky
    assert!(s
        .read_tls_vec(&mut [22, 3, 3, 0, 0], &mut Vec::new())
        .is_err());
}

#[test]
fn a_handshake_message_over_several_records_in_small_pieces() {
    // ~700 names: the server's Certificate message is larger than one 16 KiB record, so
    // rustls joins it from several records while the bytes arrive in pieces
    let ca = ca("Test CA");
    let names: Vec<String> = (0..700)
        .map(|i| format!("host-{i:04}.a-rather-long-domain.example"))
        .collect();
    let mut all: Vec<&str> = vec!["localhost"];
    all.extend(names.iter().map(|s| s.as_str()));
    let srv = leaf(&ca, &all);
    let der = zerosock_tls::pem::certs(srv.cert.as_bytes(), "cert").unwrap();
    assert!(der[0].len() > MAX_RECORD_PLAINTEXT, "{}", der[0].len());
    for piece in [7usize, 1000, 5000, 16 * 1024 + 5] {
        let mut c = TlsSession::client(&client_config(&ca.pem), "localhost").unwrap();
        let mut s = TlsSession::server(&server_config(&srv)).unwrap();
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 32, "piece {piece}: no progress");
            let mut moved = false;
            let mut wire = Vec::new();
            c.write_tls_vec(&mut wire);
            moved |= !wire.is_empty();
            for p in wire.chunks_mut(piece) {
                s.read_tls_vec(p, &mut Vec::new()).unwrap();
            }
            let mut wire = Vec::new();
            s.write_tls_vec(&mut wire);
            moved |= !wire.is_empty();
            for p in wire.chunks_mut(piece) {
                c.read_tls_vec(p, &mut Vec::new()).unwrap();
            }
            if !moved {
                break;
            }
        }
        assert!(c.authorized(), "piece {piece}");
        let mut wire = Vec::new();
        c.write_plaintext_vec(&[b"after a big handshake"], &mut wire)
            .unwrap();
        let mut got = Vec::new();
        for p in wire.chunks_mut(3) {
            s.read_tls_vec(p, &mut got).unwrap();
        }
        assert_eq!(got, b"after a big handshake");
    }
}
