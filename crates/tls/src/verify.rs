//! Peer verification as node:tls does it: the handshake accepts any chain (the handshake
//! signature is still checked against the presented leaf key, so the peer holds its key), and
//! the chain is verified once, right after the handshake, by webpki. The result is
//! `authorized` / `authorizationError`; with `rejectUnauthorized` an error ends the session
//! before any application data is accepted or sent. Node does the same (its OpenSSL verify
//! callback accepts, and the result is read on 'secure'), so the codes and the order of
//! checks match, and one code path serves both `rejectUnauthorized` settings.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::config::Anchors;
use crate::error::{CertError, CertErrorCode};
use crate::peer;

/// The client side's handshake verifier: accepts the chain, checks the signatures.
#[derive(Debug)]
pub(crate) struct AcceptChainServer {
    pub(crate) inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AcceptChainServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Verified after the handshake (TlsSession::post_handshake), as node:tls does.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The server side's handshake verifier when `requestCert`: asks for a certificate (naming the
/// `ca` subjects), requires one only with `rejectUnauthorized`, accepts the chain, checks the
/// signatures.
#[derive(Debug)]
pub(crate) struct AcceptChainClient {
    pub(crate) inner: Arc<dyn ClientCertVerifier>,
    pub(crate) mandatory: bool,
}

impl ClientCertVerifier for AcceptChainClient {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Verifies a server's chain for `name` (client side, after the handshake).
pub(crate) fn verify_server(
    verifier: &WebPkiServerVerifier,
    chain: &[CertificateDer<'static>],
    name: &ServerName<'static>,
    anchors: &Anchors,
) -> Result<(), CertError> {
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or(CertError::new(CertErrorCode::UnableToGetIssuer))?;
    match verifier.verify_server_cert(leaf, intermediates, name, &[], UnixTime::now()) {
        Ok(_) => Ok(()),
        Err(_) if anchors.contains(leaf) => trusted_leaf(leaf, chain, Some(name)),
        Err(e) => Err(classify(e, chain, Some(name))),
    }
}

/// A peer certificate that is itself one of the `ca` certificates: trusted as given (see
/// [`Anchors`]); its validity period and (for a server) its names are still checked.
fn trusted_leaf(
    leaf: &CertificateDer<'static>,
    chain: &[CertificateDer<'static>],
    name: Option<&ServerName<'static>>,
) -> Result<(), CertError> {
    let now = UnixTime::now().as_secs() as i64;
    match peer::validity_der(leaf) {
        Some((from, _)) if now < from => return Err(CertError::new(CertErrorCode::NotYetValid)),
        Some((_, to)) if now > to => return Err(CertError::new(CertErrorCode::HasExpired)),
        Some(_) => {}
        None => return Err(CertError::new(CertErrorCode::Rejected)),
    }
    let Some(name) = name else {
        return Ok(());
    };
    let valid = webpki::EndEntityCert::try_from(leaf)
        .is_ok_and(|c| c.verify_is_valid_for_subject_name(name).is_ok());
    if valid {
        Ok(())
    } else {
        Err(altname_error(chain, Some(name)))
    }
}

/// Verifies a client's chain (server side with `requestCert`, after the handshake). No chain:
/// UNABLE_TO_GET_ISSUER_CERT, as node:tls reports a client that sent none.
pub(crate) fn verify_client(
    verifier: &dyn ClientCertVerifier,
    chain: Option<&[CertificateDer<'static>]>,
    anchors: &Anchors,
) -> Result<(), CertError> {
    let Some((leaf, intermediates)) = chain.and_then(|c| c.split_first()) else {
        return Err(CertError::new(CertErrorCode::UnableToGetIssuer));
    };
    let chain = chain.unwrap_or_default();
    match verifier.verify_client_cert(leaf, intermediates, UnixTime::now()) {
        Ok(_) => Ok(()),
        Err(_) if anchors.contains(leaf) => trusted_leaf(leaf, chain, None),
        Err(e) => Err(classify(e, chain, None)),
    }
}

/// webpki's error to node:tls's code. An unknown issuer is told apart the way OpenSSL does,
/// from the chain the peer sent.
fn classify(
    e: rustls::Error,
    chain: &[CertificateDer<'static>],
    name: Option<&ServerName<'static>>,
) -> CertError {
    use CertErrorCode as K;
    use CertificateError as C;
    let rustls::Error::InvalidCertificate(ce) = e else {
        return CertError::new(K::Rejected);
    };
    #[allow(deprecated)] // UnsupportedSignatureAlgorithm is still produced by older paths
    let kind = match ce {
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            return altname_error(chain, name);
        }
        C::Expired | C::ExpiredContext { .. } => K::HasExpired,
        C::NotValidYet | C::NotValidYetContext { .. } => K::NotYetValid,
        C::Revoked => K::Revoked,
        C::BadSignature
        | C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => K::SignatureFailure,
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => K::InvalidPurpose,
        C::UnknownIssuer => unknown_issuer(chain),
        // webpki refuses a CA certificate as the leaf (CaUsedAsEndEntity, reported as Other):
        // OpenSSL, trusting no such root, calls a self-issued one self-signed
        C::Other(_) if unknown_issuer(chain) == K::DepthZeroSelfSigned => K::DepthZeroSelfSigned,
        _ => K::Rejected,
    };
    CertError::new(kind)
}

/// OpenSSL's four codes for a chain that reaches no trusted root: follow issuer names through
/// what the peer sent; a chain ending in a self-issued certificate is "self-signed" (at depth 0
/// or further up), otherwise the issuer is missing (of the leaf alone, or of an intermediate).
fn unknown_issuer(chain: &[CertificateDer<'static>]) -> CertErrorCode {
    let names: Vec<(Vec<u8>, Vec<u8>)> = chain.iter().filter_map(|c| peer::names_der(c)).collect();
    let Some(mut cur) = names.first() else {
        return CertErrorCode::Rejected;
    };
    let mut depth = 0;
    let self_issued = loop {
        let (subject, issuer) = cur;
        if subject == issuer {
            break true;
        }
        // bounded: a chain of n certificates has at most n - 1 links
        match names[1..].iter().find(|(s, _)| s == issuer) {
            Some(next) if depth < names.len() => {
                cur = next;
                depth += 1;
            }
            _ => break false,
        }
    };
    match (self_issued, depth) {
        (true, 0) => CertErrorCode::DepthZeroSelfSigned,
        (true, _) => CertErrorCode::SelfSignedInChain,
        (false, 0) => CertErrorCode::UnableToVerifyLeafSignature,
        (false, _) => CertErrorCode::UnableToGetIssuerLocally,
    }
}

/// node:tls's checkServerIdentity message.
fn altname_error(
    chain: &[CertificateDer<'static>],
    name: Option<&ServerName<'static>>,
) -> CertError {
    let alts = chain
        .first()
        .and_then(|c| peer::subject_alt_names_der(c))
        .unwrap_or_default();
    let message = match name {
        Some(ServerName::IpAddress(ip)) => {
            let ip: std::net::IpAddr = (*ip).into();
            format!("Hostname/IP does not match certificate's altnames: IP: {ip} is not in the cert's list: {alts}")
        }
        Some(ServerName::DnsName(d)) => format!(
            "Hostname/IP does not match certificate's altnames: Host: {}. is not in the cert's altnames: {alts}",
            d.as_ref()
        ),
        _ => CertErrorCode::AltnameInvalid.message().to_string(),
    };
    CertError {
        kind: CertErrorCode::AltnameInvalid,
        message,
    }
}
