//! Minting HS256 tokens for development and tests, verifiable by a [`crate::JwtVerifier`]
//! configured with the same secret, issuer and audience.

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::{Audience, Claims, TokenError};

/// Signs HS256 tokens. `Debug` does not show the secret.
#[derive(Clone)]
pub struct TokenMinter {
    key: EncodingKey,
    issuer: String,
    audience: String,
}

/// What to put in a minted token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MintRequest {
    pub sub: String,
    /// Becomes the `tid` claim.
    pub tenant_id: Option<String>,
    /// Becomes the `tinc` claim: the incarnation of `tenant_id`.
    pub incarnation: Option<String>,
    pub roles: Vec<String>,
    pub ttl_seconds: u64,
}

/// A signed token. `Debug` does not show the token (it is a credential).
#[derive(Clone, PartialEq, Eq)]
pub struct MintedToken {
    pub token: String,
    /// Unix seconds: the token's `exp`.
    pub expires_at: i64,
}

impl TokenMinter {
    pub fn new(secret: &str, issuer: &str, audience: &str) -> TokenMinter {
        TokenMinter {
            key: EncodingKey::from_secret(secret.as_bytes()),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// Signs a token valid from now for `ttl_seconds`. Fails with `MissingClaim("sub")` for an
    /// empty subject and `Malformed` if the expiry does not fit in an `i64`.
    pub fn mint(&self, request: &MintRequest) -> Result<MintedToken, TokenError> {
        if request.sub.is_empty() {
            return Err(TokenError::MissingClaim("sub"));
        }
        let now = chrono::Utc::now().timestamp();
        let expires_at = i64::try_from(request.ttl_seconds)
            .ok()
            .and_then(|ttl| now.checked_add(ttl))
            .ok_or(TokenError::Malformed)?;
        let claims = Claims {
            sub: request.sub.clone(),
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            exp: expires_at,
            nbf: None,
            iat: Some(now),
            tid: request.tenant_id.clone(),
            tinc: request.incarnation.clone(),
            tenants: Vec::new(),
            roles: request.roles.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|_| TokenError::Malformed)?;
        Ok(MintedToken { token, expires_at })
    }
}

impl fmt::Debug for TokenMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenMinter")
            .field("key", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
