//! A trusted identity provider: what its tokens must say (`iss`, `aud`, algorithms) and how its
//! claims map onto Tenantry's: which claim names the tenant, which the roles, and which of its
//! role names mean `viewer`, `member` or `admin`. A provider's token never makes a platform
//! administrator: only Tenantry's own tokens and the admin key do.

use std::collections::BTreeMap;

use jsonwebtoken::Algorithm;
use serde_json::Value;

use super::ClaimPath;
use crate::{Audience, Claims, Role, TokenError};

/// A provider Tenantry accepts tokens from.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// Its `iss`, exactly (a trailing slash included); its discovery document is under it.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    /// The claim naming the tenant (a string; an array of strings names several). `None`: the
    /// issuer is one tenant's own, and [`IssuerSettings::claims`] is told which.
    pub tenant_claim: Option<ClaimPath>,
    /// The claim holding the roles (an array of strings, or one string).
    pub roles_claim: ClaimPath,
    /// The provider's role names → Tenantry's roles. Empty: names are taken as they are, and
    /// only `viewer`, `member` and `admin` mean anything.
    pub role_map: BTreeMap<String, Role>,
    /// The signature algorithms accepted (never HS256: a provider's keys are public).
    pub algorithms: Vec<Algorithm>,
}

/// The algorithms a provider may sign with unless configured otherwise.
pub const PROVIDER_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

impl IssuerSettings {
    /// Settings with the usual claims (`tid`, `roles`), no role mapping, every algorithm.
    pub fn new(issuer: &str, audience: &str) -> IssuerSettings {
        IssuerSettings {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            tenant_claim: Some(ClaimPath::key("tid")),
            roles_claim: ClaimPath::key("roles"),
            role_map: BTreeMap::new(),
            algorithms: PROVIDER_ALGORITHMS.to_vec(),
        }
    }

    /// Tenantry's claims of a verified token: registered claims as they are, the tenant from
    /// `tenant_claim` (or `bound_tenant`, which wins: a tenant's own issuer names its tenant
    /// whatever the token says), roles mapped.
    pub(crate) fn claims(
        &self,
        token: &Value,
        bound_tenant: Option<&str>,
    ) -> Result<Claims, TokenError> {
        let text = |name: &'static str| {
            token
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or(TokenError::MissingClaim(name))
        };
        let number = |name: &str| token.get(name).and_then(Value::as_i64);
        let aud: Audience =
            serde_json::from_value(token.get("aud").cloned().unwrap_or(Value::Null))
                .map_err(|_| TokenError::MissingClaim("aud"))?;
        let (tid, tenants) = match (bound_tenant, &self.tenant_claim) {
            (Some(tenant), _) => (Some(tenant.to_owned()), Vec::new()),
            (None, Some(path)) => match path.find(token) {
                Some(Value::String(one)) => (Some(one.clone()), Vec::new()),
                Some(Value::Array(many)) => (None, strings(many)),
                _ => (None, Vec::new()),
            },
            (None, None) => (None, Vec::new()),
        };
        Ok(Claims {
            sub: text("sub")?,
            iss: text("iss")?,
            aud,
            exp: number("exp").ok_or(TokenError::MissingClaim("exp"))?,
            nbf: number("nbf"),
            iat: number("iat"),
            tid,
            tinc: None,
            tenants,
            roles: self.roles(token),
        })
    }

    fn roles(&self, token: &Value) -> Vec<String> {
        let names = match self.roles_claim.find(token) {
            Some(Value::Array(many)) => strings(many),
            Some(Value::String(one)) => one.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        let mut roles: Vec<String> = names
            .iter()
            .filter_map(|name| match self.role_map.is_empty() {
                true => name.parse::<Role>().ok(),
                false => self.role_map.get(name).copied(),
            })
            .map(|role| role.as_str().to_owned())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

fn strings(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(extra: Value) -> Value {
        let mut token = json!({"sub": "u1", "iss": "https://login.example.com", "aud": "api",
                               "exp": 4_000_000_000_i64, "iat": 1_700_000_000});
        if let (Some(token), Some(extra)) = (token.as_object_mut(), extra.as_object()) {
            token.extend(extra.clone());
        }
        token
    }

    #[test]
    fn tenant_and_roles_from_configured_paths_with_a_role_map() {
        let mut settings = IssuerSettings::new("https://login.example.com/", "api");
        assert_eq!(settings.issuer, "https://login.example.com/");
        settings.tenant_claim = ClaimPath::parse("https://example.com/tid").ok();
        settings.roles_claim = ClaimPath::parse("realm_access.roles").unwrap();
        settings.role_map = BTreeMap::from([
            ("editor".to_owned(), Role::Member),
            ("reader".to_owned(), Role::Viewer),
        ]);
        let claims = settings
            .claims(
                &token(json!({
                    "https://example.com/tid": "acme",
                    "realm_access": {"roles": ["editor", "reader", "platform-admin", "admin"]},
                })),
                None,
            )
            .unwrap();
        assert_eq!(claims.tid.as_deref(), Some("acme"));
        assert_eq!(claims.roles, ["member", "viewer"]);
        assert!(!claims.is_platform_admin());
        assert_eq!(claims.tinc, None);
    }

    #[test]
    fn unmapped_names_count_only_as_tenant_roles_never_platform_admin() {
        let settings = IssuerSettings::new("https://login.example.com", "api");
        let claims = settings
            .claims(
                &token(json!({"tid": ["a", "b"], "roles": ["admin", "platform-admin", "x"]})),
                None,
            )
            .unwrap();
        assert_eq!(claims.roles, ["admin"]);
        assert_eq!(
            (claims.tid, claims.tenants),
            (None, vec!["a".into(), "b".into()])
        );
        // Space-separated roles in one string (a `scope`-like claim).
        let claims = settings
            .claims(&token(json!({"roles": "viewer member"})), None)
            .unwrap();
        assert_eq!(claims.roles, ["member", "viewer"]);
    }

    #[test]
    fn a_bound_tenant_wins_over_any_claim() {
        let settings = IssuerSettings::new("https://login.acme.com", "api");
        let claims = settings
            .claims(
                &token(json!({"tid": "globex", "tenants": ["globex"]})),
                Some("acme"),
            )
            .unwrap();
        assert_eq!(claims.tid.as_deref(), Some("acme"));
        assert!(claims.tenants.is_empty());
        assert!(!claims.authorises_tenant("globex"));
    }

    #[test]
    fn registered_claims_are_required() {
        let settings = IssuerSettings::new("https://login.example.com", "api");
        let mut no_sub = token(json!({}));
        no_sub.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            settings.claims(&no_sub, None),
            Err(TokenError::MissingClaim("sub"))
        );
    }
}
