//! Views shared by the HTTP API and the CLI (`TenantView`), so both show a tenant the same way.

use serde::Serialize;
use tenancy::{Isolation, Tenant, TenantAuth, TenantLimits, TenantStatus};
use utoipa::ToSchema;

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    /// This creation of the id: new every time the id is created (see "Incarnations").
    pub incarnation: String,
    pub name: String,
    pub status: TenantStatus,
    pub plan: String,
    pub cluster: String,
    pub database: String,
    pub isolation: Isolation,
    pub domains: Vec<String>,
    pub limits: TenantLimits,
    /// The tenant's own identity provider, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<TenantAuth>,
    pub schema_version: u32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> TenantView {
        let rfc3339 = tenancy::time::rfc3339;
        TenantView {
            id: t.id.to_string(),
            incarnation: t.incarnation.to_string(),
            name: t.name.clone(),
            status: t.status,
            plan: t.plan.clone(),
            cluster: t.cluster.clone(),
            database: t.database.clone(),
            isolation: t.isolation,
            domains: t.domains.clone(),
            limits: t.limits,
            auth: t.auth.clone(),
            schema_version: t.schema_version,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

/// A page of a list: `{"items": [...], "next_cursor": ...}`; `next_cursor` is absent on the last
/// page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// A list returned whole: `{"items": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}
