//! The two error types: [`TokenError`] (a presented token was rejected) and [`KeyError`] (the
//! key configuration is unusable). Messages never contain token contents or secrets.

/// Why a bearer token was rejected. The `Display` text is short and safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token issuer is not accepted")]
    BadIssuer,
    #[error("token audience is not accepted")]
    BadAudience,
    #[error("token has no `{0}` claim")]
    MissingClaim(&'static str),
    #[error("token algorithm {0} is not accepted")]
    UnsupportedAlgorithm(String),
    #[error("token signing key is unknown")]
    UnknownKey,
    #[error("no token verification keys are configured")]
    NoKeysConfigured,
    /// Valid, but for an earlier incarnation of the tenant (or it cannot tell which).
    #[error("token was issued for an earlier incarnation of this tenant")]
    Revoked,
}

/// A setting or key file that cannot be used, e.g. `public keys: /x.pem: not a PEM public key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct KeyError {
    setting: KeySetting,
    message: String,
}

/// Which part of the key configuration is at fault. The library does not know what a program
/// calls its settings: a program maps these onto its own names (Tenantry's `TENANTRY_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetting {
    Hs256Secret,
    PublicKeys,
    JwksFile,
    Issuer,
    Audience,
    AdminKeySha256,
}

impl std::fmt::Display for KeySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeySetting::Hs256Secret => "HS256 secret",
            KeySetting::PublicKeys => "public keys",
            KeySetting::JwksFile => "JWKS file",
            KeySetting::Issuer => "issuer",
            KeySetting::Audience => "audience",
            KeySetting::AdminKeySha256 => "admin key digest",
        })
    }
}

impl KeyError {
    /// `message` must not contain secret material.
    pub(crate) fn new(setting: KeySetting, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }

    /// The setting at fault.
    pub fn setting(&self) -> KeySetting {
        self.setting
    }

    /// What is wrong with it (no secret material).
    pub fn message(&self) -> &str {
        &self.message
    }
}
