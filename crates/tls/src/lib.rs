//! zerosock-tls: TLS for the engine, on rustls, without napi (tested without Node).
//!
//! - [`ServerConfig`] / [`ClientConfig`]: built once from PEM bytes with node:tls's options
//!   (`key`, `cert`, `ca`, `requestCert`, `rejectUnauthorized`, `ALPNProtocols`, SNI contexts);
//! - [`TlsSession`]: one connection driven by the caller's I/O on the caller's buffers:
//!   ciphertext in (decrypted in place), plaintext out; a batch of plaintext in, ciphertext out
//!   as one record per 16 KiB of the batch;
//! - [`TlsError`] / [`CertError`]: errors whose `code()` is node:tls's code;
//! - [`PeerCertificate`]: `getPeerCertificate()`'s fields in node's formats;
//! - `json`: the configs from the JS API's JSON ([`ServerConfig::from_json`]);
//! - [`records`]: record headers (counting records, finding record boundaries).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod config;
mod error;
mod hello;
mod json;
mod peer;
pub mod pem;
mod provider;
pub mod records;
mod session;
mod verify;

pub use config::{ClientConfig, ClientOptions, ServerConfig, ServerOptions, SniContext};
pub use error::{CertError, CertErrorCode, TlsError};
pub use peer::{openssl_time, DistinguishedName, PeerCertificate};
pub use provider::{provider, PROVIDER_NAME};
pub use session::{ReadOutcome, TlsSession};
