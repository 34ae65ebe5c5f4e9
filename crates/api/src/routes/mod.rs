//! The router: every route, and the middleware stack in the order a request meets it.

mod admin;
mod console;
mod health;
mod operations;
mod tenant;

use crate::http::ProblemCode;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use std::sync::Arc;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::openapi::ApiDoc;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::http::{
    ApiError, assign_request_id, catch_panics, check_framing, enforce_deadline, record_request,
    render_problems,
};
use crate::state::AppState;
use crate::telemetry::request_span;

/// Every documented route: registering a handler here also puts it in the OpenAPI document.
fn documented_routes(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(operations::metrics))
        .routes(routes!(console::console))
        .merge(admin::router(state))
        .merge(tenant::router(state))
}

pub fn router(state: AppState) -> Router {
    let config = Arc::clone(&state.config);
    let (router, mut openapi) = documented_routes(&state).split_for_parts();
    let clusters: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
    crate::openapi::name_clusters(&mut openapi, &clusters);
    let router = router
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .route("/console/", get(console::console))
        .route("/console/{file}", get(console::console_file))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ProblemCode::MethodNotAllowed,
                "this route does not accept this method",
            )
        });
    // Layers: the last added runs first. A request meets: request id → problems → trace →
    // metrics → panic catcher → CORS → framing → timeout → body limit → route (→ admin guard or tenant
    // resolution → handler).
    router
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(from_fn_with_state(config.request_timeout, enforce_deadline))
        .layer(from_fn_with_state(state.clone(), check_framing))
        .layer(tower::util::option_layer(cors(&config.cors_origins)))
        .layer(catch_panics())
        .layer(from_fn_with_state(state.clone(), record_request))
        .layer(request_span(config.otel.is_some()))
        .layer(from_fn(render_problems))
        .layer(from_fn(assign_request_id))
        .with_state(state)
}

/// The CORS layer, or none when no origin is allowed (a layer that allows nothing would still
/// add `Vary` headers to every response).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let layer = CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            HeaderName::from_static("authorization"),
            HeaderName::from_static("content-type"),
            HeaderName::from_static("x-tenant-id"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("if-match"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-min-position"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("etag"),
            HeaderName::from_static("x-event-position"),
        ])
        .max_age(Duration::from_secs(600));
    Some(layer)
}
