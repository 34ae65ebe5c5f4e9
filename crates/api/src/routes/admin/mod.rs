//! Platform administration (`/admin/...`), behind the platform-admin guard.

mod activity;
mod clusters;
mod instances;
mod migrations;
mod moves;
mod path;
mod projections;
mod stats;
mod tenants;
mod tokens;
mod transfer;
mod views;

use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::require_platform_admin;
use crate::state::AppState;

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tenants::create_tenant, tenants::list_tenants))
        .routes(routes!(
            tenants::get_tenant,
            tenants::update_tenant,
            tenants::delete_tenant
        ))
        .routes(routes!(tenants::suspend_tenant))
        .routes(routes!(tenants::resume_tenant))
        .routes(routes!(tokens::mint_token))
        .routes(routes!(stats::tenant_stats))
        .routes(routes!(projections::rebuild_projections))
        .routes(routes!(
            migrations::pending_migrations,
            migrations::run_migrations
        ))
        .routes(routes!(activity::tenant_activity))
        .routes(routes!(clusters::list_clusters))
        .routes(routes!(instances::list_instances))
        .routes(routes!(transfer::export_tenant))
        .routes(routes!(transfer::import_tenant))
        .routes(routes!(moves::move_tenant, moves::get_move))
        .route_layer(from_fn_with_state(state.clone(), require_platform_admin))
}
