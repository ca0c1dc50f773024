//! Target `tls_records`: what a TLS peer sends a server session. The input is split into
//! receives of arbitrary sizes; each is handed to `TlsSession::read_tls` as the engine does
//! (decrypted in place in its buffer, plaintext into a caller buffer of arbitrary size). Half
//! of the inputs start with a real ClientHello (from a client session) so records past it are
//! reached; the rest are raw bytes.
//!
//! Must hold: no panic for any bytes and any cut; after an error the session stays failed
//! (a later read errors too, never hands out plaintext) and what it queues for the peer is a
//! bounded alert; plaintext handed out is never more than room was given for.

use arbitrary::{Result, Unstructured};
use std::sync::OnceLock;
use zerosock_tls::{ClientConfig, ClientOptions, ServerConfig, ServerOptions, TlsSession};

/// A self-signed P-256 certificate and key for `localhost` (made for this target only; the
/// fuzzer never verifies it).
const CERT: &str = include_str!("tls_cert.pem");
const KEY: &str = include_str!("tls_key.pem");

fn configs() -> &'static (ServerConfig, ClientConfig) {
    static C: OnceLock<(ServerConfig, ClientConfig)> = OnceLock::new();
    C.get_or_init(|| {
        let server = ServerConfig::new(&ServerOptions {
            cert: CERT.as_bytes(),
            key: KEY.as_bytes(),
            ..Default::default()
        })
        .expect("fuzz server config");
        let client = ClientConfig::new(&ClientOptions {
            reject_unauthorized: false,
            ..Default::default()
        })
        .expect("fuzz client config");
        (server, client)
    })
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let _ = one(&mut Unstructured::new(data));
}

fn one(u: &mut Unstructured<'_>) -> Result<()> {
    let (server, client) = configs();
    let mut s = TlsSession::server(server).expect("server session");
    let mut stream: Vec<u8> = Vec::new();
    if u.arbitrary::<bool>()? {
        let mut c = TlsSession::client(client, "localhost").expect("client session");
        c.write_tls_vec(&mut stream);
    }
    stream.extend_from_slice(u.bytes(u.len().min(8192))?);
    let mut at = 0;
    let mut failed = false;
    while at < stream.len() {
        let cut = u
            .int_in_range(1..=stream.len() - at)
            .unwrap_or(stream.len() - at);
        let room = u.int_in_range(0usize..=20_000).unwrap_or(16_384);
        let mut incoming = stream[at..at + cut].to_vec();
        let mut plain = vec![0u8; room];
        at += cut;
        match s.read_tls(&mut incoming, &mut plain) {
            Ok(o) => {
                assert!(!failed, "a failed session read again without an error");
                assert!(o.plaintext <= room, "more plaintext than room");
            }
            Err(_) => {
                failed = true;
                let mut out = Vec::new();
                s.write_tls_vec(&mut out);
                assert!(out.len() <= 64, "an alert, not {} bytes", out.len());
            }
        }
        let mut out = Vec::new();
        s.write_tls_vec(&mut out);
    }
    Ok(())
}
