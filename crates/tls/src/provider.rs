//! The crypto provider, chosen at build time by feature: `ring` (the default) or `aws-lc-rs`.
//! benchmark/results/tls-provider-*.md has the measurements behind the default.

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "zerosock-tls needs a crypto provider: enable the `ring` or the `aws-lc-rs` feature"
);

/// The name of the provider this build uses: "ring" or "aws-lc-rs".
#[cfg(feature = "ring")]
pub const PROVIDER_NAME: &str = "ring";
/// The name of the provider this build uses: "ring" or "aws-lc-rs".
#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
pub const PROVIDER_NAME: &str = "aws-lc-rs";

/// The provider, built once per process and shared by every config.
pub fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| {
        #[cfg(feature = "ring")]
        let p = rustls::crypto::ring::default_provider();
        #[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
        let p = rustls::crypto::aws_lc_rs::default_provider();
        Arc::new(p)
    })
    .clone()
}

#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
use aws_lc_rs::digest;
#[cfg(feature = "ring")]
use ring::digest;

/// SHA-1, SHA-256 and SHA-512 of `data` (the peer certificate's fingerprints).
pub(crate) fn fingerprints(data: &[u8]) -> [Vec<u8>; 3] {
    [
        digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        digest::digest(&digest::SHA256, data).as_ref().to_vec(),
        digest::digest(&digest::SHA512, data).as_ref().to_vec(),
    ]
}
