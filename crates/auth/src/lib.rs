//! Authentication for Tenantry: verifies bearer JWTs (HS256, RS256, ES256, EdDSA) of Tenantry
//! itself and of OpenID Connect providers (`oidc`: discovery, JWKS kept current, claim and role
//! mapping), and the platform admin key; mints HS256 tokens. No HTTP server: the only HTTP is
//! the GET of a provider's discovery document and keys.
//!
//! Nothing in this crate prints a secret: `Debug` of every type holding one is redacted and
//! error messages name the setting or file at fault, never its contents.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod admin_key;
mod claims;
mod error;
mod keys;
mod mint;
pub mod oidc;
mod role;
mod settings;
mod verified;
mod verifier;

pub use admin_key::AdminKey;
pub use claims::{Audience, Claims};
pub use error::{KeyError, KeySetting, TokenError};
pub use mint::{MintRequest, MintedToken, TokenMinter};
pub use role::{Role, UnknownRole};
pub use settings::JwtSettings;
pub use verifier::JwtVerifier;
