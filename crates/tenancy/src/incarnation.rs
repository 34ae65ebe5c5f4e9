//! Incarnations: a tenant id names a sequence of tenants over time (an id can be deleted and
//! created again, possibly for another customer). Each creation is a new `Incarnation`, an
//! opaque random string; everything durable or cached about a tenant is keyed by it
//! (`TenantKey`), so nothing of an earlier incarnation can be mistaken for a later one's.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::TenantId;

/// Length of an incarnation: 12 lowercase hex digits (48 random bits). It only has to differ
/// from the other incarnations of the same id, and it is part of the database name.
pub const INCARNATION_LEN: usize = 12;

/// One creation of a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Incarnation(String);

impl Incarnation {
    /// A new, random incarnation.
    pub fn generate() -> Incarnation {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        Incarnation(hex[..INCARNATION_LEN].to_string())
    }

    /// Parses a stored or presented incarnation (12 lowercase hex digits).
    pub fn parse(raw: &str) -> Option<Incarnation> {
        let ok = raw.len() == INCARNATION_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Incarnation(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Incarnation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Incarnation::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom("an incarnation is 12 lowercase hex digits"))
    }
}

/// A tenant id together with its incarnation: the key of every per-tenant cache and piece of
/// in-memory state (budgets, rate limits, dedicated clients, counters, projector work).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantKey {
    pub id: TenantId,
    pub incarnation: Incarnation,
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.incarnation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_incarnations_parse_and_differ() {
        let a = Incarnation::generate();
        let b = Incarnation::generate();
        assert_ne!(a, b);
        assert_eq!(Incarnation::parse(a.as_str()), Some(a));
        for bad in [
            "",
            "0123456789a",
            "0123456789abc",
            "0123456789AB",
            "0123456789ag",
        ] {
            assert_eq!(Incarnation::parse(bad), None, "{bad}");
        }
    }
}
