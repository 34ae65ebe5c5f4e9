//! `TenantId`: the one validated form of a tenant identifier.
//!
//! A tenant id becomes part of a database name, a host name and log lines, so it is parsed once at
//! the edge and never built from an unchecked string anywhere else. Owns: the syntax rules and the
//! reserved words. Does not know about databases beyond deriving a name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::incarnation::{INCARNATION_LEN, Incarnation};

/// Words that can never be tenant ids: they collide with our own host names and databases.
pub const RESERVED_TENANT_IDS: [&str; 9] = [
    "admin", "api", "www", "app", "system", "config", "local", "catalog", "internal",
];

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 32;

/// A tenant id: a DNS label `^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$`, not a reserved word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

/// Why a string is not a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTenantId {
    #[error("a tenant id has 3 to 32 characters")]
    Length,
    #[error("a tenant id uses only lowercase letters, digits and '-'")]
    Charset,
    #[error("a tenant id starts and ends with a letter or digit")]
    Edge,
    #[error("'{0}' is a reserved word")]
    Reserved(String),
}

impl TenantId {
    /// Parses a tenant id; the only way to obtain one.
    pub fn parse(raw: &str) -> Result<TenantId, InvalidTenantId> {
        if !(MIN_LEN..=MAX_LEN).contains(&raw.len()) {
            return Err(InvalidTenantId::Length);
        }
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !raw.bytes().all(|b| allowed(b) || b == b'-') {
            return Err(InvalidTenantId::Charset);
        }
        let bytes = raw.as_bytes();
        if !allowed(bytes[0]) || !allowed(bytes[bytes.len() - 1]) {
            return Err(InvalidTenantId::Edge);
        }
        if RESERVED_TENANT_IDS.contains(&raw) {
            return Err(InvalidTenantId::Reserved(raw.to_string()));
        }
        Ok(TenantId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The database of one incarnation of the tenant: `<prefix><id>_<incarnation>`, `-` kept.
    /// Each incarnation gets a database of its own, so a re-created id can never see (or be
    /// written into by a straggler of) its predecessor's database. Ids never contain `_`, so
    /// the name splits back unambiguously (`parse_database_name`).
    pub fn database_name(&self, prefix: &DbPrefix, incarnation: &Incarnation) -> String {
        format!("{}{}_{}", prefix.as_str(), self.0, incarnation)
    }

    /// The tenant id and incarnation a database name was derived from, if it was.
    pub fn parse_database_name(prefix: &DbPrefix, name: &str) -> Option<(TenantId, Incarnation)> {
        let rest = name.strip_prefix(prefix.as_str())?;
        let (id, incarnation) = rest.rsplit_once('_')?;
        Some((TenantId::parse(id).ok()?, Incarnation::parse(incarnation)?))
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        TenantId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The prefix of tenant database names (default `t_`).
///
/// Validated so that prefix + the longest tenant id + `_` + an incarnation is a legal MongoDB
/// database name (at most 63 bytes, no `/\. "$` or NUL): the prefix has at most 18 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPrefix(String);

impl DbPrefix {
    pub fn parse(raw: &str) -> Result<DbPrefix, String> {
        let legal = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if raw.is_empty() || !raw.chars().all(legal) {
            return Err(format!(
                "'{raw}' must be non-empty and use only [A-Za-z0-9_-]"
            ));
        }
        if raw.len() + MAX_LEN + 1 + INCARNATION_LEN > 63 {
            return Err(format!(
                "'{raw}' is too long: prefix + tenant id + incarnation must fit 63 bytes (a prefix has at most 18)"
            ));
        }
        Ok(DbPrefix(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for DbPrefix {
    fn default() -> Self {
        DbPrefix("t_".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matches_contract(s: &str) -> bool {
        let b = s.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        (3..=32).contains(&b.len())
            && edge(b[0])
            && edge(b[b.len() - 1])
            && b.iter().all(|&c| edge(c) || c == b'-')
            && !RESERVED_TENANT_IDS.contains(&s)
    }

    #[test]
    fn accepts_dns_labels() {
        for ok in ["acme", "a-b", "abc", "t0-9x", &"a".repeat(32)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        let cases = [
            ("ab", InvalidTenantId::Length),
            (&"a".repeat(33), InvalidTenantId::Length),
            ("Acme", InvalidTenantId::Charset),
            ("ac_me", InvalidTenantId::Charset),
            ("ac.me", InvalidTenantId::Charset),
            ("ac$me", InvalidTenantId::Charset),
            ("-acme", InvalidTenantId::Edge),
            ("acme-", InvalidTenantId::Edge),
            ("admin", InvalidTenantId::Reserved("admin".into())),
            ("catalog", InvalidTenantId::Reserved("catalog".into())),
        ];
        for (raw, why) in cases {
            assert_eq!(TenantId::parse(raw), Err(why), "{raw}");
        }
    }

    #[test]
    fn database_names_carry_the_incarnation_and_split_back() {
        let id = TenantId::parse("acme-eu").unwrap();
        let inc = Incarnation::parse("0123456789ab").unwrap();
        let prefix = DbPrefix::default();
        let name = id.database_name(&prefix, &inc);
        assert_eq!(name, "t_acme-eu_0123456789ab");
        assert_eq!(
            TenantId::parse_database_name(&prefix, &name),
            Some((id, inc))
        );
        for foreign in [
            "t_acme-eu",
            "x_acme_0123456789ab",
            "t_ab_0123456789ab",
            "tenantry_catalog",
        ] {
            assert_eq!(
                TenantId::parse_database_name(&prefix, foreign),
                None,
                "{foreign}"
            );
        }
    }

    #[test]
    fn prefix_rules() {
        assert!(DbPrefix::parse("tenant_").is_ok());
        assert!(DbPrefix::parse("").is_err());
        assert!(DbPrefix::parse("a.b").is_err());
        assert!(DbPrefix::parse(&"p".repeat(18)).is_ok());
        assert!(DbPrefix::parse(&"p".repeat(19)).is_err());
    }

    proptest! {
        #[test]
        fn parse_agrees_with_the_contract_regex(s in "\\PC{0,40}") {
            prop_assert_eq!(TenantId::parse(&s).is_ok(), matches_contract(&s));
        }

        #[test]
        fn near_misses_agree_with_the_contract(s in "[a-z0-9A-Z._$/ -]{0,34}") {
            prop_assert_eq!(TenantId::parse(&s).is_ok(), matches_contract(&s));
        }

        #[test]
        fn every_accepted_id_is_a_safe_database_name(s in "[a-z0-9][a-z0-9-]{1,30}[a-z0-9]") {
            if let Ok(id) = TenantId::parse(&s) {
                let prefix = DbPrefix::parse(&"p".repeat(18)).unwrap();
                let name = id.database_name(&prefix, &Incarnation::generate());
                prop_assert!(name.len() <= 63);
                prop_assert!(!name.contains(['/', '\\', '.', ' ', '"', '$', '\0']));
            }
        }
    }
}
