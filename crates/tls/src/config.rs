//! Configs built from PEM bytes, with node:tls's option names and defaults. A config is built
//! once (per server, per set of client options) and shared by every session made from it.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::RootCertStore;

use crate::verify::{AcceptChainClient, AcceptChainServer};
use crate::{pem, provider, TlsError};

/// One name-based certificate of a server (node:tls's `addContext(servername, { key, cert })`).
/// `servername` is a host name, or `*.example.com` for one label under it.
#[derive(Clone, Copy, Debug)]
pub struct SniContext<'a> {
    /// The name this certificate answers for.
    pub servername: &'a str,
    /// PEM: the chain, leaf first.
    pub cert: &'a [u8],
    /// PEM: the leaf's private key.
    pub key: &'a [u8],
}

/// `createServer({ tls: … })`.
#[derive(Clone, Debug)]
pub struct ServerOptions<'a> {
    /// PEM: the default chain, leaf first (empty: none; then every client must name an
    /// [`SniContext`]).
    pub cert: &'a [u8],
    /// PEM: the default chain's private key.
    pub key: &'a [u8],
    /// PEM: the CAs client certificates are checked against (default: the webpki roots).
    pub ca: Option<&'a [u8]>,
    /// Ask clients for a certificate.
    pub request_cert: bool,
    /// With `request_cert`: a client without a valid certificate is refused (default true).
    /// When false it is accepted with `authorized() == false` and the code in
    /// `authorization_error()`.
    pub reject_unauthorized: bool,
    /// ALPN protocols in preference order (`ALPNProtocols`).
    pub alpn_protocols: Vec<Vec<u8>>,
    /// Certificates chosen by the name the client asks for (SNI).
    pub sni: Vec<SniContext<'a>>,
}

impl Default for ServerOptions<'_> {
    fn default() -> Self {
        Self {
            cert: &[],
            key: &[],
            ca: None,
            request_cert: false,
            reject_unauthorized: true,
            alpn_protocols: Vec::new(),
            sni: Vec::new(),
        }
    }
}

/// `connect({ tls: … })`, less the per-connection `servername` (given to
/// [`crate::TlsSession::client`]).
#[derive(Clone, Debug)]
pub struct ClientOptions<'a> {
    /// PEM: the CAs the server's chain must reach (default: the webpki roots, Mozilla's set).
    /// Given, it replaces the default, as in node:tls.
    pub ca: Option<&'a [u8]>,
    /// Refuse a server whose certificate does not verify (default true). When false the session
    /// goes on with `authorized() == false` and the code in `authorization_error()`.
    pub reject_unauthorized: bool,
    /// ALPN protocols in preference order.
    pub alpn_protocols: Vec<Vec<u8>>,
    /// PEM: a client certificate chain (with `key`).
    pub cert: Option<&'a [u8]>,
    /// PEM: the client certificate's private key.
    pub key: Option<&'a [u8]>,
}

impl Default for ClientOptions<'_> {
    fn default() -> Self {
        Self {
            ca: None,
            reject_unauthorized: true,
            alpn_protocols: Vec::new(),
            cert: None,
            key: None,
        }
    }
}

/// A built server config.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) rustls: Arc<rustls::ServerConfig>,
    /// Set when `request_cert`: verifies the client's chain after the handshake.
    pub(crate) client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    pub(crate) reject_unauthorized: bool,
    /// The `ca` certificates as given (see [`Anchors`]).
    pub(crate) anchors: Anchors,
}

/// The `ca` certificates as given: a peer whose certificate is one of them is trusted as
/// itself (OpenSSL's rule, which node:tls users rely on: a self-signed server certificate
/// given as the client's `ca`), even though webpki refuses a CA certificate as a leaf.
pub(crate) type Anchors = Arc<Vec<CertificateDer<'static>>>;

/// A built client config.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) rustls: Arc<rustls::ClientConfig>,
    pub(crate) verifier: Arc<WebPkiServerVerifier>,
    pub(crate) reject_unauthorized: bool,
    pub(crate) anchors: Anchors,
}

fn certified_key(cert: &[u8], key: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = pem::certs(cert, "cert")?;
    let key = pem::private_key(key)?;
    CertifiedKey::from_der(chain, key, &provider::provider())
        .map(Arc::new)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch,
            e => TlsError::UnsupportedKey(e.to_string()),
        })
}

fn anchors(ca: Option<&[u8]>) -> Result<Anchors, TlsError> {
    Ok(Arc::new(match ca {
        Some(pem) => pem::certs(pem, "ca")?,
        None => Vec::new(),
    }))
}

fn roots(ca: Option<&[u8]>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    match ca {
        Some(pem) => {
            for c in pem::certs(pem, "ca")? {
                store.add(c).map_err(|e| TlsError::BadPem {
                    what: "ca",
                    reason: e.to_string(),
                })?;
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(Arc::new(store))
}

fn check_alpn(list: &[Vec<u8>]) -> Result<(), TlsError> {
    if list.iter().any(|p| p.is_empty() || p.len() > 255) {
        return Err(TlsError::InvalidOption(
            "ALPNProtocols: each protocol is 1 to 255 bytes".into(),
        ));
    }
    Ok(())
}

impl ServerConfig {
    /// Builds from PEM. Errors: bad PEM (`ERR_OSSL_PEM_NO_START_LINE`), an unusable key
    /// (`ERR_OSSL_UNSUPPORTED`), a key that is not the certificate's
    /// (`ERR_OSSL_X509_KEY_VALUES_MISMATCH`), no certificate at all or a bad option
    /// (`ERR_INVALID_ARG_VALUE`).
    pub fn new(o: &ServerOptions<'_>) -> Result<Self, TlsError> {
        check_alpn(&o.alpn_protocols)?;
        let default = match (o.cert.is_empty(), o.key.is_empty()) {
            (true, true) => None,
            (false, false) => Some(certified_key(o.cert, o.key)?),
            _ => return Err(TlsError::InvalidOption("cert and key go together".into())),
        };
        if default.is_none() && o.sni.is_empty() {
            return Err(TlsError::InvalidOption(
                "a TLS server needs a cert and key, or SNI contexts".into(),
            ));
        }
        let mut resolver = SniResolver {
            default,
            exact: HashMap::new(),
            wildcard: Vec::new(),
        };
        for c in &o.sni {
            let ck = certified_key(c.cert, c.key)?;
            let name = c.servername.trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty() {
                return Err(TlsError::InvalidOption("SNI servername is empty".into()));
            }
            match name.strip_prefix("*.") {
                Some(suffix) => resolver.wildcard.push((suffix.to_string(), ck)),
                None => {
                    resolver.exact.insert(name, ck);
                }
            }
        }

        let p = provider::provider();
        let builder = rustls::ServerConfig::builder_with_provider(p.clone())
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(|e| TlsError::InvalidOption(e.to_string()))?;
        let (builder, client_verifier) = if o.request_cert {
            let inner = WebPkiClientVerifier::builder_with_provider(roots(o.ca)?, p)
                .build()
                .map_err(|e| TlsError::InvalidOption(format!("ca: {e}")))?;
            let accept = AcceptChainClient {
                inner: inner.clone(),
                mandatory: o.reject_unauthorized,
            };
            (
                builder.with_client_cert_verifier(Arc::new(accept)),
                Some(inner),
            )
        } else {
            (builder.with_no_client_auth(), None)
        };
        let mut cfg = builder.with_cert_resolver(Arc::new(resolver));
        cfg.alpn_protocols = o.alpn_protocols.clone();
        Ok(Self {
            rustls: Arc::new(cfg),
            client_verifier,
            reject_unauthorized: o.reject_unauthorized,
            anchors: anchors(o.ca)?,
        })
    }
}

impl ClientConfig {
    /// Builds from PEM; errors as [`ServerConfig::new`].
    pub fn new(o: &ClientOptions<'_>) -> Result<Self, TlsError> {
        check_alpn(&o.alpn_protocols)?;
        let p = provider::provider();
        let verifier = WebPkiServerVerifier::builder_with_provider(roots(o.ca)?, p.clone())
            .build()
            .map_err(|e| TlsError::InvalidOption(format!("ca: {e}")))?;
        let builder = rustls::ClientConfig::builder_with_provider(p)
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(|e| TlsError::InvalidOption(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptChainServer {
                inner: verifier.clone(),
            }));
        let mut cfg = match (o.cert, o.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let ck = certified_key(cert, key)?;
                builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(ck)))
            }
            _ => return Err(TlsError::InvalidOption("cert and key go together".into())),
        };
        cfg.alpn_protocols = o.alpn_protocols.clone();
        // node:tls resumes only when given `session` (from a 'session' event): no implicit
        // client-side cache, so every connect() is a full handshake and is verified.
        cfg.resumption = rustls::client::Resumption::disabled();
        Ok(Self {
            rustls: Arc::new(cfg),
            verifier,
            reject_unauthorized: o.reject_unauthorized,
            anchors: anchors(o.ca)?,
        })
    }
}

/// Picks the certificate by the client's SNI name: exact name, then `*.` one label up, then
/// the default.
#[derive(Debug)]
struct SniResolver {
    default: Option<Arc<CertifiedKey>>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: Vec<(String, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name() else {
            return self.default.clone();
        };
        let name = name.to_ascii_lowercase();
        if let Some(ck) = self.exact.get(&name) {
            return Some(ck.clone());
        }
        if let Some((_, parent)) = name.split_once('.') {
            if let Some((_, ck)) = self.wildcard.iter().find(|(s, _)| s == parent) {
                return Some(ck.clone());
            }
        }
        self.default.clone()
    }
}
