//! `GET /admin/tenants/{id}/stats`: requests served, pool and budget use, document counts, the
//! last move.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use cqrs::projector::ProjectionStatus;
use serde::Serialize;
use tenancy::clusters::PoolSnapshot;
use tenancy::{Isolation, TenantStatus};
use utoipa::ToSchema;

use super::path::TenantPath;
use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;
use crate::tenant_data::TenantData;
use crate::views::MoveView;

/// A tenant's statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantStats {
    pub tenant_id: String,
    pub status: TenantStatus,
    pub incarnation: String,
    /// Requests this instance served for the tenant since it started.
    pub requests: u64,
    pub budget: Budget,
    pub connections: Connections,
    /// Documents per collection.
    pub documents: BTreeMap<String, u64>,
    pub projections: ProjectionStatus,
    /// The tenant's current or last move between clusters, if it ever moved.
    pub last_move: Option<MoveView>,
}

/// The tenant's share of its cluster pool on this instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct Budget {
    pub limit: u32,
    pub in_use: u32,
}

/// The connection pool the tenant uses on this instance.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Connections {
    /// Its cluster's pool, shared with the cluster's other tenants.
    Shared { cluster_pool: PoolSnapshot },
    /// The dedicated pools of this instance (one per dedicated tenant).
    Dedicated { dedicated_pools: PoolSnapshot },
}

/// Requests served, budget and pool use, document counts, projection status.
#[utoipa::path(get, path = "/admin/tenants/{id}/stats", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses((status = 200, description = "Statistics", body = TenantStats), AdminErrors))]
pub async fn tenant_stats(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Json<TenantStats>, ApiError> {
    let tenant = state.catalog.store().require(&id).await?;
    let db = state.pools.maintenance_db(&tenant).await?;
    let data = TenantData::read(&db, &state.projector.projection_names()).await?;
    let pools = &state.pools;
    let connections = match tenant.isolation {
        Isolation::Shared => Connections::Shared {
            cluster_pool: pools.cluster(&tenant.cluster)?.gauges().snapshot(),
        },
        Isolation::Dedicated => Connections::Dedicated {
            dedicated_pools: pools.dedicated().gauges().snapshot(),
        },
    };
    let last_move = state.mover.current_of(&tenant).await?;
    Ok(Json(TenantStats {
        tenant_id: tenant.id.to_string(),
        status: tenant.status,
        incarnation: tenant.incarnation.to_string(),
        requests: state.activity.requests(&tenant.key()),
        budget: Budget {
            limit: pools.budgets().budget(&tenant),
            in_use: pools.budgets().in_use(&tenant).await,
        },
        connections,
        documents: data.documents,
        projections: data.projections,
        last_move: last_move.as_ref().map(MoveView::from),
    }))
}
