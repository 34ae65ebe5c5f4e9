//! `JwtVerifier::new`: key detection, refused keys and settings, and redaction.

use std::path::PathBuf;

use serde_json::{Value, json};
use tenantry_auth::{JwtSettings, JwtVerifier, KeyError, KeySetting};

use crate::support::*;

fn load_error(configure: impl FnOnce(&mut JwtSettings)) -> KeyError {
    let mut settings = settings();
    configure(&mut settings);
    JwtVerifier::new(&settings).unwrap_err()
}

fn pem_error(name: &str) -> String {
    load_error(|s| s.public_key_paths = vec![fixture(name)]).to_string()
}

#[test]
fn detects_the_kind_of_each_pem_public_key() {
    for (name, alg) in [
        ("rsa_public.pem", "RS256"),
        ("ec_public.pem", "ES256"),
        ("ed25519_public.pem", "EdDSA"),
    ] {
        let verifier = verifier(|s| s.public_key_paths = vec![fixture(name)]);
        assert!(verifier.has_keys());
        let debug = format!("{verifier:?}");
        assert!(debug.contains(alg) && debug.contains(name), "{debug}");
    }
}

#[test]
fn refuses_private_keys_and_non_pem_files() {
    let path = fixture("rsa_private.pem");
    let message = pem_error("rsa_private.pem");
    assert!(message.starts_with("public keys: "), "{message}");
    assert!(message.contains(&path.display().to_string()) && message.contains("private key"));
    assert!(
        !message.contains("MII"),
        "must not echo key material: {message}"
    );

    let message = pem_error("jwks.json");
    assert!(
        message
            .ends_with("jwks.json: not a PEM public key (expected exactly one PUBLIC KEY block)")
    );
    assert!(pem_error("no-such-file.pem").contains("no-such-file.pem: cannot read"));
}

#[test]
fn refuses_weak_or_unsupported_public_keys() {
    assert!(pem_error("ec_p384_public.pem").ends_with("EC key is not on curve P-256"));
    assert!(pem_error("rsa1024_public.pem").ends_with("RSA key is shorter than 2048 bits"));
}

#[test]
fn refuses_a_short_hs256_secret_without_printing_it() {
    let error = load_error(|s| s.hs256_secret = Some("short-secret-value".into()));
    assert_eq!(error.setting(), KeySetting::Hs256Secret);
    assert_eq!(error.message(), "must be at least 32 bytes long");
    assert_eq!(
        error.to_string(),
        "HS256 secret: must be at least 32 bytes long"
    );
    assert!(!format!("{error} {error:?}").contains("short-secret-value"));
}

#[test]
fn refuses_an_empty_issuer_or_audience() {
    let error = load_error(|s| s.issuer = String::new());
    assert_eq!(error.setting(), KeySetting::Issuer);
    assert_eq!(error.to_string(), "issuer: must not be empty");
    let error = load_error(|s| s.audience = " ".into());
    assert_eq!(error.to_string(), "audience: must not be empty");
}

fn jwks_error(test: &str, document: &str) -> String {
    let path: PathBuf = scratch_dir(test).join("jwks.json");
    std::fs::write(&path, document).unwrap();
    let message = load_error(|s| s.jwks_file = Some(path.clone())).to_string();
    std::fs::remove_file(&path).unwrap();
    let prefix = format!("JWKS file: {}: ", path.display());
    message
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{message}"))
        .to_owned()
}

fn fixture_jwks_key(index: usize) -> Value {
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(fixture("jwks.json")).unwrap()).unwrap();
    jwks["keys"][index].clone()
}

#[test]
fn refuses_bad_jwks_documents() {
    let mut no_kid = fixture_jwks_key(0);
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut wrong_alg = fixture_jwks_key(0);
    wrong_alg["alg"] = json!("ES256");
    let oct = json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" });
    let duplicate = json!({ "keys": [fixture_jwks_key(0), fixture_jwks_key(0)] }).to_string();
    let cases = [
        (
            "syntax",
            "{ not json".to_owned(),
            "not a JWKS document (line 1, column 3)",
        ),
        (
            "empty",
            json!({ "keys": [] }).to_string(),
            "holds no signature verification keys",
        ),
        (
            "nokid",
            json!({ "keys": [no_kid] }).to_string(),
            "key #0 has no kid",
        ),
        ("dup", duplicate, "kid \"rsa-2026-01\" appears twice"),
        (
            "oct",
            json!({ "keys": [oct] }).to_string(),
            "key \"hmac\": symmetric keys are not accepted",
        ),
        (
            "alg",
            json!({ "keys": [wrong_alg] }).to_string(),
            "key \"rsa-2026-01\": its alg is not RS256, ES256 or EdDSA matching its key type",
        ),
    ];
    for (test, document, expected) in cases {
        assert_eq!(jwks_error(test, &document), expected);
    }
}

#[test]
fn skips_encryption_keys_in_a_jwks() {
    let mut enc = fixture_jwks_key(0);
    enc["use"] = json!("enc");
    enc["alg"] = json!("RSA-OAEP");
    enc["kid"] = json!("encryption");
    let dir = scratch_dir("enc");
    let path = dir.join("jwks.json");
    std::fs::write(
        &path,
        json!({ "keys": [enc, fixture_jwks_key(1)] }).to_string(),
    )
    .unwrap();
    let verifier = verifier(|s| s.jwks_file = Some(path.clone()));
    let debug = format!("{verifier:?}");
    assert!(
        debug.contains("ec-2026-01") && !debug.contains("encryption"),
        "{debug}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn debug_output_never_contains_the_secret() {
    let mut settings = settings();
    all_keys(&mut settings);
    let verifier = JwtVerifier::new(&settings).unwrap();
    for debug in [
        format!("{verifier:?}"),
        format!("{settings:?}"),
        format!("{verifier:#?}"),
    ] {
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains(&SECRET[..12]), "{debug}");
    }
    assert!(format!("{settings:?}").contains("[redacted]"));
    assert!(format!("{verifier:?}").contains("HS256"));
}

#[test]
fn the_verifier_is_cheap_to_share() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<JwtVerifier>();
}
