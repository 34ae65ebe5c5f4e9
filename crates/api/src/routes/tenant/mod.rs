//! Tenant-scoped routes (`/v1/...`), behind the tenant-resolution middleware. Every handler takes
//! `Tenanted` (so it cannot run without a resolved tenant), checks the role, and dispatches a
//! command or a query.

mod conventions;
mod current;
mod customers;
mod headers;
mod orders;
mod products;
mod reports;

use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::resolution::resolve_tenant;
use crate::state::AppState;

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current::current_tenant))
        .routes(routes!(products::create_product, products::list_products))
        .routes(routes!(
            products::update_product,
            products::delete_product,
            products::get_product
        ))
        .routes(routes!(orders::place_order, orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::cancel_order))
        .routes(routes!(orders::fulfil_order))
        .routes(routes!(reports::sales_report))
        .routes(routes!(reports::top_products))
        .routes(routes!(
            customers::create_customer,
            customers::list_customers
        ))
        .routes(routes!(customers::get_customer))
        .route_layer(from_fn_with_state(state.clone(), resolve_tenant))
}
