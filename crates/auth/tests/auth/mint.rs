//! `TokenMinter`: minted tokens verify, carry the request, and nothing leaks through `Debug`.

use jsonwebtoken::Algorithm;
use tenantry_auth::{MintRequest, Role, TokenError, TokenMinter};

use crate::support::*;

fn request() -> MintRequest {
    MintRequest {
        sub: "dev-user".into(),
        tenant_id: Some("acme".into()),
        incarnation: Some("0123456789ab".into()),
        roles: vec!["admin".into()],
        ttl_seconds: 600,
    }
}

#[test]
fn minted_tokens_verify_and_carry_the_request() {
    let minter = TokenMinter::new(SECRET, ISSUER, AUDIENCE);
    let before = now();
    let minted = minter.mint(&request()).unwrap();
    assert!((before + 600..=now() + 600).contains(&minted.expires_at));
    assert_eq!(
        jsonwebtoken::decode_header(&minted.token).unwrap().alg,
        Algorithm::HS256
    );

    let claims = verifier(|s| s.hs256_secret = Some(SECRET.into()))
        .verify(&minted.token)
        .unwrap();
    assert_eq!(claims.sub, "dev-user");
    assert_eq!(claims.exp, minted.expires_at);
    assert!(claims.iat.is_some_and(|iat| iat >= before));
    assert!(claims.authorises_tenant("acme") && !claims.authorises_tenant("globex"));
    assert!(claims.has_role(Role::Admin) && !claims.is_platform_admin());
    assert_eq!(claims.tinc.as_deref(), Some("0123456789ab"));
}

#[test]
fn minted_tokens_only_verify_with_the_same_settings() {
    let token = TokenMinter::new(SECRET, ISSUER, AUDIENCE)
        .mint(&request())
        .unwrap()
        .token;
    let other_secret = verifier(|s| s.hs256_secret = Some(format!("{SECRET}-rotated")));
    assert_eq!(other_secret.verify(&token), Err(TokenError::BadSignature));
    let rsa_only = verifier(|s| s.public_key_paths = vec![fixture("rsa_public.pem")]);
    assert_eq!(
        rsa_only.verify(&token),
        Err(TokenError::UnsupportedAlgorithm("HS256".into()))
    );

    let other_issuer = TokenMinter::new(SECRET, "https://other.test", AUDIENCE);
    let token = other_issuer.mint(&request()).unwrap().token;
    let verifier = verifier(|s| s.hs256_secret = Some(SECRET.into()));
    assert_eq!(verifier.verify(&token), Err(TokenError::BadIssuer));
}

#[test]
fn refuses_an_empty_subject_or_an_unrepresentable_expiry() {
    let minter = TokenMinter::new(SECRET, ISSUER, AUDIENCE);
    let no_sub = MintRequest {
        sub: String::new(),
        ..request()
    };
    assert_eq!(minter.mint(&no_sub), Err(TokenError::MissingClaim("sub")));
    let forever = MintRequest {
        ttl_seconds: u64::MAX,
        ..request()
    };
    assert_eq!(minter.mint(&forever), Err(TokenError::Malformed));
}

#[test]
fn debug_output_never_contains_the_secret_or_the_token() {
    let minter = TokenMinter::new(SECRET, ISSUER, AUDIENCE);
    let minted = minter.mint(&request()).unwrap();
    let debug = format!("{minter:?} {minted:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains(&minted.token),
        "{debug}"
    );
    assert!(debug.contains("[redacted]"));
}
