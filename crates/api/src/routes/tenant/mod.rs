//! Tenant-scoped routes (`/v1/...`), behind the tenant-resolution middleware.

mod current;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

use crate::resolution::resolve_tenant;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/tenant", get(current::current_tenant))
        .route_layer(from_fn_with_state(state.clone(), resolve_tenant))
}
