//! The tenant record kept in the catalog: identity, lifecycle status, placement and limits.

use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

use crate::{Incarnation, TenantId, TenantKey};

/// Lifecycle: `provisioning` → `active` ⇄ `suspended` → `deleting` → (gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Provisioning,
    Active,
    Suspended,
    Deleting,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Provisioning => "provisioning",
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Deleting => "deleting",
        }
    }

    pub fn parse(raw: &str) -> Option<TenantStatus> {
        [
            Self::Provisioning,
            Self::Active,
            Self::Suspended,
            Self::Deleting,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// Whether the tenant shares its cluster's connection pool or gets a small pool of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    #[default]
    Shared,
    Dedicated,
}

impl Isolation {
    pub fn parse(raw: &str) -> Option<Isolation> {
        match raw {
            "shared" => Some(Isolation::Shared),
            "dedicated" => Some(Isolation::Dedicated),
            _ => None,
        }
    }
}

/// Per-tenant limits; `None` means the platform default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantLimits {
    /// Concurrent database operations this tenant may hold on its cluster's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub max_concurrent_requests: Option<u32>,
    /// Requests per second this tenant may send (429 `rate_limited` beyond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub requests_per_second: Option<u32>,
}

/// A tenant's display name: 1 to 200 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<TenantName, String> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_CHARS {
            return Err(format!("must have 1 to {} characters", Self::MAX_CHARS));
        }
        Ok(TenantName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's plan label: 1 to 64 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan(String);

impl Plan {
    /// The plan of a tenant created without one.
    pub const DEFAULT: &'static str = "free";

    pub fn parse(raw: &str) -> Result<Plan, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Plan(raw.to_string()))
        } else {
            Err("must be 1 to 64 characters of [A-Za-z0-9_-]".to_string())
        }
    }

    pub fn default_plan() -> Plan {
        Plan(Self::DEFAULT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's own identity provider: its tokens (`iss` = `issuer`, `aud` = `audience`) act for
/// this tenant only. An issuer belongs to one tenant at most.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantAuth {
    /// The issuer URL, exactly as in its tokens' `iss` (https).
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
}

impl TenantAuth {
    /// Checks an issuer setting: an `https://` URL (plain `http://` only on a loopback host, for
    /// development), no query or fragment. Kept exactly as given (a trailing slash included):
    /// tokens' `iss` must match it to the character, as OpenID Connect requires.
    pub fn parse(issuer: &str, audience: &str) -> Result<TenantAuth, String> {
        let issuer = issuer.trim();
        let rest = issuer
            .strip_prefix("https://")
            .or_else(|| {
                issuer.strip_prefix("http://").filter(|r| {
                    ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
                        r == h || r.starts_with(&format!("{h}:")) || r.starts_with(&format!("{h}/"))
                    })
                })
            })
            .ok_or_else(|| format!("'{issuer}' is not an https:// issuer URL"))?;
        if rest.is_empty()
            || rest.starts_with('/')
            || rest.contains(|c: char| c.is_whitespace() || c == '?' || c == '#')
            || issuer.len() > 512
        {
            return Err(format!("'{issuer}' is not an issuer URL"));
        }
        let audience = audience.trim();
        if audience.is_empty() || audience.len() > 512 {
            return Err("the audience must be 1 to 512 characters".to_string());
        }
        Ok(TenantAuth {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        })
    }
}

/// A tenant as stored in the catalog (`_id` is the tenant id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    #[serde(rename = "_id")]
    pub id: TenantId,
    /// This creation of the id (new on every creation; see `incarnation`).
    pub incarnation: Incarnation,
    pub name: String,
    pub status: TenantStatus,
    pub plan: String,
    pub cluster: String,
    pub database: String,
    pub isolation: Isolation,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub limits: TenantLimits,
    /// Its own identity provider, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<TenantAuth>,
    pub schema_version: u32,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

impl Tenant {
    /// The key of everything kept about this incarnation of the tenant.
    pub fn key(&self) -> TenantKey {
        TenantKey {
            id: self.id.clone(),
            incarnation: self.incarnation.clone(),
        }
    }

    /// A plausible active tenant on the default cluster, for unit tests of other modules.
    #[doc(hidden)]
    pub fn sample(id: &str) -> Tenant {
        let now = DateTime::now();
        let id = TenantId::parse(id).unwrap_or_else(|e| panic!("sample tenant id {id}: {e}"));
        let incarnation = Incarnation::generate();
        Tenant {
            database: id.database_name(&crate::DbPrefix::default(), &incarnation),
            id,
            incarnation,
            name: "Sample".into(),
            status: TenantStatus::Active,
            plan: "free".into(),
            cluster: crate::clusters::DEFAULT_CLUSTER.into(),
            isolation: Isolation::Shared,
            domains: vec![],
            limits: TenantLimits::default(),
            auth: None,
            schema_version: 0,
            created_at: now,
            updated_at: now,
        }
    }
}

/// What an operator asks for when creating a tenant, defaults applied.
///
/// Kept so that repeating a create is recognised as the same request (200) or another one (409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSpec {
    pub id: TenantId,
    pub name: TenantName,
    pub plan: Plan,
    pub cluster: String,
    pub isolation: Isolation,
    pub domains: Vec<String>,
    pub auth: Option<TenantAuth>,
}

impl TenantSpec {
    /// Whether `tenant` was created from this spec.
    pub fn matches(&self, tenant: &Tenant) -> bool {
        let mut mine = self.domains.clone();
        let mut theirs = tenant.domains.clone();
        mine.sort();
        theirs.sort();
        self.id == tenant.id
            && self.name.as_str() == tenant.name
            && self.plan.as_str() == tenant.plan
            && self.cluster == tenant.cluster
            && self.isolation == tenant.isolation
            && self.auth == tenant.auth
            && mine == theirs
    }
}

/// A partial update of a tenant's settings (`PATCH /admin/tenants/{id}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantPatch {
    pub name: Option<TenantName>,
    pub plan: Option<Plan>,
    pub limits: Option<TenantLimits>,
    pub domains: Option<Vec<String>>,
    /// `Some(None)` removes the tenant's own identity provider.
    pub auth: Option<Option<TenantAuth>>,
}

/// Normalises and checks a custom domain: a lowercase host name of DNS labels.
pub fn parse_domain(raw: &str) -> Result<String, String> {
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.len() > 253 || domain.split('.').count() < 2 || !domain.split('.').all(label_ok) {
        return Err(format!("'{raw}' is not a valid domain name"));
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_plans() {
        use super::{Plan, TenantName};
        assert_eq!(
            TenantName::parse("  Acme Inc. ").unwrap().as_str(),
            "Acme Inc."
        );
        assert!(TenantName::parse("   ").is_err());
        assert!(TenantName::parse(&"é".repeat(200)).is_ok());
        assert!(TenantName::parse(&"x".repeat(201)).is_err());
        assert!(Plan::parse("pro_2-x").is_ok());
        for bad in ["", "pro plan", "p.x", &"p".repeat(65)] {
            assert!(Plan::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Plan::default_plan().as_str(), Plan::DEFAULT);
    }

    #[test]
    fn issuers_are_https_urls_normalised() {
        use super::TenantAuth;
        let auth = TenantAuth::parse(" https://login.acme.com/ ", "tenantry").unwrap();
        assert_eq!(auth.issuer, "https://login.acme.com/");
        assert!(TenantAuth::parse("https://acme.eu.auth0.com/tenant/", "a").is_ok());
        assert!(TenantAuth::parse("http://127.0.0.1:5556", "a").is_ok());
        for bad in [
            "http://login.acme.com",
            "http://127.0.0.1.evil.com",
            "https://",
            "https:///x",
            "https://login.acme.com?x=1",
            "login.acme.com",
        ] {
            assert!(TenantAuth::parse(bad, "a").is_err(), "{bad}");
        }
        assert!(TenantAuth::parse("https://login.acme.com", " ").is_err());
    }

    use super::*;

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(
            parse_domain("Shop.Acme.COM."),
            Ok("shop.acme.com".to_string())
        );
        for bad in ["localhost", "a..b", "-a.com", "a_b.com", "", "exa mple.com"] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_round_trips() {
        for s in ["provisioning", "active", "suspended", "deleting"] {
            assert_eq!(TenantStatus::parse(s).map(TenantStatus::as_str), Some(s));
        }
        assert_eq!(TenantStatus::parse("gone"), None);
    }
}
