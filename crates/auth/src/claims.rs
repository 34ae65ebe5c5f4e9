//! The claims of a verified token and the authorisation questions asked of them.

use serde::{Deserialize, Serialize};

use crate::Role;

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
