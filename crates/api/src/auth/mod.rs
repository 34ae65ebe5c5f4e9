//! Authentication at the HTTP edge: reading the bearer credential, the platform-admin guard for
//! `/admin`, and role checks for tenant routes. Verification itself lives in `tenantry-auth`.

mod admin;
mod bearer;
mod principal;

pub use admin::require_platform_admin;
pub use bearer::bearer_token;
pub use principal::Principal;
