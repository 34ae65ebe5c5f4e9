//! The claims of a verified token and the authorisation questions asked of them.

use serde::{Deserialize, Serialize};

use crate::{Role, TokenError};

/// The role that makes a subject a platform administrator. It is not part of the tenant role
/// hierarchy: it neither implies nor is implied by [`Role::Admin`].
pub(crate) const PLATFORM_ADMIN: &str = "platform-admin";

/// The claims of a verified token.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: Audience,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The tenant the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// The incarnation of `tid` the token was issued for (tokens minted by Tenantry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tinc: Option<String>,
    /// Further tenants the token is valid for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// The `aud` claim: a single string or an array of strings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

impl Claims {
    /// Whether the token may act on `tenant_id`: it is the `tid` or listed in `tenants`.
    pub fn authorises_tenant(&self, tenant_id: &str) -> bool {
        !tenant_id.is_empty()
            && (self.tid.as_deref() == Some(tenant_id)
                || self.tenants.iter().any(|t| t == tenant_id))
    }

    /// Whether one of the token's roles includes `role` (`admin` ⊇ `member` ⊇ `viewer`).
    /// Unknown role names, including `platform-admin`, grant no tenant role.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles
            .iter()
            .filter_map(|r| r.parse::<Role>().ok())
            .any(|held| held.includes(role))
    }

    pub fn is_platform_admin(&self) -> bool {
        self.roles.iter().any(|r| r == PLATFORM_ADMIN)
    }

    /// Whether the token may act on this incarnation of a tenant (created at `created_at`, unix
    /// seconds): a `tinc` for this tenant must name the incarnation; otherwise the token must
    /// have been issued (`iat`) no earlier than the incarnation's creation second. A token of an
    /// earlier incarnation — the previous owner of a re-created id — is `Revoked`, and so is a
    /// token that cannot tell (no `tinc`, no `iat`).
    pub fn check_incarnation(
        &self,
        tenant_id: &str,
        incarnation: &str,
        created_at: i64,
    ) -> Result<(), TokenError> {
        match (&self.tinc, self.tid.as_deref() == Some(tenant_id)) {
            (Some(tinc), true) if tinc == incarnation => Ok(()),
            (Some(_), true) => Err(TokenError::Revoked),
            _ => match self.iat {
                Some(iat) if iat >= created_at => Ok(()),
                _ => Err(TokenError::Revoked),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(roles: &[&str]) -> Claims {
        Claims {
            sub: "user-1".into(),
            iss: "iss".into(),
            aud: Audience::One("aud".into()),
            exp: 0,
            nbf: None,
            iat: None,
            tid: Some("acme".into()),
            tinc: None,
            tenants: vec!["globex".into()],
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn role_hierarchy() {
        let admin = claims(&["admin"]);
        assert!(admin.has_role(Role::Admin));
        assert!(admin.has_role(Role::Member));
        assert!(admin.has_role(Role::Viewer));

        let member = claims(&["member"]);
        assert!(!member.has_role(Role::Admin));
        assert!(member.has_role(Role::Member) && member.has_role(Role::Viewer));

        let viewer = claims(&["viewer", "owner", "ADMIN"]);
        assert!(viewer.has_role(Role::Viewer) && !viewer.has_role(Role::Member));
        assert!(!claims(&[]).has_role(Role::Viewer));
    }

    #[test]
    fn platform_admin_is_separate_from_tenant_roles() {
        let platform = claims(&["platform-admin"]);
        assert!(platform.is_platform_admin());
        assert!(!platform.has_role(Role::Viewer));
        assert!(!claims(&["admin"]).is_platform_admin());
    }

    #[test]
    fn tenant_authorisation() {
        let c = claims(&[]);
        assert!(c.authorises_tenant("acme"));
        assert!(c.authorises_tenant("globex"));
        assert!(!c.authorises_tenant("initech"));
        assert!(!c.authorises_tenant(""));
        let no_tid = Claims {
            tid: None,
            tenants: vec![],
            ..c
        };
        assert!(!no_tid.authorises_tenant("acme"));
    }

    #[test]
    fn tokens_are_bound_to_an_incarnation() {
        let minted = Claims {
            tinc: Some("aaaaaaaaaaaa".into()),
            iat: Some(100),
            ..claims(&[])
        };
        assert_eq!(minted.check_incarnation("acme", "aaaaaaaaaaaa", 50), Ok(()));
        assert_eq!(
            minted.check_incarnation("acme", "bbbbbbbbbbbb", 50),
            Err(TokenError::Revoked),
            "another incarnation of the same id"
        );
        // `tinc` binds `tid` only: for a tenant in `tenants` the issue time decides.
        assert_eq!(
            minted.check_incarnation("globex", "cccccccccccc", 100),
            Ok(())
        );
        assert_eq!(
            minted.check_incarnation("globex", "cccccccccccc", 101),
            Err(TokenError::Revoked)
        );
        let external = Claims {
            iat: Some(1_000),
            ..claims(&[])
        };
        assert_eq!(external.check_incarnation("acme", "x", 1_000), Ok(()));
        assert_eq!(
            external.check_incarnation("acme", "x", 1_001),
            Err(TokenError::Revoked),
            "issued before the incarnation was created"
        );
        assert_eq!(
            claims(&[]).check_incarnation("acme", "x", 0),
            Err(TokenError::Revoked),
            "no tinc and no iat: cannot tell"
        );
    }

    #[test]
    fn audience_is_a_string_or_an_array() {
        let one: Claims =
            serde_json::from_str(r#"{"sub":"u","iss":"i","aud":"api","exp":1,"extra":true}"#)
                .unwrap();
        assert_eq!(one.aud, Audience::One("api".into()));
        assert!(one.aud.contains("api") && !one.aud.contains("other"));
        assert!(one.roles.is_empty() && one.tid.is_none());

        let many: Claims =
            serde_json::from_str(r#"{"sub":"u","iss":"i","aud":["x","api"],"exp":1}"#).unwrap();
        assert!(many.aud.contains("api") && many.aud.contains("x") && !many.aud.contains("y"));
    }
}
