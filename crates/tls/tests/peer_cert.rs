//! getPeerCertificate()'s fields in node:tls's formats, checked against what `openssl x509`
//! prints for the same certificate where openssl is installed.

mod common;

use std::process::Command;

use common::*;
use rcgen::{date_time_ymd, DnType, SanType};

#[test]
fn fields_in_nodes_formats() {
    let ca = ca("Test Root");
    let mut p = leaf_params(&["localhost", "127.0.0.1", "::1"]);
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "Edge, West");
    p.subject_alt_names
        .push(SanType::Rfc822Name("ops@example.com".try_into().unwrap()));
    p.subject_alt_names
        .push(SanType::URI("https://example.com/x".try_into().unwrap()));
    p.not_before = date_time_ymd(2026, 1, 1);
    p.not_after = date_time_ymd(2036, 3, 9);
    let srv = signed(&ca.issuer, p);
    let (p, r) = pair(&client_config(&ca.pem), "localhost", &server_config(&srv));
    r.unwrap();
    let cert = p.c.peer_certificate().unwrap();

    assert_eq!(cert.subject.get("CN"), Some("localhost"));
    assert_eq!(cert.subject.get("O"), Some("zerosock test"));
    assert_eq!(cert.subject.get("C"), Some("NL"));
    assert_eq!(cert.subject.get("OU"), Some("Edge, West"));
    assert_eq!(cert.issuer.get("CN"), Some("Test Root"));
    assert_eq!(
        cert.subjectaltname.as_deref(),
        Some("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, email:ops@example.com, URI:https://example.com/x")
    );
    assert_eq!(cert.valid_from, "Jan  1 00:00:00 2026 GMT");
    assert_eq!(cert.valid_to, "Mar  9 00:00:00 2036 GMT");
    assert!(!cert.ca);
    let hex_colon = |s: &str, bytes: usize| {
        s.len() == bytes * 3 - 1
            && s.split(':').all(|b| {
                b.len() == 2
                    && b.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
            })
    };
    assert!(hex_colon(&cert.fingerprint, 20), "{}", cert.fingerprint);
    assert!(
        hex_colon(&cert.fingerprint256, 32),
        "{}",
        cert.fingerprint256
    );
    assert!(hex_colon(&cert.fingerprint512, 64));
    assert!(cert
        .serial_number
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));

    // the same certificate through openssl
    if Command::new("openssl").arg("version").output().is_err() {
        println!("SKIP openssl comparison: `openssl` is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("zerosock-tls-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("leaf.pem");
    std::fs::write(&path, &srv.cert).unwrap();
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-serial",
            "-startdate",
            "-enddate",
            "-in",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        text.contains(&format!("Fingerprint={}", cert.fingerprint256)),
        "{text}"
    );
    // openssl keeps a leading 0 nibble pair only when needed, as node does
    assert!(
        text.contains(&format!("serial={}", cert.serial_number)),
        "{text}"
    );
    assert!(
        text.contains(&format!("notBefore={}", cert.valid_from)),
        "{text}"
    );
    assert!(
        text.contains(&format!("notAfter={}", cert.valid_to)),
        "{text}"
    );
}

#[test]
fn a_ca_certificate_says_so() {
    let ss = self_signed(&["localhost"]);
    let root = ca("Root");
    let (p, _) = pair(&client_config(&ss.cert), "localhost", &server_config(&ss));
    assert!(!p.c.peer_certificate().unwrap().ca);
    let chain = Pem {
        cert: format!("{}{}", leaf(&root, &["localhost"]).cert, root.pem),
        key: String::new(),
    };
    // parse the chain's second certificate directly
    let ders = zerosock_tls::pem::certs(chain.cert.as_bytes(), "cert").unwrap();
    let ca_cert = zerosock_tls::PeerCertificate::from_der(&ders[1]).unwrap();
    assert!(ca_cert.ca);
    assert_eq!(ca_cert.subject, ca_cert.issuer);
}
