//! What a [`crate::JwtVerifier`] is configured with: where its keys come from and what the
//! registered claims must say.

use std::fmt;
use std::path::PathBuf;

/// Where the verification keys come from and what the registered claims must say.
#[derive(Clone, Default)]
pub struct JwtSettings {
    /// HS256 shared secret (at least 32 bytes); `None` disables HS256.
    pub hs256_secret: Option<String>,
    /// PEM public key files: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA).
    pub public_key_paths: Vec<PathBuf>,
    /// A JWKS document on disk; every signing key in it needs a `kid`.
    pub jwks_file: Option<PathBuf>,
    pub issuer: String,
    pub audience: String,
    /// Clock skew allowed for `exp` and `nbf`.
    pub leeway_secs: u64,
    /// How many verified tokens to remember (0: verify every time); see `verified`.
    pub cache_capacity: u64,
}

impl fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = self.hs256_secret.as_ref().map(|_| "[redacted]");
        f.debug_struct("JwtSettings")
            .field("hs256_secret", &secret)
            .field("public_key_paths", &self.public_key_paths)
            .field("jwks_file", &self.jwks_file)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .field("cache_capacity", &self.cache_capacity)
            .finish()
    }
}
