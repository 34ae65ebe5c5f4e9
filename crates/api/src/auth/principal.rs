//! `Principal`: the verified caller of a tenant route, and its role checks.

use tenantry_auth::{Claims, Role};

use crate::http::ApiError;

#[derive(Debug, Clone)]
pub struct Principal {
    pub claims: Claims,
}

impl Principal {
    /// 403 `forbidden` unless the token carries `role` (or a higher one).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.claims.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this action needs the '{}' role",
                role.as_str()
            )))
        }
    }
}
