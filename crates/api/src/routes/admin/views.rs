//! Request and response shapes of the admin API (`TenantForCreate`, `TenantView`, ...): each
//! type both parses and documents its shape; tenancy's parsed types (`TenantName`, `Plan`, ...)
//! read themselves here, so their rules decide what a field accepts.

use serde::Serialize;
use serde_json::Value;
use tenancy::{
    Isolation, Plan, TenantAuth, TenantLimits, TenantName, TenantPatch, TenantSpec, TenantStatus,
    parse_domain,
};
use tenantry_auth::Role;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, RefOr, Schema, Type};

pub use crate::views::TenantView;

use crate::extract::{Bounded, Errors, Field, Fields, Nullable, QueryValue, parsed, reject};
use crate::http::ApiError;

impl Field for TenantName {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        parsed(value, path, errors, |raw: String| TenantName::parse(&raw))
    }
}

impl Field for Plan {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        parsed(value, path, errors, |raw: String| Plan::parse(&raw))
    }
}

impl Field for Isolation {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        parsed(value, path, errors, |raw: String| {
            Isolation::parse(&raw).ok_or_else(|| "must be 'shared' or 'dedicated'".to_string())
        })
    }
}

impl QueryValue for TenantStatus {
    fn parse_query(raw: &str) -> Result<Self, String> {
        TenantStatus::parse(raw)
            .ok_or_else(|| "must be one of provisioning, active, suspended, deleting".to_string())
    }
}

/// `auth`: `{"issuer": "https://...", "audience": "..."}`.
impl Field for TenantAuth {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let before = errors.len();
        let mut fields = Fields::object(value, path, errors)?;
        let issuer: Option<String> = fields.take("issuer");
        let audience: Option<String> = fields.take("audience");
        let parsed = match (&issuer, &audience) {
            (Some(issuer), Some(audience)) => match TenantAuth::parse(issuer, audience) {
                Ok(auth) => Some(auth),
                Err(message) if message.contains("audience") => {
                    fields.reject("audience", message);
                    None
                }
                Err(message) => {
                    fields.reject("issuer", message);
                    None
                }
            },
            _ => None,
        };
        fields.finish(before)?;
        parsed
    }
}

/// `limits`: each limit at least 1.
impl Field for TenantLimits {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let before = errors.len();
        let mut fields = Fields::object(value, path, errors)?;
        let max = fields.take::<Option<u32>>("max_concurrent_requests");
        let rate = fields.take::<Option<u32>>("requests_per_second");
        for (name, value) in [
            ("max_concurrent_requests", max),
            ("requests_per_second", rate),
        ] {
            if value == Some(Some(0)) {
                fields.reject(name, "must be at least 1");
            }
        }
        fields.finish(before)?;
        Some(TenantLimits {
            max_concurrent_requests: max?,
            requests_per_second: rate?,
        })
    }
}

/// Custom domains, normalised, each once.
#[derive(Debug, Clone, Default)]
pub struct Domains(pub Vec<String>);

impl Field for Domains {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let raw: Vec<String> = Field::read(value, path, errors)?;
        let before = errors.len();
        let mut domains = Vec::new();
        for (i, d) in raw.iter().enumerate() {
            match parse_domain(d) {
                Ok(d) if !domains.contains(&d) => domains.push(d),
                Ok(_) => reject(errors, &format!("{path}[{i}]"), "is listed twice"),
                Err(message) => reject(errors, &format!("{path}[{i}]"), message),
            }
        }
        (errors.len() == before).then_some(Domains(domains))
    }
}

/// `domains`: host names of DNS labels (any case; a trailing dot is dropped).
fn domains_schema() -> RefOr<Schema> {
    let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let domain = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(253))
        .pattern(Some(format!("^{label}(\\.{label})+\\.?$")));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(domain)
        .unique_items(true)
        .into()
}

/// `auth`: an `https://` issuer (plain `http://` only on a loopback host) and an audience.
fn auth_schema() -> RefOr<Schema> {
    let issuer = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(512))
        .pattern(Some(
            "^\\s*(https://[^/?#\\s][^?#\\s]*|http://(127\\.0\\.0\\.1|localhost|\\[::1\\])([:/][^?#\\s]*)?)\\s*$",
        ));
    let audience = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(512))
        .pattern(Some("\\S"));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .property("issuer", issuer)
        .property("audience", audience)
        .required("issuer")
        .required("audience")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

crate::request_body! {
    /// `POST /admin/tenants` body.
    pub struct TenantForCreate {
        /// A DNS label, not a reserved word (`admin`, `api`, `www`, ...).
        #[schema(pattern = "^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$")]
        pub id: String,
        #[schema(value_type = String, min_length = 1, max_length = 200, pattern = "\\S")]
        pub name: TenantName,
        /// Default `free`.
        #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{1,64}$")]
        pub plan: Option<Plan>,
        /// A configured cluster; default `default`.
        #[schema(min_length = 1)]
        pub cluster: Option<String>,
        /// Default `shared`.
        pub isolation: Option<Isolation>,
        /// Custom domains that select this tenant; one of another tenant: 409 `domain_taken`.
        #[schema(schema_with = domains_schema)]
        pub domains: Option<Domains>,
        /// The tenant's own identity provider; one of another tenant: 409 `issuer_taken`.
        #[schema(schema_with = auth_schema)]
        pub auth: Option<TenantAuth>,
    }
}

impl TenantForCreate {
    /// The tenant to provision. A bad id is `invalid_tenant_id`.
    pub fn into_spec(self, default_cluster: &str) -> Result<TenantSpec, ApiError> {
        Ok(TenantSpec {
            id: tenancy::TenantId::parse(&self.id)?,
            name: self.name,
            plan: self.plan.unwrap_or_else(Plan::default_plan),
            cluster: self.cluster.unwrap_or_else(|| default_cluster.to_string()),
            isolation: self.isolation.unwrap_or_default(),
            domains: self.domains.unwrap_or_default().0,
            auth: self.auth,
        })
    }
}

/// `limits`: each limit from 1 to 2^32 - 1; absent or `null`, no limit of the plan's own.
fn limits_schema() -> RefOr<Schema> {
    let limit = |description: &str| {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(1))
            .maximum(Some(u32::MAX))
            .description(Some(description))
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .property(
            "max_concurrent_requests",
            limit("Concurrent database operations this tenant may hold on its cluster's pool."),
        )
        .property(
            "requests_per_second",
            limit("Requests per second this tenant may send (429 `rate_limited` beyond)."),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

crate::request_body! {
    /// `PATCH /admin/tenants/{id}` body.
    pub struct TenantForUpdate {
        #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = "\\S")]
        pub name: Option<TenantName>,
        #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{1,64}$")]
        pub plan: Option<Plan>,
        #[schema(schema_with = limits_schema)]
        pub limits: Option<TenantLimits>,
        /// Replaces the custom domains; one of another tenant: 409 `domain_taken`.
        #[schema(schema_with = domains_schema)]
        pub domains: Option<Domains>,
        /// Sets the tenant's own identity provider (`null` removes it); an issuer of another
        /// tenant: 409 `issuer_taken`.
        #[schema(schema_with = auth_schema, required = false)]
        pub auth: Nullable<TenantAuth>,
    }
}

impl From<TenantForUpdate> for TenantPatch {
    fn from(body: TenantForUpdate) -> TenantPatch {
        TenantPatch {
            name: body.name,
            plan: body.plan,
            limits: body.limits,
            domains: body.domains.map(|d| d.0),
            auth: body.auth.into_change(),
        }
    }
}

/// A role a minted token may carry: `viewer`, `member` or `admin`.
impl Field for Role {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        parsed(value, path, errors, |raw: String| {
            raw.parse::<Role>()
                .map_err(|_| "must be viewer, member or admin".to_string())
        })
    }
}

/// `roles`: an array of the tenant roles (from `Role::ALL`).
fn roles_schema() -> RefOr<Schema> {
    let role = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Role::ALL.map(Role::as_str)));
    ArrayBuilder::new().items(role).into()
}

/// A token's subject: 1 to 256 characters, not blank.
#[derive(Debug, Clone)]
pub struct Subject(pub String);

impl Field for Subject {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        parsed(value, path, errors, |raw: String| {
            if raw.trim().is_empty() || raw.chars().count() > 256 {
                Err("must have 1 to 256 characters".to_string())
            } else {
                Ok(Subject(raw))
            }
        })
    }
}

/// The longest a minted token lives: 30 days.
pub const MAX_TTL_SECONDS: u32 = 30 * 24 * 3600;

crate::request_body! {
    /// `POST /admin/tenants/{id}/tokens` body.
    pub struct TokenForCreate {
        #[schema(value_type = String, min_length = 1, max_length = 256, pattern = "\\S")]
        pub sub: Subject,
        #[schema(schema_with = roles_schema)]
        pub roles: Vec<Role>,
        /// Seconds, default 3600.
        #[schema(value_type = Option<u32>, minimum = 1, maximum = 2_592_000)]
        pub ttl_seconds: Option<Bounded<1, MAX_TTL_SECONDS>>,
    }
}

/// A minted token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}
