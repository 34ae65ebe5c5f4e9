//! `AdminKey`: digest parsing, constant-time matching, redaction.

use tenantry_auth::{AdminKey, KeySetting};

const KEY: &str = "test-only-platform-admin-key-4c1d9e";

#[test]
fn digest_hex_of_is_sha256() {
    assert_eq!(
        AdminKey::digest_hex_of("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn matches_only_the_configured_key() {
    let admin = AdminKey::from_sha256_hex(&AdminKey::digest_hex_of(KEY)).unwrap();
    assert!(admin.matches(KEY));
    for wrong in [
        "",
        "test-only-platform-admin-key-4c1d9",
        " test-only-platform-admin-key-4c1d9e",
    ] {
        assert!(!admin.matches(wrong), "{wrong:?}");
    }
    // Upper case and surrounding whitespace (e.g. from a file) are accepted.
    let upper = format!(" {}\n", AdminKey::digest_hex_of(KEY).to_uppercase());
    assert!(AdminKey::from_sha256_hex(&upper).unwrap().matches(KEY));
}

#[test]
fn refuses_anything_but_a_sha256_hex_digest() {
    let digest = AdminKey::digest_hex_of(KEY);
    let empty_key = AdminKey::digest_hex_of("");
    for bad in [
        "",
        &digest[1..],
        &format!("{digest}00"),
        &digest.replace('a', "g"),
        KEY,
        &empty_key,
    ] {
        let error = AdminKey::from_sha256_hex(bad).unwrap_err();
        assert_eq!(error.setting(), KeySetting::AdminKeySha256);
        assert!(
            error.to_string().starts_with("admin key digest: "),
            "{error}"
        );
        assert!(!error.to_string().contains(KEY));
    }
}

#[test]
fn debug_shows_neither_key_nor_digest() {
    let digest = AdminKey::digest_hex_of(KEY);
    let debug = format!("{:?}", AdminKey::from_sha256_hex(&digest).unwrap());
    assert_eq!(debug, "AdminKey([redacted])");
}
