//! PEM in, DER out (rustls-pki-types' PEM reader), with node:tls's error codes.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// Every certificate in `pem`, in order (a chain: leaf first). `what` names the option in
/// errors. No certificate at all is an error, as in node:tls.
pub fn certs(pem: &[u8], what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(pem) {
        out.push(c.map_err(|e| TlsError::BadPem {
            what,
            reason: e.to_string(),
        })?);
    }
    if out.is_empty() {
        return Err(TlsError::BadPem {
            what,
            reason: "no PEM certificate (no start line)".into(),
        });
    }
    Ok(out)
}

/// The first private key in `pem` (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::UnsupportedKey(
            "no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)".into(),
        ),
        e => TlsError::UnsupportedKey(e.to_string()),
    })
}
