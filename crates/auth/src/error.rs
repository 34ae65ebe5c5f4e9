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

/// A setting or key file that cannot be used, e.g.
/// `TENANTRY_JWT_PUBLIC_KEYS: /x.pem: not a PEM public key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct KeyError {
    setting: &'static str,
    message: String,
}

impl KeyError {
    /// `message` must not contain secret material.
    pub(crate) fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }

    /// The name of the setting at fault (one of the `SETTING_*` constants).
    pub fn setting(&self) -> &'static str {
        self.setting
    }
}
