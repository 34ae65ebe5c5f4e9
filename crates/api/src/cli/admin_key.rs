//! `tenantry admin-key`: a new random admin key and the SHA-256 to configure
//! (`TENANTRY_ADMIN_KEY_SHA256`); the key is shown once and stored nowhere.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Serialize;
use tenantry_auth::AdminKey;

use super::CliError;
use super::output::Output;

#[derive(Serialize)]
struct NewKey {
    key: String,
    sha256: String,
}

pub fn run(out: Output) -> Result<(), CliError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = URL_SAFE_NO_PAD.encode(bytes);
    let sha256 = AdminKey::digest_hex_of(&key);
    if out.json {
        return out.json(&NewKey { key, sha256 });
    }
    out.line(&format!(
        "admin key (give it to the operators; shown once): {key}"
    ))?;
    out.line(&format!("TENANTRY_ADMIN_KEY_SHA256={sha256}"))
}
