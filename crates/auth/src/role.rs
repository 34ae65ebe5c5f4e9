//! Tenant roles and their hierarchy: `Admin` ⊇ `Member` ⊇ `Viewer`.

use std::fmt;
use std::str::FromStr;

/// A role within a tenant. The order is the hierarchy: a higher role includes the lower ones.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Member, Role::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    /// Whether holding `self` grants what `required` grants.
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `viewer`, `member` or `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected viewer, member or admin)")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(UnknownRole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!("Admin".parse::<Role>(), Err(UnknownRole));
        assert_eq!("platform-admin".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn hierarchy() {
        assert!(Role::Admin.includes(Role::Member) && Role::Admin.includes(Role::Viewer));
        assert!(Role::Member.includes(Role::Viewer) && !Role::Member.includes(Role::Admin));
        assert!(!Role::Viewer.includes(Role::Member));
    }

    #[test]
    fn serde_uses_lowercase_names() {
        assert_eq!(serde_json::to_string(&Role::Member).unwrap(), "\"member\"");
        assert_eq!(
            serde_json::from_str::<Role>("\"admin\"").unwrap(),
            Role::Admin
        );
    }
}
