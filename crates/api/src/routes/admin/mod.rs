//! Platform administration (`/admin/...`), behind the platform-admin guard.

mod migrations;
mod projections;
mod stats;
mod tenants;
mod tokens;
mod views;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::auth::require_platform_admin;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/admin/tenants",
            post(tenants::create_tenant).get(tenants::list_tenants),
        )
        .route(
            "/admin/tenants/{id}",
            get(tenants::get_tenant)
                .patch(tenants::update_tenant)
                .delete(tenants::delete_tenant),
        )
        .route("/admin/tenants/{id}/suspend", post(tenants::suspend_tenant))
        .route("/admin/tenants/{id}/resume", post(tenants::resume_tenant))
        .route("/admin/tenants/{id}/tokens", post(tokens::mint_token))
        .route("/admin/tenants/{id}/stats", get(stats::tenant_stats))
        .route(
            "/admin/tenants/{id}/projections/rebuild",
            post(projections::rebuild_projections),
        )
        .route("/admin/migrations", post(migrations::run_migrations))
        .route_layer(from_fn_with_state(state.clone(), require_platform_admin))
}
