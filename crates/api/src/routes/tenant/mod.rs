//! Tenant-scoped routes (`/v1/...`), behind the tenant-resolution middleware. Every handler takes
//! `Tenanted` (so it cannot run without a resolved tenant), checks the role, and dispatches a
//! command or a query.

mod conventions;
mod current;
mod orders;
mod products;
mod reports;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post};

use crate::resolution::resolve_tenant;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/tenant", get(current::current_tenant))
        .route(
            "/v1/products",
            post(products::create_product).get(products::list_products),
        )
        .route(
            "/v1/products/{id}",
            patch(products::update_product)
                .delete(products::delete_product)
                .get(products::get_product),
        )
        .route(
            "/v1/orders",
            post(orders::place_order).get(orders::list_orders),
        )
        .route("/v1/orders/{id}", get(orders::get_order))
        .route("/v1/orders/{id}/cancel", post(orders::cancel_order))
        .route("/v1/orders/{id}/fulfil", post(orders::fulfil_order))
        .route("/v1/reports/sales", get(reports::sales_report))
        .route("/v1/reports/top-products", get(reports::top_products))
        .route_layer(from_fn_with_state(state.clone(), resolve_tenant))
}
