//! Loading verification keys from the settings: the HS256 secret, PEM public key files (RSA,
//! EC P-256, Ed25519, told apart by their contents) and a JWKS file. Every key is checked when
//! loaded, so a bad key fails at startup rather than on the first request.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::settings::JwtSettings;
use crate::{KeyError, KeySetting};

/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
const MIN_HS256_SECRET_BYTES: usize = 32;
const MIN_RSA_BITS: usize = 2048;

/// A key the verifier may check signatures with. `alg` is the only algorithm it accepts.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
    /// Where the key came from, for `Debug`: a setting name or a file path.
    source: String,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Loads every configured key; no keys at all is not an error.
pub(crate) fn load(settings: &JwtSettings) -> Result<Vec<VerifyingKey>, KeyError> {
    let mut keys = Vec::new();
    if let Some(secret) = &settings.hs256_secret {
        keys.push(hs256_key(secret)?);
    }
    for path in &settings.public_key_paths {
        keys.push(pem_key(path)?);
    }
    if let Some(path) = &settings.jwks_file {
        keys.extend(jwks_keys(path)?);
    }
    Ok(keys)
}

fn hs256_key(secret: &str) -> Result<VerifyingKey, KeyError> {
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(KeyError::new(
            KeySetting::Hs256Secret,
            format!("must be at least {MIN_HS256_SECRET_BYTES} bytes long"),
        ));
    }
    Ok(VerifyingKey {
        alg: Algorithm::HS256,
        kid: None,
        key: DecodingKey::from_secret(secret.as_bytes()),
        source: KeySetting::Hs256Secret.to_string(),
    })
}

fn pem_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let fail = |message: &str| {
        KeyError::new(
            KeySetting::PublicKeys,
            format!("{}: {message}", path.display()),
        )
    };
    let bytes = std::fs::read(path).map_err(|e| fail(&format!("cannot read: {e}")))?;
    let pem = String::from_utf8(bytes).map_err(|_| fail("not a PEM public key"))?;
    if pem.contains("PRIVATE KEY") {
        return Err(fail("holds a private key; configure the public key only"));
    }
    let public = pem.contains("-----BEGIN PUBLIC KEY-----")
        || pem.contains("-----BEGIN RSA PUBLIC KEY-----");
    if !public || pem.matches("-----BEGIN ").count() != 1 {
        return Err(fail(
            "not a PEM public key (expected exactly one PUBLIC KEY block)",
        ));
    }
    let pem = pem.as_bytes();
    let (alg, key) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        (Algorithm::RS256, key)
    } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        (Algorithm::ES256, key)
    } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        (Algorithm::EdDSA, key)
    } else {
        return Err(fail("not an RSA, EC P-256 or Ed25519 public key"));
    };
    check_key(&key, alg).map_err(fail)?;
    Ok(VerifyingKey {
        alg,
        kid: None,
        key,
        source: path.display().to_string(),
    })
}

fn jwks_keys(path: &Path) -> Result<Vec<VerifyingKey>, KeyError> {
    let fail = |message: String| {
        KeyError::new(
            KeySetting::JwksFile,
            format!("{}: {message}", path.display()),
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "not a JWKS document (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;

    let mut keys: Vec<VerifyingKey> = Vec::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            continue;
        }
        let Some(kid) = jwk.common.key_id.clone().filter(|kid| !kid.is_empty()) else {
            return Err(fail(format!("key #{index} has no kid")));
        };
        if keys.iter().any(|k| k.kid.as_deref() == Some(kid.as_str())) {
            return Err(fail(format!("kid {kid:?} appears twice")));
        }
        let key = jwk_key(jwk).map_err(|message| fail(format!("key {kid:?}: {message}")))?;
        keys.push(VerifyingKey {
            kid: Some(kid),
            ..key
        });
    }
    if keys.is_empty() {
        return Err(fail("holds no signature verification keys".to_owned()));
    }
    Ok(keys)
}

/// The signature keys of a provider's published JWKS, each as strict as a configured one; keys
/// Tenantry cannot use (encryption keys, other types, weak ones, without a `kid`) are left out
/// and listed with the reason.
pub(crate) fn published_keys(set: &JwkSet, source: &str) -> (Vec<VerifyingKey>, Vec<String>) {
    let mut keys: Vec<VerifyingKey> = Vec::new();
    let mut left_out = Vec::new();
    for jwk in &set.keys {
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            continue;
        }
        let Some(kid) = jwk.common.key_id.clone().filter(|kid| !kid.is_empty()) else {
            left_out.push("a key without kid".to_owned());
            continue;
        };
        if keys.iter().any(|k| k.kid.as_deref() == Some(kid.as_str())) {
            left_out.push(format!("{kid:?}: published twice"));
            continue;
        }
        match jwk_key(jwk) {
            Ok(key) => keys.push(VerifyingKey {
                kid: Some(kid),
                source: source.to_owned(),
                ..key
            }),
            Err(reason) => left_out.push(format!("{kid:?}: {reason}")),
        }
    }
    (keys, left_out)
}

fn jwk_key(jwk: &Jwk) -> Result<VerifyingKey, &'static str> {
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are not accepted"),
        _ => return Err("unsupported key type (expected RSA, EC P-256 or Ed25519)"),
    };
    if jwk
        .common
        .key_algorithm
        .is_some_and(|declared| declared != KeyAlgorithm::from(alg))
    {
        return Err("its alg is not RS256, ES256 or EdDSA matching its key type");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "invalid key parameters")?;
    check_key(&key, alg)?;
    Ok(VerifyingKey {
        alg,
        kid: None,
        key,
        source: KeySetting::JwksFile.to_string(),
    })
}

/// Rejects keys that would fail (or be weak) at verification time: RSA under 2048 bits, EC
/// keys not on P-256, points that do not decode.
fn check_key(key: &DecodingKey, alg: Algorithm) -> Result<(), &'static str> {
    const INVALID: &str = "not a valid public key";
    // Decomposing the key parses it (and checks EC/Ed25519 point lengths).
    let jwk = Jwk::from_decoding_key(key, Some(alg)).map_err(|_| INVALID)?;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = URL_SAFE_NO_PAD.decode(&rsa.n).map_err(|_| INVALID)?;
            if significant_bits(&n) < MIN_RSA_BITS {
                return Err("RSA key is shorter than 2048 bits");
            }
        }
        AlgorithmParameters::EllipticCurve(ec) if ec.curve != EllipticCurve::P256 => {
            return Err("EC key is not on curve P-256");
        }
        _ => {}
    }
    // Building a verifier decodes EC and Ed25519 points; the signature check itself fails.
    jsonwebtoken::crypto::verify("", b"", key, alg)
        .map(|_| ())
        .map_err(|_| INVALID)
}

fn significant_bits(big_endian: &[u8]) -> usize {
    match big_endian.iter().position(|&b| b != 0) {
        Some(i) => (big_endian.len() - i) * 8 - big_endian[i].leading_zeros() as usize,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::significant_bits;

    #[test]
    fn counts_significant_bits() {
        assert_eq!(significant_bits(&[]), 0);
        assert_eq!(significant_bits(&[0, 0]), 0);
        assert_eq!(significant_bits(&[0, 1]), 1);
        assert_eq!(significant_bits(&[0x80, 0]), 16);
        assert_eq!(significant_bits(&[0, 0x7f, 0xff]), 15);
    }
}
