//! Errors, each with a stable `code()`: node:tls's (and OpenSSL's, as Node names them) where
//! Node has one, `ERR_ZEROSOCK_TLS_*` where it has none.

use std::fmt;

use rustls::AlertDescription;

/// Why a peer's certificate was not authorized, named as node:tls names it
/// (`socket.authorizationError`, `err.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertErrorCode {
    /// The name the client asked for is not among the certificate's names.
    AltnameInvalid,
    /// The certificate (or one in its chain) is past its notAfter.
    HasExpired,
    /// The certificate (or one in its chain) is before its notBefore.
    NotYetValid,
    /// The chain is the leaf alone, and the leaf is self-signed and not trusted.
    DepthZeroSelfSigned,
    /// The chain ends in a self-signed certificate that is not trusted.
    SelfSignedInChain,
    /// The leaf alone was sent and its issuer is not trusted.
    UnableToVerifyLeafSignature,
    /// Intermediates were sent but the chain's root is not trusted.
    UnableToGetIssuerLocally,
    /// The peer sent no certificate (server side, `requestCert`).
    UnableToGetIssuer,
    /// The certificate was revoked.
    Revoked,
    /// A signature in the chain does not verify.
    SignatureFailure,
    /// The certificate is not for this use (extended key usage).
    InvalidPurpose,
    /// Anything else the verifier refused (bad encoding, unknown critical extension, …).
    Rejected,
}

impl CertErrorCode {
    /// The code string node:tls uses, exactly.
    pub fn code(self) -> &'static str {
        match self {
            Self::AltnameInvalid => "ERR_TLS_CERT_ALTNAME_INVALID",
            Self::HasExpired => "CERT_HAS_EXPIRED",
            Self::NotYetValid => "CERT_NOT_YET_VALID",
            Self::DepthZeroSelfSigned => "DEPTH_ZERO_SELF_SIGNED_CERT",
            Self::SelfSignedInChain => "SELF_SIGNED_CERT_IN_CHAIN",
            Self::UnableToVerifyLeafSignature => "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            Self::UnableToGetIssuerLocally => "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
            Self::UnableToGetIssuer => "UNABLE_TO_GET_ISSUER_CERT",
            Self::Revoked => "CERT_REVOKED",
            Self::SignatureFailure => "CERT_SIGNATURE_FAILURE",
            Self::InvalidPurpose => "INVALID_PURPOSE",
            Self::Rejected => "CERT_REJECTED",
        }
    }

    /// OpenSSL's message for the code (what node:tls puts in `err.message`), except for
    /// [`CertErrorCode::AltnameInvalid`], whose message names the host (see [`CertError`]).
    pub fn message(self) -> &'static str {
        match self {
            Self::AltnameInvalid => "Hostname/IP does not match certificate's altnames",
            Self::HasExpired => "certificate has expired",
            Self::NotYetValid => "certificate is not yet valid",
            Self::DepthZeroSelfSigned => "self-signed certificate",
            Self::SelfSignedInChain => "self-signed certificate in certificate chain",
            Self::UnableToVerifyLeafSignature => "unable to verify the first certificate",
            Self::UnableToGetIssuerLocally => "unable to get local issuer certificate",
            Self::UnableToGetIssuer => "unable to get issuer certificate",
            Self::Revoked => "certificate revoked",
            Self::SignatureFailure => "certificate signature failure",
            Self::InvalidPurpose => "unsupported certificate purpose",
            Self::Rejected => "certificate rejected",
        }
    }
}

/// A failed peer verification: the code and node:tls's message for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertError {
    /// What failed.
    pub kind: CertErrorCode,
    /// node:tls's message (for a name mismatch it names the host and the certificate's names).
    pub message: String,
}

impl CertError {
    pub(crate) fn new(kind: CertErrorCode) -> Self {
        Self {
            kind,
            message: kind.message().to_string(),
        }
    }

    /// node:tls's code string.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CertError {}

/// Every error this crate returns.
#[derive(Clone, Debug)]
pub enum TlsError {
    /// A `cert` or `ca` held no PEM certificate, or a PEM block did not parse.
    BadPem {
        /// Which option: "cert", "ca", "key".
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The `key` did not parse as a private key this provider supports.
    UnsupportedKey(String),
    /// The `key` is not the private key of the `cert`'s leaf.
    KeyMismatch,
    /// An option had a value that cannot be used (an empty ALPN name, a bad servername, …).
    InvalidOption(String),
    /// The peer's certificate was not authorized and `rejectUnauthorized` is on.
    Verify(CertError),
    /// The peer sent a fatal alert.
    AlertReceived(AlertDescription),
    /// No protocol, cipher suite or ALPN protocol in common.
    Negotiation(rustls::Error),
    /// Any other TLS protocol failure (what rustls reported).
    Protocol(rustls::Error),
    /// The output buffer cannot hold the records; `required` bytes can.
    BufferTooSmall {
        /// Bytes the output needs.
        required: usize,
    },
    /// Plaintext written after `end()` (close_notify sent) or after a fatal error.
    Closed,
}

impl TlsError {
    /// A stable code: node:tls's where it has one.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadPem { .. } => "ERR_OSSL_PEM_NO_START_LINE",
            Self::UnsupportedKey(_) => "ERR_OSSL_UNSUPPORTED",
            Self::KeyMismatch => "ERR_OSSL_X509_KEY_VALUES_MISMATCH",
            Self::InvalidOption(_) => "ERR_INVALID_ARG_VALUE",
            Self::Verify(e) => e.code(),
            Self::AlertReceived(a) => alert_code(*a),
            Self::Negotiation(e) => match e {
                rustls::Error::NoApplicationProtocol => "ERR_SSL_NO_APPLICATION_PROTOCOL",
                rustls::Error::PeerIncompatible(
                    rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13,
                )
                | rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered)
                | rustls::Error::PeerIncompatible(
                    rustls::PeerIncompatible::SupportedVersionsExtensionRequired,
                ) => "ERR_SSL_UNSUPPORTED_PROTOCOL",
                _ => "ERR_SSL_NO_SHARED_CIPHER",
            },
            Self::Protocol(rustls::Error::NoCertificatesPresented) => {
                "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"
            }
            Self::Protocol(_) => "ERR_ZEROSOCK_TLS_PROTOCOL",
            Self::BufferTooSmall { .. } => "ERR_ZEROSOCK_TLS_BUFFER_TOO_SMALL",
            Self::Closed => "ERR_ZEROSOCK_TLS_CLOSED",
        }
    }

    /// rustls's error, classified.
    pub(crate) fn from_rustls(e: rustls::Error) -> Self {
        match e {
            rustls::Error::AlertReceived(a) => Self::AlertReceived(a),
            rustls::Error::NoApplicationProtocol | rustls::Error::PeerIncompatible(_) => {
                Self::Negotiation(e)
            }
            e => Self::Protocol(e),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPem { what, reason } => write!(f, "{what}: {reason}"),
            Self::UnsupportedKey(r) => write!(f, "key: {r}"),
            Self::KeyMismatch => {
                f.write_str("key values mismatch: the key is not the certificate's")
            }
            Self::InvalidOption(r) => f.write_str(r),
            Self::Verify(e) => e.fmt(f),
            Self::AlertReceived(a) => write!(f, "the peer sent the alert {a:?}"),
            Self::Negotiation(e) | Self::Protocol(e) => e.fmt(f),
            Self::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes needed")
            }
            Self::Closed => f.write_str("the TLS session is closed"),
        }
    }
}

impl std::error::Error for TlsError {}

/// node:tls's code for a received alert: `ERR_SSL_` and OpenSSL's reason for it.
fn alert_code(a: AlertDescription) -> &'static str {
    use AlertDescription as A;
    match a {
        A::UnexpectedMessage => "ERR_SSL_SSLV3_ALERT_UNEXPECTED_MESSAGE",
        A::BadRecordMac => "ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC",
        A::DecompressionFailure => "ERR_SSL_SSLV3_ALERT_DECOMPRESSION_FAILURE",
        A::HandshakeFailure => "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
        A::BadCertificate => "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
        A::UnsupportedCertificate => "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        A::CertificateRevoked => "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
        A::CertificateExpired => "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
        A::CertificateUnknown => "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        A::IllegalParameter => "ERR_SSL_SSLV3_ALERT_ILLEGAL_PARAMETER",
        A::UnknownCA => "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
        A::AccessDenied => "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
        A::DecodeError => "ERR_SSL_TLSV1_ALERT_DECODE_ERROR",
        A::DecryptError => "ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR",
        A::RecordOverflow => "ERR_SSL_TLSV1_ALERT_RECORD_OVERFLOW",
        A::ProtocolVersion => "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
        A::InsufficientSecurity => "ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY",
        A::InternalError => "ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR",
        A::InappropriateFallback => "ERR_SSL_TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
        A::UserCanceled => "ERR_SSL_TLSV1_ALERT_USER_CANCELLED",
        A::UnrecognisedName => "ERR_SSL_TLSV1_UNRECOGNIZED_NAME",
        A::MissingExtension => "ERR_SSL_TLSV13_ALERT_MISSING_EXTENSION",
        A::CertificateRequired => "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
        A::NoApplicationProtocol => "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
        _ => "ERR_ZEROSOCK_TLS_ALERT",
    }
}
