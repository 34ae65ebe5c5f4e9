//! `JwtVerifier::verify`: algorithms, key selection, registered claims, tampering.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tenantry_auth::{Audience, Role, TokenError};

use crate::support::*;

fn unsupported(alg: &str) -> Result<tenantry_auth::Claims, TokenError> {
    Err(TokenError::UnsupportedAlgorithm(alg.into()))
}

#[test]
fn accepts_each_algorithm_with_its_configured_key() {
    let verifier = verifier(all_keys);
    let claims = valid_claims();
    let tokens = [
        hs256(&claims),
        rs256(&claims),
        sign(
            Algorithm::ES256,
            Signer::Pem("ec_private.pem"),
            None,
            &claims,
        ),
        sign(
            Algorithm::EdDSA,
            Signer::Pem("ed25519_private.pem"),
            None,
            &claims,
        ),
        sign(
            Algorithm::RS256,
            Signer::Pem("rsa2_private.pem"),
            Some(RSA_JWKS_KID),
            &claims,
        ),
        sign(
            Algorithm::ES256,
            Signer::Pem("ec2_private.pem"),
            Some(EC_JWKS_KID),
            &claims,
        ),
    ];
    for token in tokens {
        let verified = verifier.verify(&token).unwrap();
        assert_eq!(verified.sub, "user-1");
        assert_eq!(verified.iss, ISSUER);
        assert_eq!(verified.aud, Audience::One(AUDIENCE.into()));
        assert_eq!(verified.tid.as_deref(), Some("acme"));
        assert!(verified.has_role(Role::Member) && !verified.has_role(Role::Admin));
        assert!(verified.authorises_tenant("acme"));
    }
}

#[test]
fn rejects_alg_none() {
    let verifier = verifier(all_keys);
    let claims = valid_claims();
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "JWT" });
        assert_eq!(
            verifier.verify(&raw_token(&header, &claims, "")),
            unsupported(alg)
        );
        // A signature copied from a genuine token does not help.
        let genuine = hs256(&claims);
        let signature = genuine.rsplit('.').next().unwrap();
        assert_eq!(
            verifier.verify(&raw_token(&header, &claims, signature)),
            unsupported(alg)
        );
    }
}

#[test]
fn rejects_algorithms_outside_the_accepted_four() {
    let verifier = verifier(all_keys);
    let claims = valid_claims();
    let hs512 = sign(
        Algorithm::HS512,
        Signer::Secret(SECRET.as_bytes()),
        None,
        &claims,
    );
    assert_eq!(verifier.verify(&hs512), unsupported("HS512"));
    let ps256 = sign(
        Algorithm::PS256,
        Signer::Pem("rsa_private.pem"),
        None,
        &claims,
    );
    assert_eq!(verifier.verify(&ps256), unsupported("PS256"));
    // Header junk is not echoed into the error.
    let header = json!({ "alg": "none\nINJECTED log line" });
    assert_eq!(
        verifier.verify(&raw_token(&header, &claims, "")),
        unsupported("(invalid)")
    );
}

#[test]
fn rejects_hs256_signed_with_the_rsa_public_key_as_secret() {
    let public_pem = std::fs::read(fixture("rsa_public.pem")).unwrap();
    let claims = valid_claims();
    let forged = sign(Algorithm::HS256, Signer::Secret(&public_pem), None, &claims);

    let rsa_only = verifier(|s| s.public_key_paths = vec![fixture("rsa_public.pem")]);
    assert_eq!(rsa_only.verify(&forged), unsupported("HS256"));
    // Naming the JWKS RSA key by kid does not make it an HMAC key either.
    let jwks_public = serde_json::to_vec(&jwks_key(RSA_JWKS_KID)).unwrap();
    let forged_kid = sign(
        Algorithm::HS256,
        Signer::Secret(&jwks_public),
        Some(RSA_JWKS_KID),
        &claims,
    );
    let jwks_only = verifier(|s| s.jwks_file = Some(fixture("jwks.json")));
    assert_eq!(jwks_only.verify(&forged_kid), unsupported("HS256"));

    // With a (different) HS256 secret configured the forgery is just a bad signature.
    let with_secret = verifier(|s| {
        s.public_key_paths = vec![fixture("rsa_public.pem")];
        s.hs256_secret = Some(SECRET.into());
    });
    assert_eq!(with_secret.verify(&forged), Err(TokenError::BadSignature));
}

fn jwks_key(kid: &str) -> Value {
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(fixture("jwks.json")).unwrap()).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .clone()
}

#[test]
fn rejects_a_header_alg_that_does_not_match_the_key_type() {
    let claims = valid_claims();
    let rsa_only = verifier(|s| s.public_key_paths = vec![fixture("rsa_public.pem")]);
    let es256 = sign(
        Algorithm::ES256,
        Signer::Pem("ec_private.pem"),
        None,
        &claims,
    );
    assert_eq!(rsa_only.verify(&es256), unsupported("ES256"));
    let eddsa = sign(
        Algorithm::EdDSA,
        Signer::Pem("ed25519_private.pem"),
        None,
        &claims,
    );
    assert_eq!(rsa_only.verify(&eddsa), unsupported("EdDSA"));

    // An RS256 signature relabelled ES256 is checked as ES256 against EC keys only.
    let rsa_and_ec = verifier(|s| {
        s.public_key_paths = vec![fixture("rsa_public.pem"), fixture("ec_public.pem")]
    });
    let relabelled = with_header(&rs256(&claims), &json!({ "alg": "ES256", "typ": "JWT" }));
    assert_eq!(
        rsa_and_ec.verify(&relabelled),
        Err(TokenError::BadSignature)
    );

    // A kid naming the JWKS RSA key with alg ES256 is refused before any signature check.
    let jwks = verifier(|s| s.jwks_file = Some(fixture("jwks.json")));
    let mismatched = sign(
        Algorithm::ES256,
        Signer::Pem("ec2_private.pem"),
        Some(RSA_JWKS_KID),
        &claims,
    );
    assert_eq!(jwks.verify(&mismatched), unsupported("ES256"));
}

#[test]
fn hs256_is_accepted_only_with_a_configured_secret() {
    let claims = valid_claims();
    let token = hs256(&claims);
    let no_secret = verifier(|s| s.public_key_paths = vec![fixture("rsa_public.pem")]);
    assert_eq!(no_secret.verify(&token), unsupported("HS256"));

    let other_secret = verifier(|s| s.hs256_secret = Some(format!("{SECRET}-but-another-one")));
    assert_eq!(other_secret.verify(&token), Err(TokenError::BadSignature));

    let secret = verifier(|s| s.hs256_secret = Some(SECRET.into()));
    assert!(secret.verify(&token).is_ok());
}

#[test]
fn a_kid_in_the_jwks_pins_that_key() {
    let claims = valid_claims();
    let verifier = verifier(|s| {
        s.public_key_paths = vec![fixture("rsa_public.pem")];
        s.jwks_file = Some(fixture("jwks.json"));
    });
    // Signed by the PEM key but claiming the JWKS key: only the JWKS key is tried.
    let wrong_key = sign(
        Algorithm::RS256,
        Signer::Pem("rsa_private.pem"),
        Some(RSA_JWKS_KID),
        &claims,
    );
    assert_eq!(verifier.verify(&wrong_key), Err(TokenError::BadSignature));
    let right_key = sign(
        Algorithm::RS256,
        Signer::Pem("rsa2_private.pem"),
        Some(RSA_JWKS_KID),
        &claims,
    );
    assert!(verifier.verify(&right_key).is_ok());
}

#[test]
fn an_unknown_kid_falls_back_to_keys_without_a_kid_only() {
    let claims = valid_claims();
    let jwks_only = verifier(|s| s.jwks_file = Some(fixture("jwks.json")));
    let unknown = sign(
        Algorithm::RS256,
        Signer::Pem("rsa2_private.pem"),
        Some("gone"),
        &claims,
    );
    assert_eq!(jwks_only.verify(&unknown), Err(TokenError::UnknownKey));

    let with_pem = verifier(|s| {
        s.public_key_paths = vec![fixture("rsa_public.pem")];
        s.jwks_file = Some(fixture("jwks.json"));
    });
    let pem_signed = sign(
        Algorithm::RS256,
        Signer::Pem("rsa_private.pem"),
        Some("pem"),
        &claims,
    );
    assert!(with_pem.verify(&pem_signed).is_ok());
    assert_eq!(with_pem.verify(&unknown), Err(TokenError::BadSignature));
}

#[test]
fn without_a_kid_every_key_of_the_algorithm_is_tried() {
    let claims = valid_claims();
    let verifier = verifier(|s| {
        s.public_key_paths = vec![fixture("rsa_public.pem"), fixture("ec_public.pem")];
        s.jwks_file = Some(fixture("jwks.json"));
    });
    for (alg, private) in [
        (Algorithm::RS256, "rsa_private.pem"),
        (Algorithm::RS256, "rsa2_private.pem"),
        (Algorithm::ES256, "ec_private.pem"),
        (Algorithm::ES256, "ec2_private.pem"),
    ] {
        let token = sign(alg, Signer::Pem(private), None, &claims);
        assert!(verifier.verify(&token).is_ok(), "{private}");
    }
    let unknown_signer = sign(
        Algorithm::EdDSA,
        Signer::Pem("ed25519_private.pem"),
        None,
        &claims,
    );
    assert_eq!(verifier.verify(&unknown_signer), unsupported("EdDSA"));
}

#[test]
fn registered_claims_are_required() {
    let verifier = verifier(all_keys);
    for claim in ["exp", "iss", "aud", "sub"] {
        let mut claims = valid_claims();
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            verifier.verify(&rs256(&claims)),
            Err(TokenError::MissingClaim(claim))
        );
        assert_eq!(
            verifier.verify(&hs256(&claims)),
            Err(TokenError::MissingClaim(claim))
        );
    }
    let mut empty_sub = valid_claims();
    empty_sub["sub"] = json!("");
    assert_eq!(
        verifier.verify(&rs256(&empty_sub)),
        Err(TokenError::MissingClaim("sub"))
    );
    // jsonwebtoken counts an `exp` that is not a number as absent.
    let mut bad_exp = valid_claims();
    bad_exp["exp"] = json!("tomorrow");
    assert_eq!(
        verifier.verify(&rs256(&bad_exp)),
        Err(TokenError::MissingClaim("exp"))
    );
    let mut bad_nbf = valid_claims();
    bad_nbf["nbf"] = json!("soon");
    assert_eq!(
        verifier.verify(&rs256(&bad_nbf)),
        Err(TokenError::Malformed)
    );
}

#[test]
fn issuer_and_audience_must_match() {
    let verifier = verifier(all_keys);
    let mut claims = valid_claims();
    claims["iss"] = json!("https://evil.test");
    assert_eq!(verifier.verify(&rs256(&claims)), Err(TokenError::BadIssuer));

    let mut claims = valid_claims();
    claims["aud"] = json!("another-api");
    assert_eq!(
        verifier.verify(&rs256(&claims)),
        Err(TokenError::BadAudience)
    );
    claims["aud"] = json!(["another-api", "third-api"]);
    assert_eq!(
        verifier.verify(&rs256(&claims)),
        Err(TokenError::BadAudience)
    );
    claims["aud"] = json!(["another-api", AUDIENCE]);
    let verified = verifier.verify(&rs256(&claims)).unwrap();
    assert!(verified.aud.contains(AUDIENCE));
}

#[test]
fn expiry_is_enforced_with_leeway() {
    let claims_expiring = |exp: i64| {
        let mut claims = valid_claims();
        claims["exp"] = json!(exp);
        claims
    };
    let verifier_30s = verifier(all_keys);
    assert!(
        verifier_30s
            .verify(&rs256(&claims_expiring(now() - 10)))
            .is_ok()
    );
    assert_eq!(
        verifier_30s.verify(&rs256(&claims_expiring(now() - 120))),
        Err(TokenError::Expired)
    );

    let verifier_0s = verifier(|s| {
        all_keys(s);
        s.leeway_secs = 0;
    });
    assert_eq!(
        verifier_0s.verify(&rs256(&claims_expiring(now() - 10))),
        Err(TokenError::Expired)
    );
}

#[test]
fn not_before_is_honoured_with_leeway() {
    let verifier = verifier(all_keys);
    let mut claims = valid_claims();
    claims["nbf"] = json!(now() + 10);
    assert!(verifier.verify(&rs256(&claims)).is_ok());
    claims["nbf"] = json!(now() + 120);
    assert_eq!(
        verifier.verify(&rs256(&claims)),
        Err(TokenError::NotYetValid)
    );
    assert_eq!(
        verifier.verify(&hs256(&claims)),
        Err(TokenError::NotYetValid)
    );
}

#[test]
fn tampered_tokens_are_rejected() {
    let verifier = verifier(all_keys);
    let claims = valid_claims();
    for token in [
        hs256(&claims),
        rs256(&claims),
        sign(
            Algorithm::ES256,
            Signer::Pem("ec_private.pem"),
            None,
            &claims,
        ),
        sign(
            Algorithm::EdDSA,
            Signer::Pem("ed25519_private.pem"),
            None,
            &claims,
        ),
    ] {
        // Flip one bit of the signature's first byte (first base64 character).
        let (message, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let bad_signature = format!("{message}.{flipped}{}", &signature[1..]);
        assert_eq!(
            verifier.verify(&bad_signature),
            Err(TokenError::BadSignature)
        );

        // Escalate the payload and keep the original signature.
        let mut escalated = claims.clone();
        escalated["roles"] = json!(["admin", "platform-admin"]);
        let (header, _) = token.split_once('.').unwrap();
        let forged = format!("{header}.{}.{signature}", b64(&escalated));
        assert_eq!(verifier.verify(&forged), Err(TokenError::BadSignature));
    }
}

#[test]
fn malformed_tokens_are_rejected() {
    let verifier = verifier(all_keys);
    let token = rs256(&valid_claims());
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let oversized = format!("{header}.{payload}{}.{signature}", "A".repeat(20_000));
    for bad in [
        "",
        "not-a-token",
        "a.b",
        "a.b.c",
        &format!("{token}.extra"),
        &format!("!!!.{rest}"),
        &format!("{}.{rest}", b64(&json!("just a string"))),
        &format!("{header}.{rest}!"),
        &oversized,
    ] {
        assert_eq!(verifier.verify(bad), Err(TokenError::Malformed), "{bad}");
    }
}

#[test]
fn a_verifier_without_keys_rejects_everything() {
    let verifier = verifier(|_| {});
    assert!(!verifier.has_keys());
    assert_eq!(
        verifier.verify(&rs256(&valid_claims())),
        Err(TokenError::NoKeysConfigured)
    );
    assert!(self::verifier(all_keys).has_keys());
}

#[test]
fn error_messages_do_not_echo_the_token() {
    let verifier = verifier(all_keys);
    let mut claims = valid_claims();
    claims["iss"] = json!("issuer-marker-xyz");
    let error = verifier.verify(&rs256(&claims)).unwrap_err();
    assert_eq!(error.to_string(), "token issuer is not accepted");
    for error in [
        TokenError::Malformed,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::BadSignature,
        TokenError::BadAudience,
        TokenError::MissingClaim("exp"),
        TokenError::UnsupportedAlgorithm("none".into()),
        TokenError::UnknownKey,
        TokenError::NoKeysConfigured,
    ] {
        let message = error.to_string();
        assert!(
            message.starts_with("token") || message.starts_with("no token"),
            "{message}"
        );
        assert!(!message.contains("user-1") && !message.contains(SECRET));
    }
}
