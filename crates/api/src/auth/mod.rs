//! Authentication at the HTTP edge: reading the bearer credential, choosing its verifier by
//! issuer (`tokens`), the platform-admin guard for `/admin`, and role checks for tenant routes.
//! Verification itself lives in `tenantry-auth`.

mod admin;
mod bearer;
mod principal;
mod tokens;

pub use admin::require_platform_admin;
pub use bearer::bearer_token;
pub use principal::Principal;
pub use tokens::verify_bearer;
