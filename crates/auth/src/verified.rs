//! A bounded cache of tokens that passed verification, so that a client presenting the same token
//! on every request pays for parsing and the signature check once.
//!
//! Sound because verification is a pure function of the token's bytes and the verifier's keys,
//! issuer and audience, which never change for the verifier's life: the cache is keyed by the
//! SHA-256 of the whole token (nothing short of the exact signed bytes hits), and holds only
//! tokens that verified. The one time-dependent part, `exp`, is checked again on every hit with
//! the same leeway as a full verification (`nbf`, once passed, stays passed). Failures are never
//! cached.

use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::{Claims, TokenError};

/// How long an unused entry is kept.
const IDLE: Duration = Duration::from_secs(600);

pub(crate) struct VerifiedTokens {
    cache: Cache<[u8; 32], Claims>,
    leeway_secs: i64,
}

impl VerifiedTokens {
    /// `None` when `capacity` is 0 (caching disabled).
    pub(crate) fn new(capacity: u64, leeway_secs: u64) -> Option<VerifiedTokens> {
        (capacity > 0).then(|| VerifiedTokens {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(IDLE)
                .build(),
            leeway_secs: i64::try_from(leeway_secs).unwrap_or(i64::MAX),
        })
    }

    pub(crate) fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of a token verified before, unless it has expired since (`Err`).
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Result<Claims, TokenError>> {
        let claims = self.cache.get(key)?;
        let now = chrono::Utc::now().timestamp();
        if claims.exp < now.saturating_sub(self.leeway_secs) {
            self.cache.invalidate(key);
            return Some(Err(TokenError::Expired));
        }
        Some(Ok(claims))
    }

    pub(crate) fn insert(&self, key: [u8; 32], claims: &Claims) {
        self.cache.insert(key, claims.clone());
    }
}
