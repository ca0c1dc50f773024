//! Criterion-free benchmark of the provider this build uses:
//! `cargo bench -p zerosock-tls` (ring) or
//! `cargo bench -p zerosock-tls --no-default-features --features aws-lc-rs`.
//!
//! Prints encrypt and decrypt MB/s of 16 KiB records (TlsSession on caller buffers, in memory),
//! the cost of one flush of 1000 × 64 B messages batched versus written one by one, and full
//! handshakes/s (client + server, in memory) with ECDSA P-256 and, when `openssl` can make
//! the key, RSA-2048 certificates. TLS_BENCH_MB and TLS_BENCH_HANDSHAKES size the runs.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use rcgen::{CertificateParams, KeyPair};
use zerosock_tls::{
    ClientConfig, ClientOptions, ServerConfig, ServerOptions, TlsSession, PROVIDER_NAME,
};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Certs {
    cert: String,
    key: String,
}

fn certs(key: KeyPair) -> Certs {
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Certs {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn rsa_key() -> Option<KeyPair> {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .ok()?;
    KeyPair::from_pem(std::str::from_utf8(&out.stdout).ok()?).ok()
}

fn configs(c: &Certs) -> (ClientConfig, ServerConfig) {
    let client = ClientConfig::new(&ClientOptions {
        ca: Some(c.cert.as_bytes()),
        ..Default::default()
    })
    .unwrap();
    let server = ServerConfig::new(&ServerOptions {
        cert: c.cert.as_bytes(),
        key: c.key.as_bytes(),
        ..Default::default()
    })
    .unwrap();
    (client, server)
}

fn handshake(client: &ClientConfig, server: &ServerConfig) -> (TlsSession, TlsSession) {
    let mut c = TlsSession::client(client, "localhost").unwrap();
    let mut s = TlsSession::server(server).unwrap();
    let mut buf = Vec::new();
    let mut sink = Vec::new();
    for _ in 0..16 {
        buf.clear();
        c.write_tls_vec(&mut buf);
        let a = !buf.is_empty();
        s.read_tls_vec(&mut buf, &mut sink).unwrap();
        buf.clear();
        s.write_tls_vec(&mut buf);
        let b = !buf.is_empty();
        c.read_tls_vec(&mut buf, &mut sink).unwrap();
        if !a && !b {
            break;
        }
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
    (c, s)
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let mb = env("TLS_BENCH_MB", 512);
    let handshakes = env("TLS_BENCH_HANDSHAKES", 2000);
    println!("provider: {PROVIDER_NAME}");

    let ec = certs(KeyPair::generate().unwrap());
    let (client, server) = configs(&ec);
    let (mut c, mut s) = handshake(&client, &server);
    println!(
        "suite: {} ({})",
        c.cipher_suite().unwrap(),
        c.protocol().unwrap()
    );

    // 16 KiB records: encrypt into a reused buffer, decrypt in place into a reused buffer
    let record = vec![0x5au8; 16 * 1024];
    let mut wire = vec![0u8; c.ciphertext_len_bound(record.len())];
    let mut plain = vec![0u8; 16 * 1024];
    let n = mb * 1024 * 1024 / record.len();
    for _ in 0..200 {
        let w = c.write_plaintext(&[&record], &mut wire).unwrap();
        s.read_tls(&mut wire[..w], &mut plain).unwrap();
    }
    let (mut enc, mut dec) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..n {
        let t0 = Instant::now();
        let w = c.write_plaintext(&[&record], &mut wire).unwrap();
        let t1 = Instant::now();
        let r = s.read_tls(&mut wire[..w], &mut plain).unwrap();
        let t2 = Instant::now();
        assert_eq!(r.plaintext, record.len());
        enc += t1 - t0;
        dec += t2 - t1;
    }
    let bytes = n * record.len();
    println!(
        "16 KiB records: encrypt {:.0} MB/s, decrypt {:.0} MB/s, both {:.0} MB/s ({} MiB)",
        mbps(bytes, enc),
        mbps(bytes, dec),
        mbps(bytes, enc + dec),
        mb
    );

    // one flush of 1000 × 64 B: batched (4 records) vs one write per message (1000 records)
    let msgs: Vec<Vec<u8>> = (0..1000).map(|i| vec![i as u8; 64]).collect();
    let batch: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    let mut out = vec![0u8; c.ciphertext_len_bound(64 * 1000) + 1000 * 64];
    let flushes = 2000;
    let t = Instant::now();
    let mut wire_bytes = 0;
    for _ in 0..flushes {
        let w = c.write_plaintext(&batch, &mut out).unwrap();
        wire_bytes = w;
        black_box(&out[..w]);
    }
    let batched = t.elapsed() / flushes;
    let t = Instant::now();
    let mut one_by_one_bytes = 0;
    for _ in 0..flushes {
        let mut off = 0;
        for m in &batch {
            off += c.write_plaintext(&[m], &mut out[off..]).unwrap();
        }
        one_by_one_bytes = off;
        black_box(&out[..off]);
    }
    let single = t.elapsed() / flushes;
    println!(
        "flush of 1000 x 64 B: batched {:.1} us ({} wire bytes), one record per message {:.1} us ({} wire bytes): {:.1}x",
        batched.as_secs_f64() * 1e6,
        wire_bytes,
        single.as_secs_f64() * 1e6,
        one_by_one_bytes,
        single.as_secs_f64() / batched.as_secs_f64()
    );

    // full handshakes (both sides' CPU), no resumption
    let mut kinds = vec![("ECDSA P-256", ec)];
    match rsa_key() {
        Some(k) => kinds.push(("RSA-2048", certs(k))),
        None => println!("RSA-2048 handshakes: skipped (openssl could not make a key)"),
    }
    for (name, certs) in &kinds {
        let (client, server) = configs(certs);
        for _ in 0..20 {
            handshake(&client, &server);
        }
        let count = if *name == "RSA-2048" {
            handshakes / 4
        } else {
            handshakes
        };
        let t = Instant::now();
        for _ in 0..count {
            black_box(handshake(&client, &server));
        }
        let d = t.elapsed();
        println!(
            "handshakes, {name}: {:.0}/s (client + server in one thread, {count} in {:.2} s)",
            count as f64 / d.as_secs_f64(),
            d.as_secs_f64()
        );
    }
}
