//! The platform admin key: configured as the hex SHA-256 of the key, so the key itself is never
//! stored; a presented key is hashed and compared in constant time.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{KeyError, KeySetting};

/// The SHA-256 digest of the platform admin key. `Debug` does not show it.
#[derive(Clone)]
pub struct AdminKey {
    digest: [u8; 32],
}

impl AdminKey {
    /// Parses the 64-hex-character SHA-256 of the admin key (surrounding whitespace ignored).
    pub fn from_sha256_hex(hex: &str) -> Result<AdminKey, KeyError> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex.trim(), &mut digest).map_err(|_| {
            KeyError::new(
                KeySetting::AdminKeySha256,
                "must be 64 hex characters (a SHA-256 digest)",
            )
        })?;
        if digest == <[u8; 32]>::from(Sha256::digest(b"")) {
            return Err(KeyError::new(
                KeySetting::AdminKeySha256,
                "is the digest of an empty key",
            ));
        }
        Ok(AdminKey { digest })
    }

    /// Whether `presented` is the admin key: its SHA-256 equals the configured digest, compared
    /// in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let digest = Sha256::digest(presented.as_bytes());
        digest.as_slice().ct_eq(&self.digest).into()
    }

    /// The hex SHA-256 of `key`: the value to configure for a chosen admin key.
    pub fn digest_hex_of(key: &str) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))
    }
}

impl fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminKey([redacted])")
    }
}
