//! Test helpers: certificates made at test time (rcgen) and an in-memory client↔server pair.
#![allow(dead_code)]

use rcgen::{
    CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use zerosock_tls::{
    ClientConfig, ClientOptions, ServerConfig, ServerOptions, TlsError, TlsSession,
};

/// A certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

/// A CA that signs test certificates.
pub struct Ca {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
    pub pem: String,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "NL");
    dn.push(DnType::OrganizationName, "zerosock test");
    dn.push(DnType::CommonName, cn);
    dn
}

pub fn ca(cn: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
    let pem = issuer.pem();
    Ca { issuer, pem }
}

/// An intermediate CA signed by `parent`.
pub fn intermediate(parent: &Ca, cn: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer =
        CertifiedIssuer::signed_by(p, KeyPair::generate().unwrap(), &*parent.issuer).unwrap();
    let pem = issuer.pem();
    Ca { issuer, pem }
}

/// Leaf parameters for `names` (DNS names or IPs), CN = first name.
pub fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = dn(names.first().copied().unwrap_or("leaf"));
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p
}

pub fn signed(issuer: &Issuer<'_, KeyPair>, p: CertificateParams) -> Pem {
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

pub fn leaf(ca: &Ca, names: &[&str]) -> Pem {
    signed(&ca.issuer, leaf_params(names))
}

pub fn self_signed(names: &[&str]) -> Pem {
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params(names).self_signed(&key).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

pub fn server_config(pem: &Pem) -> ServerConfig {
    ServerConfig::new(&ServerOptions {
        cert: pem.cert.as_bytes(),
        key: pem.key.as_bytes(),
        ..Default::default()
    })
    .unwrap()
}

pub fn client_config(ca: &str) -> ClientConfig {
    ClientConfig::new(&ClientOptions {
        ca: Some(ca.as_bytes()),
        ..Default::default()
    })
    .unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// A client and a server session joined in memory.
pub struct Pair {
    pub c: TlsSession,
    pub s: TlsSession,
    /// Plaintext each side received.
    pub c_plain: Vec<u8>,
    pub s_plain: Vec<u8>,
    /// Ciphertext each side sent, all of it (for counting records).
    pub c_wire: Vec<u8>,
    pub s_wire: Vec<u8>,
}

impl Pair {
    pub fn new(c: TlsSession, s: TlsSession) -> Self {
        Self {
            c,
            s,
            c_plain: Vec::new(),
            s_plain: Vec::new(),
            c_wire: Vec::new(),
            s_wire: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has any to send (bounded). The first error
    /// is returned with its side, after the other side got what was sent (an alert).
    pub fn run(&mut self) -> Result<(), (Side, TlsError)> {
        let mut first_err = None;
        for _ in 0..64 {
            let mut moved = false;
            let mut buf = Vec::new();
            self.c.write_tls_vec(&mut buf);
            if !buf.is_empty() {
                moved = true;
                self.c_wire.extend_from_slice(&buf);
                if let Err(e) = self.s.read_tls_vec(&mut buf, &mut self.s_plain) {
                    first_err.get_or_insert((Side::Server, e));
                }
            }
            let mut buf = Vec::new();
            self.s.write_tls_vec(&mut buf);
            if !buf.is_empty() {
                moved = true;
                self.s_wire.extend_from_slice(&buf);
                if let Err(e) = self.c.read_tls_vec(&mut buf, &mut self.c_plain) {
                    first_err.get_or_insert((Side::Client, e));
                }
            }
            if !moved {
                return match first_err {
                    Some(e) => Err(e),
                    None => Ok(()),
                };
            }
        }
        panic!("the pair did not go quiet in 64 rounds");
    }

    /// Client → server: the ciphertext of one batch, delivered.
    pub fn client_send(&mut self, batch: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        self.c.write_plaintext_vec(batch, &mut wire).unwrap();
        self.c_wire.extend_from_slice(&wire);
        let mut copy = wire.clone();
        self.s.read_tls_vec(&mut copy, &mut self.s_plain).unwrap();
        wire
    }
}

/// A client for `name` against a server, handshaken in memory.
pub fn pair(
    client: &ClientConfig,
    name: &str,
    server: &ServerConfig,
) -> (Pair, Result<(), (Side, TlsError)>) {
    let c = TlsSession::client(client, name).unwrap();
    let s = TlsSession::server(server).unwrap();
    let mut p = Pair::new(c, s);
    let r = p.run();
    (p, r)
}

/// Deterministic bytes.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
