//! The OpenAPI 3.1 document, generated from the code: every route is registered through
//! `utoipa_axum::routes!`, so a route without its `#[utoipa::path]` cannot exist and the document
//! cannot drift from the router. Served at `/openapi.json`, with Swagger UI (vendored, no CDN)
//! at `/docs`.

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::http::FieldError;

mod problems;

pub use problems::{AdminErrors, BodyErrors, TenantErrors};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tenantry",
        description = "Multi-tenant REST API: database-per-tenant on MongoDB, CQRS. Errors are RFC 9457 problem documents (`application/problem+json`); every response carries `X-Request-Id`. Any route answers 400 `malformed_request` to an ambiguous request (a repeated `Host`, `X-Tenant-ID`, `Authorization`, `Idempotency-Key`, `If-Match` or `X-Min-Position`; a `Host` that is not `host[:port]`; a path or query that is not UTF-8 once percent-decoded), and 503 `unavailable` with `Retry-After` to a connection beyond the server's connection limit.",
    ),
    modifiers(&SecuritySchemes),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "admin", description = "Platform administration (admin key or platform-admin token)"),
        (name = "tenant", description = "The resolved tenant"),
        (name = "products", description = "Catalog: commands and queries"),
        (name = "orders", description = "Orders: commands and queries"),
        (name = "reports", description = "Reports from projections"),
    )
)]
pub struct ApiDoc;

/// Bearer JWT for `/v1`, the admin API key (also a bearer credential) for `/admin`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let jwt = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("HS256/RS256/ES256/EdDSA token with `iss`, `aud`, `exp`, `sub`, and `tid` or `tenants`; `roles`."))
            .build();
        let admin = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The platform admin API key, or a JWT whose `roles` contain `platform-admin`.",
            ))
            .build();
        components.add_security_scheme("jwt", SecurityScheme::Http(jwt));
        components.add_security_scheme("admin_key", SecurityScheme::Http(admin));
    }
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:tenantry:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable, machine-readable code; its status and title are always the same.
    pub code: crate::http::ProblemCode,
    /// The `X-Request-Id` of the request.
    pub request_id: String,
    /// Validation errors, one per bad field (`lines[0].qty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// The document of this deployment: a new tenant's `cluster` is one of the configured ones.
pub fn name_clusters(openapi: &mut utoipa::openapi::OpenApi, clusters: &[&str]) {
    use utoipa::openapi::{RefOr, Schema};
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for name in ["TenantForCreate", "MoveForCreate"] {
        let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(name) else {
            continue;
        };
        if let Some(RefOr::T(Schema::Object(cluster))) = body.properties.get_mut("cluster") {
            cluster.enum_values = Some(clusters.iter().map(|c| (*c).into()).collect());
        }
    }
}
