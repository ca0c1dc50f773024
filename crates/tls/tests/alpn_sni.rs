//! ALPN negotiation (node's outcomes and codes) and SNI choosing the certificate by name.

mod common;

use common::*;
use zerosock_tls::{ClientConfig, ClientOptions, ServerConfig, ServerOptions, SniContext};

fn protos(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|p| p.as_bytes().to_vec()).collect()
}

fn alpn_pair(
    ca: &Ca,
    srv: &Pem,
    server: &[&str],
    client: &[&str],
) -> (Pair, Result<(), (Side, zerosock_tls::TlsError)>) {
    let s = ServerConfig::new(&ServerOptions {
        cert: srv.cert.as_bytes(),
        key: srv.key.as_bytes(),
        alpn_protocols: protos(server),
        ..Default::default()
    })
    .unwrap();
    let c = ClientConfig::new(&ClientOptions {
        ca: Some(ca.pem.as_bytes()),
        alpn_protocols: protos(client),
        ..Default::default()
    })
    .unwrap();
    pair(&c, "localhost", &s)
}

#[test]
fn alpn() {
    let ca = ca("Root");
    let srv = leaf(&ca, &["localhost"]);
    // the server's preference wins among what the client offers
    let (p, r) = alpn_pair(&ca, &srv, &["h2", "http/1.1"], &["http/1.1", "h2"]);
    r.unwrap();
    assert_eq!(p.c.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(p.s.alpn_protocol(), Some(&b"h2"[..]));
    // one side without ALPN: none (node's alpnProtocol === false)
    let (p, r) = alpn_pair(&ca, &srv, &["h2"], &[]);
    r.unwrap();
    assert_eq!(p.c.alpn_protocol(), None);
    let (p, r) = alpn_pair(&ca, &srv, &[], &["h2"]);
    r.unwrap();
    assert_eq!(p.s.alpn_protocol(), None);
    // nothing in common: fatal on both sides with node 20's codes
    let (p, r) = alpn_pair(&ca, &srv, &["h2"], &["http/1.1"]);
    let (side, e) = r.unwrap_err();
    assert_eq!(
        (side, e.code()),
        (Side::Server, "ERR_SSL_NO_APPLICATION_PROTOCOL")
    );
    assert_eq!(
        p.c.error().map(|e| e.code()),
        Some("ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL")
    );
}

#[test]
fn sni_chooses_the_certificate() {
    let ca = ca("Root");
    let default = leaf(&ca, &["default.test"]);
    let a = leaf(&ca, &["a.test"]);
    let b = leaf(&ca, &["b.test"]);
    let wild = leaf(&ca, &["*.w.test"]);
    let s = ServerConfig::new(&ServerOptions {
        cert: default.cert.as_bytes(),
        key: default.key.as_bytes(),
        sni: vec![
            SniContext {
                servername: "a.test",
                cert: a.cert.as_bytes(),
                key: a.key.as_bytes(),
            },
            SniContext {
                servername: "B.Test",
                cert: b.cert.as_bytes(),
                key: b.key.as_bytes(),
            },
            SniContext {
                servername: "*.w.test",
                cert: wild.cert.as_bytes(),
                key: wild.key.as_bytes(),
            },
        ],
        ..Default::default()
    })
    .unwrap();
    let c = client_config(&ca.pem);
    for (name, cn) in [
        ("a.test", "a.test"),
        ("b.test", "b.test"),
        ("x.w.test", "*.w.test"),
        ("other.test", "default.test"),
        ("deep.x.w.test", "default.test"),
    ] {
        let (p, _) = pair(&c, name, &s);
        let cert = p.c.peer_certificate().unwrap();
        assert_eq!(cert.subject.get("CN"), Some(cn), "SNI {name}");
        // the chosen certificate verifies for its name; the default one does not for others
        assert_eq!(
            p.c.authorized(),
            name == cn || cn.starts_with('*') || name == "default.test",
            "{name}"
        );
    }
    // an IP sends no SNI: the default
    let (p, _) = pair(&c, "127.0.0.1", &s);
    assert_eq!(
        p.c.peer_certificate().unwrap().subject.get("CN"),
        Some("default.test")
    );

    // SNI contexts only, no default: an unknown name fails the handshake
    let only = ServerConfig::new(&ServerOptions {
        sni: vec![SniContext {
            servername: "a.test",
            cert: a.cert.as_bytes(),
            key: a.key.as_bytes(),
        }],
        ..Default::default()
    })
    .unwrap();
    let (p, r) = pair(&c, "a.test", &only);
    r.unwrap();
    assert!(p.c.authorized());
    let (_, r) = pair(&c, "zzz.test", &only);
    assert!(r.is_err());
}
