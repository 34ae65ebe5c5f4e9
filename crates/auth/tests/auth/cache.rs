//! The cache of verified tokens changes nothing but the cost: every answer equals a full
//! verification's, expiry is rechecked on each use, and only the exact token bytes hit.

use std::time::Duration;

use tenantry_auth::TokenError;

use crate::support::*;

#[test]
fn a_cached_token_gives_the_same_claims_as_a_full_verification() {
    let cached = verifier(|s| s.hs256_secret = Some(SECRET.into()));
    let uncached = verifier(|s| {
        s.hs256_secret = Some(SECRET.into());
        s.cache_capacity = 0;
    });
    let token = hs256(&valid_claims());
    let first = cached.verify(&token).unwrap();
    let again = cached.verify(&token).unwrap();
    assert_eq!(first, again);
    assert_eq!(again, uncached.verify(&token).unwrap());
}

#[test]
fn a_cached_token_is_refused_once_it_expires() {
    let verifier = verifier(|s| {
        s.hs256_secret = Some(SECRET.into());
        s.leeway_secs = 0;
    });
    let mut claims = valid_claims();
    claims["exp"] = (now() + 1).into();
    let token = hs256(&claims);
    assert!(verifier.verify(&token).is_ok());
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(verifier.verify(&token), Err(TokenError::Expired));
    // And it stays refused (the entry is gone, the full verification says the same).
    assert_eq!(verifier.verify(&token), Err(TokenError::Expired));
}

#[test]
fn only_the_exact_token_hits_the_cache() {
    let verifier = verifier(|s| s.hs256_secret = Some(SECRET.into()));
    let token = hs256(&valid_claims());
    assert!(verifier.verify(&token).is_ok());
    // The same header and claims with a forged signature, and the genuine token with bytes
    // appended, are verified in full and refused.
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", "A".repeat(43));
    assert_eq!(verifier.verify(&forged), Err(TokenError::BadSignature));
    assert!(verifier.verify(&format!("{token}x")).is_err());
    // A failure is not remembered either: the genuine token still verifies.
    assert!(verifier.verify(&token).is_ok());
}

#[test]
fn failures_are_not_cached() {
    let verifier = verifier(|s| s.hs256_secret = Some(SECRET.into()));
    let mut claims = valid_claims();
    claims["nbf"] = (now() + 3600).into();
    let early = hs256(&claims);
    for _ in 0..2 {
        assert_eq!(verifier.verify(&early), Err(TokenError::NotYetValid));
    }
}
