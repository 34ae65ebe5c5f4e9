//! Fixtures and token builders shared by the tests.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tenantry_auth::{JwtSettings, JwtVerifier};

pub const ISSUER: &str = "https://issuer.tenantry.test";
pub const AUDIENCE: &str = "tenantry-api";
pub const SECRET: &str = "test-only-hs256-secret-2b9f4c1e7d0a3f58";
pub const RSA_JWKS_KID: &str = "rsa-2026-01";
pub const EC_JWKS_KID: &str = "ec-2026-01";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Issuer, audience and a 30 s leeway; no keys.
pub fn settings() -> JwtSettings {
    JwtSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway_secs: 30,
        cache_capacity: 1000,
        ..JwtSettings::default()
    }
}

pub fn verifier(configure: impl FnOnce(&mut JwtSettings)) -> JwtVerifier {
    let mut settings = settings();
    configure(&mut settings);
    JwtVerifier::new(&settings).unwrap()
}

/// Every kind of key: the HS256 secret, the three PEM public keys and the JWKS.
pub fn all_keys(s: &mut JwtSettings) {
    s.hs256_secret = Some(SECRET.into());
    s.public_key_paths = vec![
        fixture("rsa_public.pem"),
        fixture("ec_public.pem"),
        fixture("ed25519_public.pem"),
    ];
    s.jwks_file = Some(fixture("jwks.json"));
}

pub fn valid_claims() -> Value {
    json!({
        "sub": "user-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now() + 300,
        "iat": now(),
        "tid": "acme",
        "roles": ["member"],
    })
}

/// A key to sign with: the HS256 secret or a private key fixture.
pub enum Signer<'a> {
    Secret(&'a [u8]),
    Pem(&'a str),
}

pub fn sign(alg: Algorithm, signer: Signer<'_>, kid: Option<&str>, claims: &Value) -> String {
    let key = match signer {
        Signer::Secret(secret) => EncodingKey::from_secret(secret),
        Signer::Pem(name) => {
            let pem = std::fs::read(fixture(name)).unwrap();
            match alg {
                Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
                Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
                Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).unwrap(),
                other => panic!("no PEM signer for {other:?}"),
            }
        }
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        Signer::Secret(SECRET.as_bytes()),
        None,
        claims,
    )
}

pub fn rs256(claims: &Value) -> String {
    sign(
        Algorithm::RS256,
        Signer::Pem("rsa_private.pem"),
        None,
        claims,
    )
}

pub fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

/// `header.claims.signature` assembled by hand, for tokens no library would produce.
pub fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!("{}.{}.{signature}", b64(header), b64(claims))
}

/// Replaces the signed header of `token` (keeping its payload and signature).
pub fn with_header(token: &str, header: &Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(header))
}

/// A unique scratch directory for files a test writes.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenantry-auth-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
