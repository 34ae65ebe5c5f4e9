//! Views shared by the HTTP API and the CLI (`TenantView`, `MoveView`), so both show a tenant
//! and its moves the same way.

use serde::Serialize;
use tenancy::moves::{MoveRecord, MoveState};
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

/// A tenant's current or last move.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MoveView {
    pub tenant_id: String,
    pub from: String,
    pub to: String,
    pub state: MoveState,
    /// Documents copied so far (the first pass; changes applied later are not counted).
    pub documents_copied: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// How long the tenant's writes were held at the cut-over, in milliseconds.
    pub write_pause_ms: Option<i64>,
    /// Why the move failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Runs of the move (more than one: it was resumed after its runner died).
    pub attempts: i32,
    /// When the source database is dropped (a done move), or was.
    pub source_dropped_at: Option<String>,
    pub drop_source_after: Option<String>,
}

impl From<&MoveRecord> for MoveView {
    fn from(m: &MoveRecord) -> MoveView {
        let rfc3339 = tenancy::time::rfc3339;
        MoveView {
            tenant_id: m.tenant_id.clone(),
            from: m.from.clone(),
            to: m.to.clone(),
            state: m.state,
            documents_copied: m.documents_copied,
            started_at: rfc3339(m.started_at),
            finished_at: m.finished_at.map(rfc3339),
            write_pause_ms: m.write_pause_ms,
            error: m.error.clone(),
            attempts: m.attempts,
            source_dropped_at: m.source_dropped_at.map(rfc3339),
            drop_source_after: m.drop_source_after.map(rfc3339),
        }
    }
}
