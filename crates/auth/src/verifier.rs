//! Bearer token verification: [`JwtSettings`] configure a [`JwtVerifier`], which picks the
//! candidate keys for a token from its header and lets `jsonwebtoken` check the signature and
//! the registered claims.
//!
//! Key selection: the header `alg` must be one of HS256, RS256, ES256, EdDSA, and each key
//! accepts exactly one of them, so a token can never pick how a key is used (no `none`, no
//! HS256 with a public key as the secret). A `kid` naming a JWKS key selects that key only;
//! otherwise every configured key of the token's algorithm without a `kid` of its own is tried
//! (all of them when the token has no `kid`).

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use crate::keys::{self, VerifyingKey};
use crate::settings::JwtSettings;
use crate::verified::VerifiedTokens;
use crate::{Claims, KeyError, KeySetting, TokenError};

/// Tokens longer than this are rejected before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Registered claims a token must carry.
const REQUIRED_CLAIMS: [&str; 4] = ["exp", "iss", "aud", "sub"];

/// Verifies bearer tokens. Cheap to clone; `Debug` lists keys by algorithm, kid and source only.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Vec<VerifyingKey>,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    verified: Option<VerifiedTokens>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.inner.keys)
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("leeway_secs", &self.inner.leeway_secs)
            .finish()
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct TokenHeader {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
}

impl JwtVerifier {
    /// Loads and checks every configured key. Having no keys is allowed (see [`Self::has_keys`]);
    /// `verify` then fails with [`TokenError::NoKeysConfigured`].
    pub fn new(settings: &JwtSettings) -> Result<JwtVerifier, KeyError> {
        if settings.issuer.trim().is_empty() {
            return Err(KeyError::new(KeySetting::Issuer, "must not be empty"));
        }
        if settings.audience.trim().is_empty() {
            return Err(KeyError::new(KeySetting::Audience, "must not be empty"));
        }
        let inner = Inner {
            keys: keys::load(settings)?,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway_secs: settings.leeway_secs,
            verified: VerifiedTokens::new(settings.cache_capacity, settings.leeway_secs),
        };
        Ok(JwtVerifier {
            inner: Arc::new(inner),
        })
    }

    pub fn has_keys(&self) -> bool {
        !self.inner.keys.is_empty()
    }

    /// How many verifying keys are loaded (for readiness).
    pub fn key_count(&self) -> usize {
        self.inner.keys.len()
    }

    /// Checks the signature, `exp` (required), `nbf` (if present), `iss`, `aud` and `sub`.
    /// A token that verified before is answered from the cache, `exp` checked again.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let Some(verified) = &self.inner.verified else {
            return self.verify_uncached(token);
        };
        let key = VerifiedTokens::key(token);
        if let Some(hit) = verified.get(&key) {
            return hit;
        }
        let claims = self.verify_uncached(token)?;
        verified.insert(key, &claims);
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str) -> Result<Claims, TokenError> {
        if !self.has_keys() {
            return Err(TokenError::NoKeysConfigured);
        }
        let header = parse_header(token)?;
        let alg = accepted_algorithm(&header.alg)?;
        let validation = validation(
            alg,
            &self.inner.issuer,
            &self.inner.audience,
            self.inner.leeway_secs,
        );
        let keys = &self.inner.keys;
        if !keys.iter().any(|k| k.alg == alg) {
            return Err(TokenError::UnsupportedAlgorithm(header.alg.clone()));
        }
        into_claims(decode(token, keys, &header, alg, &validation)?)
    }
}

/// The token's payload, checked with the key its `kid` names (which must be of `alg`), else
/// with every key of `alg` without a `kid` of its own (all of them when the token has no
/// `kid`). `UnknownKey` when no key can have signed it.
pub(crate) fn decode(
    token: &str,
    keys: &[VerifyingKey],
    header: &TokenHeader,
    alg: Algorithm,
    validation: &Validation,
) -> Result<serde_json::Value, TokenError> {
    let kid = header.kid.as_deref();
    let candidates: Vec<&VerifyingKey> =
        match kid.and_then(|kid| keys.iter().find(|k| k.kid.as_deref() == Some(kid))) {
            Some(key) if key.alg == alg => vec![key],
            Some(_) => return Err(TokenError::UnsupportedAlgorithm(header.alg.clone())),
            None => keys
                .iter()
                .filter(|k| k.alg == alg && (kid.is_none() || k.kid.is_none()))
                .collect(),
        };
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey);
    }
    for key in candidates {
        match jsonwebtoken::decode::<serde_json::Value>(token, &key.key, validation) {
            Ok(data) => return Ok(data.claims),
            // Another candidate may have signed it.
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
            // The signature checked out (claims are validated after it) or the token is bad.
            Err(e) => return Err(token_error(e.kind(), &header.alg)),
        }
    }
    Err(TokenError::BadSignature)
}

/// What a token signed with `alg` must satisfy: `exp`, `iss`, `aud`, `sub` present, `iss` and
/// `aud` as given, `exp`/`nbf` with the leeway.
pub(crate) fn validation(
    alg: Algorithm,
    issuer: &str,
    audience: &str,
    leeway_secs: u64,
) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_required_spec_claims(&REQUIRED_CLAIMS);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.leeway = leeway_secs;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation
}

pub(crate) fn parse_header(token: &str) -> Result<TokenHeader, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    let header: TokenHeader = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    Ok(TokenHeader {
        alg: printable(header.alg),
        kid: header.kid,
    })
}

/// The algorithms this crate accepts; anything else (`none`, `HS512`, `PS256`, ...) is refused.
pub(crate) fn accepted_algorithm(name: &str) -> Result<Algorithm, TokenError> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        _ => Err(TokenError::UnsupportedAlgorithm(name.to_owned())),
    }
}

/// The header's `alg` ends up in error messages and logs: keep it short and plain.
fn printable(alg: String) -> String {
    let plain = alg.len() <= 16 && alg.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if plain { alg } else { "(invalid)".to_owned() }
}

fn into_claims(value: serde_json::Value) -> Result<Claims, TokenError> {
    let claims: Claims = serde_json::from_value(value).map_err(|_| TokenError::Malformed)?;
    if claims.sub.is_empty() {
        return Err(TokenError::MissingClaim("sub"));
    }
    Ok(claims)
}

fn token_error(kind: &ErrorKind, alg: &str) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::BadIssuer,
        ErrorKind::InvalidAudience => TokenError::BadAudience,
        ErrorKind::MissingRequiredClaim(claim) => REQUIRED_CLAIMS
            .into_iter()
            .find(|required| required == claim)
            .map_or(TokenError::Malformed, TokenError::MissingClaim),
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            TokenError::UnsupportedAlgorithm(alg.to_owned())
        }
        _ => TokenError::Malformed,
    }
}
