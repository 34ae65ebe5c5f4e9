//! Request and response shapes of the admin API (`TenantView`, `TenantForCreate`, ...).

use serde_json::{Map, Value};
use tenancy::TenantId;
use tenancy::{
    Isolation, Plan, TenantAuth, TenantLimits, TenantName, TenantPatch, TenantSpec, parse_domain,
};
use utoipa::ToSchema;

pub use crate::views::TenantView;

use crate::extract::{Fields, JsonObject};
use crate::http::ApiError;

/// `POST /admin/tenants` body (documentation shape; parsed by `tenant_for_create`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantForCreate {
    /// DNS label `^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$`, not a reserved word.
    id: String,
    name: String,
    /// Default `free`.
    plan: Option<String>,
    /// A configured cluster; default `default`.
    cluster: Option<String>,
    isolation: Option<Isolation>,
    /// Custom domains that select this tenant.
    domains: Option<Vec<String>>,
    /// The tenant's own identity provider; one of another tenant: 409 `issuer_taken`.
    auth: Option<TenantAuth>,
}

/// `PATCH /admin/tenants/{id}` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantForUpdate {
    name: Option<String>,
    plan: Option<String>,
    limits: Option<TenantLimits>,
    /// Replaces the custom domains; one of another tenant: 409 `domain_taken`.
    domains: Option<Vec<String>>,
    /// Sets the tenant's own identity provider (`null` removes it); an issuer of another
    /// tenant: 409 `issuer_taken`.
    auth: Option<TenantAuth>,
}

/// A page of tenants.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantList {
    items: Vec<TenantView>,
    next_cursor: Option<String>,
}

/// `POST /admin/tenants/{id}/tokens` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenForCreate {
    sub: String,
    /// `viewer`, `member`, `admin`.
    roles: Vec<String>,
    /// 1..2592000, default 3600.
    ttl_seconds: Option<u64>,
}

/// A minted token.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenView {
    token: String,
    expires_at: String,
}

/// A name or plan, parsed by its type in `tenancy`; a bad one is a field error.
fn parsed<T>(
    f: &mut Fields,
    field: &str,
    raw: Option<String>,
    parse: fn(&str) -> Result<T, String>,
) -> Option<T> {
    match parse(raw.as_deref()?) {
        Ok(value) => Some(value),
        Err(message) => {
            f.reject(field, message);
            None
        }
    }
}

fn parse_domains(f: &mut Fields, raw: Vec<String>) -> Vec<String> {
    let mut domains = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        match parse_domain(d) {
            Ok(d) if !domains.contains(&d) => domains.push(d),
            Ok(_) => f.reject(&format!("domains[{i}]"), "is listed twice"),
            Err(message) => f.reject(&format!("domains[{i}]"), message),
        }
    }
    domains
}

/// `auth`: `{"issuer": "https://...", "audience": "..."}`.
fn parse_auth(f: &mut Fields, map: Map<String, Value>) -> Option<TenantAuth> {
    let mut nested = Fields::nested(map, "auth");
    let issuer: Option<String> = nested.required("issuer");
    let audience: Option<String> = nested.required("audience");
    let auth = match (issuer, audience) {
        (Some(issuer), Some(audience)) => match TenantAuth::parse(&issuer, &audience) {
            Ok(auth) => Some(auth),
            Err(message) if message.contains("audience") => {
                nested.reject("audience", message);
                None
            }
            Err(message) => {
                nested.reject("issuer", message);
                None
            }
        },
        _ => None,
    };
    f.absorb(nested);
    auth
}

/// `POST /admin/tenants` body → a `TenantSpec`. A bad id is `invalid_tenant_id` (docs/API.md).
pub fn tenant_for_create(body: JsonObject, default_cluster: &str) -> Result<TenantSpec, ApiError> {
    let mut f = Fields::new(body);
    let id: Option<String> = f.required("id");
    let name: Option<String> = f.required("name");
    let plan: Option<String> = f.optional("plan");
    let cluster: Option<String> = f.optional("cluster");
    let isolation: Option<String> = f.optional("isolation");
    let domains: Option<Vec<String>> = f.optional("domains");
    let auth: Option<Map<String, Value>> = f.optional("auth");
    let name = parsed(&mut f, "name", name, TenantName::parse);
    let plan = parsed(&mut f, "plan", plan, Plan::parse);
    let auth = auth.and_then(|map| parse_auth(&mut f, map));
    let isolation = match isolation.as_deref().map(Isolation::parse) {
        None => Some(Isolation::Shared),
        Some(Some(i)) => Some(i),
        Some(None) => {
            f.reject("isolation", "must be 'shared' or 'dedicated'");
            None
        }
    };
    let domains = parse_domains(&mut f, domains.unwrap_or_default());
    f.finish()?;
    let (Some(id), Some(name), Some(isolation)) = (id, name, isolation) else {
        return Err(ApiError::field("$", "incomplete body"));
    };
    Ok(TenantSpec {
        id: TenantId::parse(&id)?,
        name,
        plan: plan.unwrap_or_else(Plan::default_plan),
        cluster: cluster.unwrap_or_else(|| default_cluster.to_string()),
        isolation,
        domains,
        auth,
    })
}

/// `PATCH /admin/tenants/{id}` body → a `TenantPatch` (name, plan, limits, domains, auth).
pub fn tenant_patch(body: JsonObject) -> Result<TenantPatch, ApiError> {
    let mut f = Fields::new(body);
    let name: Option<String> = f.optional("name");
    let plan: Option<String> = f.optional("plan");
    let limits: Option<Map<String, Value>> = f.optional("limits");
    let domains: Option<Vec<String>> = f.optional("domains");
    let auth: Option<Option<Map<String, Value>>> = f.nullable("auth");
    let name = parsed(&mut f, "name", name, TenantName::parse);
    let plan = parsed(&mut f, "plan", plan, Plan::parse);
    let auth = auth.map(|auth| auth.and_then(|map| parse_auth(&mut f, map)));
    let limits = limits.map(|map| {
        let mut nested = Fields::nested(map, "limits");
        let max: Option<u32> = nested.optional("max_concurrent_requests");
        let rate: Option<u32> = nested.optional("requests_per_second");
        for (name, value) in [
            ("max_concurrent_requests", max),
            ("requests_per_second", rate),
        ] {
            if value == Some(0) {
                nested.reject(name, "must be at least 1");
            }
        }
        f.absorb(nested);
        TenantLimits {
            max_concurrent_requests: max,
            requests_per_second: rate,
        }
    });
    let domains = domains.map(|d| parse_domains(&mut f, d));
    f.finish()?;
    Ok(TenantPatch {
        name,
        plan,
        limits,
        domains,
        auth,
    })
}
