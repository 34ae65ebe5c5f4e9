//! Which verifier a `/v1` bearer token goes to, by the `iss` it claims (read before anything is
//! verified, to choose; every path then verifies signature, `iss`, `aud`, `exp` and `nbf`):
//!
//! 1. Tenantry's own issuer (`TENANTRY_JWT_ISSUER`): the configured keys;
//! 2. a trusted OpenID Connect provider (`TENANTRY_OIDC_ISSUERS`): its published keys, its claims
//!    mapped onto tenant and roles;
//! 3. a tenant's own identity provider (`auth.issuer` of a tenant): its published keys; the
//!    token acts for that tenant only, whatever its claims say;
//! 4. anything else: 401.

use tenancy::TenantStatus;
use tenantry_auth::oidc::{IssuerSettings, OidcVerifier};
use tenantry_auth::{Claims, TokenError};

use crate::http::ApiError;
use crate::state::AppState;

pub async fn verify_bearer(state: &AppState, token: &str) -> Result<Claims, ApiError> {
    let issuer = OidcVerifier::issuer_of(token)?;
    if issuer == state.config.jwt_issuer {
        return Ok(state.verifier.verify(token)?);
    }
    if state.oidc.trusts(&issuer) {
        return Ok(state.oidc.verify_trusted(token).await?);
    }
    verify_tenant_issuer(state, &issuer, token).await
}

async fn verify_tenant_issuer(
    state: &AppState,
    issuer: &str,
    token: &str,
) -> Result<Claims, ApiError> {
    let unknown = || ApiError::from(TokenError::BadIssuer);
    // A catalog outage answers 503 (`From<Arc<TenancyError>>`), never "unknown issuer".
    let Some(id) = state.catalog.tenant_of_issuer(issuer).await? else {
        return Err(unknown());
    };
    let Some(tenant) = state.catalog.tenant(&id).await? else {
        return Err(unknown());
    };
    // The claim may be stale (the tenant changed its issuer, or is going away).
    let Some(auth) = tenant
        .auth
        .as_ref()
        .filter(|a| a.issuer == issuer && tenant.status != TenantStatus::Deleting)
    else {
        return Err(unknown());
    };
    let settings = IssuerSettings::new(&auth.issuer, &auth.audience);
    Ok(state
        .oidc
        .verify_for_tenant(token, tenant.id.as_str(), &settings)
        .await?)
}
