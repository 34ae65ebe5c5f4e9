//! The tenant-resolution middleware of every `/v1` route.
//!
//! 1. authenticate the bearer JWT (401): Tenantry's own, a trusted provider's, or a tenant's own
//!    provider's (which then names its tenant, as a selector bound to the token);
//! 2. read the explicit selectors: `X-Tenant-ID`, and the host (subdomain of a base domain, or a
//!    registered custom domain), each only if enabled;
//! 3. decide the tenant with `tenancy::resolution::decide` (400 conflict/required, 403 mismatch —
//!    decided before any catalog lookup, so a mismatch never reveals whether a tenant exists);
//! 4. look the tenant up in the cached catalog (404 unknown, 403 suspended, 503 unavailable),
//!    check that the token was issued for this incarnation of it (401 `token_revoked`: a token
//!    of a deleted tenant never reaches the next tenant with the same id) and its request rate
//!    (429);
//! 5. attach `TenantContext` and `Principal` to the request.

use crate::http::ProblemCode;
use std::sync::Arc;
use std::time::Instant;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use tenancy::resolution::{HostSelector, TokenTenants, decide};
use tenancy::{Tenant, TenantContext, TenantId, TenantStatus};

use crate::auth::{Principal, bearer_token, verify_bearer};
use crate::http::{ApiError, RequestId};
use crate::prometheus::ServedTenant;
use crate::state::AppState;

pub const X_TENANT_ID: &str = "x-tenant-id";

pub async fn resolve_tenant(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let claims = verify_bearer(&state, bearer_token(request.headers())?).await?;
    let header = header_selector(&state, request.headers())?;
    let host = host_selector(&state, request.headers()).await?;
    let token = TokenTenants {
        tid: claims.tid.as_deref(),
        tenants: &claims.tenants,
    };
    let id = decide(host, header, token)?;
    let tenant = available_tenant(&state, &id).await?;
    claims.check_incarnation(
        tenant.id.as_str(),
        tenant.incarnation.as_str(),
        tenant.created_at.timestamp_millis().div_euclid(1000),
    )?;
    if let Err(wait) = state.rate_limits.check(&tenant) {
        return Err(ApiError {
            retry_after_secs: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
            ..ApiError::new(
                ProblemCode::RateLimited,
                "the tenant's request rate is exceeded",
            )
        });
    }
    let traced = state.config.otel.is_some();
    crate::telemetry::record_tenant(&tracing::Span::current(), id.as_str(), &claims.sub, traced);
    let key = tenant.key();
    let context = TenantContext::new(tenant, claims.sub.clone());
    request.extensions_mut().insert(context);
    request.extensions_mut().insert(Principal { claims });
    let mut response = next.run(request).await;
    state
        .activity
        .record(&key, response.status(), started.elapsed());
    response.extensions_mut().insert(ServedTenant(id));
    Ok(response)
}

fn header_selector(state: &AppState, headers: &HeaderMap) -> Result<Option<TenantId>, ApiError> {
    if !state.config.resolution.header {
        return Ok(None);
    }
    let Some(value) = headers.get(X_TENANT_ID) else {
        return Ok(None);
    };
    let raw = value
        .to_str()
        .map_err(|_| ApiError::from(tenancy::InvalidTenantId::Charset))?;
    Ok(Some(TenantId::parse(raw.trim())?))
}

async fn host_selector(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<TenantId>, ApiError> {
    let name = if state.config.trust_forwarded_host {
        "x-forwarded-host"
    } else {
        header::HOST.as_str()
    };
    let Some(host) = headers.get(name).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    // A forwarded list names the original host first.
    let host = host.split(',').next().unwrap_or("").trim();
    match state.config.resolution.classify_host(host) {
        HostSelector::None => Ok(None),
        HostSelector::Subdomain(label) => Ok(Some(TenantId::parse(&label)?)),
        HostSelector::CustomDomain(domain) => Ok(state.catalog.tenant_of_domain(&domain).await?),
    }
}

async fn available_tenant(state: &AppState, id: &TenantId) -> Result<Arc<Tenant>, ApiError> {
    let tenant = state
        .catalog
        .tenant(id)
        .await?
        .ok_or_else(|| tenancy::TenancyError::NotFound(id.clone()))?;
    match tenant.status {
        TenantStatus::Active => Ok(tenant),
        TenantStatus::Suspended => Err(ApiError::new(
            ProblemCode::TenantSuspended,
            format!("tenant '{id}' is suspended"),
        )),
        TenantStatus::Provisioning | TenantStatus::Deleting => Err(ApiError {
            retry_after_secs: Some(5),
            ..ApiError::new(
                ProblemCode::TenantUnavailable,
                format!("tenant '{id}' is {}", tenant.status.as_str()),
            )
        }),
    }
}

/// The resolved tenant and caller of a `/v1` request. A handler that takes `Tenanted` cannot run
/// without a resolved tenant.
pub struct Tenanted {
    pub ctx: TenantContext,
    pub principal: Principal,
    pub request_id: RequestId,
}

/// The explicit tenant selectors of `/v1` routes, the headers this extractor reads (the JWT's
/// `tid` decides when neither a header nor a host names the tenant).
impl utoipa::IntoParams for Tenanted {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let tenant_id = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(3))
            .max_length(Some(32))
            .pattern(Some("^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$"));
        let header = |name: &str, description: &str, schema: ObjectBuilder| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build()
        };
        vec![
            header(
                "X-Tenant-ID",
                "Names the tenant; must be authorised by the token. A tenant id: a DNS label, not one of the reserved words (`admin`, `api`, `www`, ...).",
                tenant_id,
            ),
            header(
                "X-Request-Id",
                "Echoed on the response; generated when absent.",
                ObjectBuilder::new().schema_type(Type::String),
            ),
        ]
    }
}

impl Tenanted {
    /// Wraps a command or query for the buses, with this request's tenant, id and actor.
    pub fn envelope<M>(&self, message: M) -> cqrs::Envelope<M> {
        cqrs::Envelope::new(self.ctx.clone(), self.request_id.as_str(), message)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tenanted {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let ctx = parts.extensions.get::<TenantContext>().cloned();
        let principal = parts.extensions.get::<Principal>().cloned();
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_default();
        match (ctx, principal) {
            (Some(ctx), Some(principal)) => Ok(Tenanted {
                ctx,
                principal,
                request_id,
            }),
            _ => Err(ApiError::internal(&MissingResolution)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("route mounted outside the tenant-resolution middleware")]
struct MissingResolution;
