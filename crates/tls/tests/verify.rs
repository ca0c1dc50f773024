//! Peer verification gives node:tls's codes, with rejectUnauthorized on (the session fails)
//! and off (it goes on, authorized = false, authorizationError = the code); client
//! certificates (requestCert); config errors from bad PEM.

mod common;

use common::*;
use rcgen::date_time_ymd;
use zerosock_tls::{ClientConfig, ClientOptions, ServerConfig, ServerOptions, TlsSession};

/// The code a client gets against `server` (chain PEM + key), trusting `ca` (None: webpki
/// roots), for `name`: with rejectUnauthorized (the error) and without (authorizationError).
fn codes(ca: Option<&str>, server: &Pem, name: &str) -> (Option<String>, Option<String>) {
    let s = server_config(server);
    let strict = ClientConfig::new(&ClientOptions {
        ca: ca.map(str::as_bytes),
        ..Default::default()
    })
    .unwrap();
    let (p, r) = pair(&strict, name, &s);
    let strict_code = match r {
        Ok(()) => {
            assert!(p.c.authorized());
            None
        }
        Err((side, e)) => {
            assert_eq!(side, Side::Client);
            assert!(!p.c.authorized());
            Some(e.code().to_string())
        }
    };
    let lax = ClientConfig::new(&ClientOptions {
        ca: ca.map(str::as_bytes),
        reject_unauthorized: false,
        ..Default::default()
    })
    .unwrap();
    let (mut p, r) = pair(&lax, name, &s);
    r.expect("rejectUnauthorized: false goes on");
    assert_eq!(p.c.authorized(), p.c.authorization_error().is_none());
    // and data flows
    p.client_send(&[b"ping"]);
    assert_eq!(p.s_plain, b"ping");
    (
        strict_code,
        p.c.authorization_error().map(|e| e.code().to_string()),
    )
}

fn both(code: &str) -> (Option<String>, Option<String>) {
    (Some(code.to_string()), Some(code.to_string()))
}

#[test]
fn trusted_chain_verifies() {
    let ca = ca("Root");
    assert_eq!(
        codes(Some(&ca.pem), &leaf(&ca, &["localhost"]), "localhost"),
        (None, None)
    );
    // through an intermediate the server sends
    let mid = intermediate(&ca, "Intermediate");
    let l = leaf(&mid, &["localhost"]);
    let chain = Pem {
        cert: format!("{}{}", l.cert, mid.pem),
        key: l.key,
    };
    assert_eq!(codes(Some(&ca.pem), &chain, "localhost"), (None, None));
    // a self-signed certificate given as `ca` is trusted (node's common test setup)
    let ss = self_signed(&["localhost"]);
    assert_eq!(codes(Some(&ss.cert), &ss, "localhost"), (None, None));
}

#[test]
fn self_signed_leaf_is_depth_zero() {
    let ss = self_signed(&["localhost"]);
    let other = ca("Somebody else");
    assert_eq!(
        codes(Some(&other.pem), &ss, "localhost"),
        both("DEPTH_ZERO_SELF_SIGNED_CERT")
    );
    // against the public roots too
    assert_eq!(
        codes(None, &ss, "localhost"),
        both("DEPTH_ZERO_SELF_SIGNED_CERT")
    );
}

#[test]
fn wrong_name_is_altname_invalid_with_nodes_message() {
    let ca = ca("Root");
    let l = leaf(&ca, &["localhost", "127.0.0.1"]);
    assert_eq!(
        codes(Some(&ca.pem), &l, "example.com"),
        both("ERR_TLS_CERT_ALTNAME_INVALID")
    );
    let cfg = ClientConfig::new(&ClientOptions {
        ca: Some(ca.pem.as_bytes()),
        reject_unauthorized: false,
        ..Default::default()
    })
    .unwrap();
    let (p, r) = pair(&cfg, "example.com", &server_config(&l));
    r.unwrap();
    assert_eq!(
        p.c.authorization_error().unwrap().message,
        "Hostname/IP does not match certificate's altnames: Host: example.com. is not in the cert's altnames: \
         DNS:localhost, IP Address:127.0.0.1"
    );
    let (p, r) = pair(&cfg, "10.1.2.3", &server_config(&l));
    r.unwrap();
    assert_eq!(
        p.c.authorization_error().unwrap().message,
        "Hostname/IP does not match certificate's altnames: IP: 10.1.2.3 is not in the cert's list: \
         DNS:localhost, IP Address:127.0.0.1"
    );
}

#[test]
fn expired_and_not_yet_valid() {
    let ca = ca("Root");
    let mut p = leaf_params(&["localhost"]);
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2021, 1, 1);
    let expired = signed(&ca.issuer, p);
    assert_eq!(
        codes(Some(&ca.pem), &expired, "localhost"),
        both("CERT_HAS_EXPIRED")
    );

    let mut p = leaf_params(&["localhost"]);
    p.not_before = date_time_ymd(2090, 1, 1);
    p.not_after = date_time_ymd(2091, 1, 1);
    let future = signed(&ca.issuer, p);
    assert_eq!(
        codes(Some(&ca.pem), &future, "localhost"),
        both("CERT_NOT_YET_VALID")
    );
}

#[test]
fn unknown_issuer_codes_follow_the_sent_chain() {
    let unknown = ca("Unknown root");
    let trusted = ca("Trusted root");
    // the leaf alone, its CA not trusted
    let l = leaf(&unknown, &["localhost"]);
    assert_eq!(
        codes(Some(&trusted.pem), &l, "localhost"),
        both("UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    );
    // leaf + the untrusted self-signed root
    let with_root = Pem {
        cert: format!("{}{}", l.cert, unknown.pem),
        key: l.key.clone(),
    };
    assert_eq!(
        codes(Some(&trusted.pem), &with_root, "localhost"),
        both("SELF_SIGNED_CERT_IN_CHAIN")
    );
    // leaf + intermediate, the root neither sent nor trusted
    let mid = intermediate(&unknown, "Unknown intermediate");
    let l2 = leaf(&mid, &["localhost"]);
    let with_mid = Pem {
        cert: format!("{}{}", l2.cert, mid.pem),
        key: l2.key,
    };
    assert_eq!(
        codes(Some(&trusted.pem), &with_mid, "localhost"),
        both("UNABLE_TO_GET_ISSUER_CERT_LOCALLY")
    );
}

#[test]
fn the_error_message_is_openssls() {
    let ss = self_signed(&["localhost"]);
    let (_, r) = pair(
        &client_config(&ca("x").pem),
        "localhost",
        &server_config(&ss),
    );
    let (_, e) = r.unwrap_err();
    assert_eq!(e.to_string(), "self-signed certificate");
}

fn mtls_server(ca: &Ca, srv: &Pem, reject: bool) -> ServerConfig {
    ServerConfig::new(&ServerOptions {
        cert: srv.cert.as_bytes(),
        key: srv.key.as_bytes(),
        ca: Some(ca.pem.as_bytes()),
        request_cert: true,
        reject_unauthorized: reject,
        ..Default::default()
    })
    .unwrap()
}

fn client_with_cert(ca: &Ca, cert: Option<&Pem>) -> ClientConfig {
    ClientConfig::new(&ClientOptions {
        ca: Some(ca.pem.as_bytes()),
        cert: cert.map(|c| c.cert.as_bytes()),
        key: cert.map(|c| c.key.as_bytes()),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn client_certificates() {
    let ca = ca("Root");
    let srv = leaf(&ca, &["localhost"]);
    let good = leaf(&ca, &["client-a"]);
    let stranger = self_signed(&["client-b"]);

    // a good client certificate: authorized on the server, and the server sees who it is
    let (p, r) = pair(
        &client_with_cert(&ca, Some(&good)),
        "localhost",
        &mtls_server(&ca, &srv, true),
    );
    r.unwrap();
    assert!(p.s.authorized());
    assert_eq!(
        p.s.peer_certificate().unwrap().subject.get("CN"),
        Some("client-a")
    );

    // rejectUnauthorized: false records the code
    let (p, r) = pair(
        &client_with_cert(&ca, Some(&stranger)),
        "localhost",
        &mtls_server(&ca, &srv, false),
    );
    r.unwrap();
    assert!(!p.s.authorized());
    assert_eq!(
        p.s.authorization_error().unwrap().code(),
        "DEPTH_ZERO_SELF_SIGNED_CERT"
    );
    let (p, r) = pair(
        &client_with_cert(&ca, None),
        "localhost",
        &mtls_server(&ca, &srv, false),
    );
    r.unwrap();
    assert_eq!(
        p.s.authorization_error().unwrap().code(),
        "UNABLE_TO_GET_ISSUER_CERT"
    );

    // rejectUnauthorized: true refuses both
    let (_, r) = pair(
        &client_with_cert(&ca, Some(&stranger)),
        "localhost",
        &mtls_server(&ca, &srv, true),
    );
    let (side, e) = r.unwrap_err();
    assert_eq!(
        (side, e.code()),
        (Side::Server, "DEPTH_ZERO_SELF_SIGNED_CERT")
    );
    let (_, r) = pair(
        &client_with_cert(&ca, None),
        "localhost",
        &mtls_server(&ca, &srv, true),
    );
    let (side, e) = r.unwrap_err();
    assert_eq!(
        (side, e.code()),
        (Side::Server, "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE")
    );
}

#[test]
fn no_plaintext_crosses_an_unverified_handshake() {
    // the client wrote before the handshake; the server is not trusted: nothing is sent
    let ss = self_signed(&["localhost"]);
    let mut c = TlsSession::client(&client_config(&ca("x").pem), "localhost").unwrap();
    let mut hello = Vec::new();
    c.write_plaintext_vec(&[b"secret"], &mut hello).unwrap();
    let mut p = Pair::new(c, TlsSession::server(&server_config(&ss)).unwrap());
    p.s.read_tls_vec(&mut hello, &mut Vec::new()).unwrap();
    let (side, _) = p.run().unwrap_err();
    assert_eq!(side, Side::Client);
    assert!(p.s_plain.is_empty());
    assert!(p
        .c
        .write_plaintext_vec(&[b"more"], &mut Vec::new())
        .is_err());
}

#[test]
fn config_errors_have_nodes_codes() {
    let ss = self_signed(&["localhost"]);
    let other = self_signed(&["other"]);
    let e = |o: ServerOptions<'_>| ServerConfig::new(&o).unwrap_err().code();
    assert_eq!(
        e(ServerOptions {
            cert: b"garbage",
            key: ss.key.as_bytes(),
            ..Default::default()
        }),
        "ERR_OSSL_PEM_NO_START_LINE"
    );
    assert_eq!(
        e(ServerOptions {
            cert: ss.cert.as_bytes(),
            key: b"garbage",
            ..Default::default()
        }),
        "ERR_OSSL_UNSUPPORTED"
    );
    assert_eq!(
        e(ServerOptions {
            cert: ss.cert.as_bytes(),
            key: other.key.as_bytes(),
            ..Default::default()
        }),
        "ERR_OSSL_X509_KEY_VALUES_MISMATCH"
    );
    assert_eq!(e(ServerOptions::default()), "ERR_INVALID_ARG_VALUE");
    assert_eq!(
        e(ServerOptions {
            cert: ss.cert.as_bytes(),
            key: ss.key.as_bytes(),
            alpn_protocols: vec![vec![]],
            ..Default::default()
        }),
        "ERR_INVALID_ARG_VALUE"
    );
    let ce = ClientConfig::new(&ClientOptions {
        ca: Some(b"not a pem"),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(ce.code(), "ERR_OSSL_PEM_NO_START_LINE");
    // a truncated PEM block
    let cut = &ss.cert[..ss.cert.len() - 30];
    assert_eq!(
        ClientConfig::new(&ClientOptions {
            ca: Some(cut.as_bytes()),
            ..Default::default()
        })
        .unwrap_err()
        .code(),
        "ERR_OSSL_PEM_NO_START_LINE"
    );
    let bad_name = TlsSession::client(&client_config(&ss.cert), "not a name!").unwrap_err();
    assert_eq!(bad_name.code(), "ERR_INVALID_ARG_VALUE");
}

/// What `openssl req -x509` makes (basicConstraints CA:TRUE on the server's own certificate):
/// webpki refuses a CA certificate as a leaf, OpenSSL and so node:tls trust it when it is
/// given as `ca`, and call it self-signed otherwise.
#[test]
fn ca_flagged_self_signed_leaf_is_trusted_as_given() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = leaf_params(&["localhost", "127.0.0.1"]);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key).unwrap();
    let ss = Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    };
    assert_eq!(codes(Some(&ss.cert), &ss, "localhost"), (None, None));
    assert_eq!(codes(Some(&ss.cert), &ss, "127.0.0.1"), (None, None));
    // the names are still checked, and without `ca` it is self-signed
    let (strict, _) = codes(Some(&ss.cert), &ss, "other.example");
    assert_eq!(strict.as_deref(), Some("ERR_TLS_CERT_ALTNAME_INVALID"));
    let other = ca("Somebody else");
    assert_eq!(
        codes(Some(&other.pem), &ss, "localhost"),
        both("DEPTH_ZERO_SELF_SIGNED_CERT")
    );
}
