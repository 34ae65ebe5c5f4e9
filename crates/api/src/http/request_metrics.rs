//! Every request counted, with its latency, by route, method, status and (bounded) tenant.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::prometheus::ServedTenant;
use crate::state::AppState;

/// Counts every request and its latency by route, method, status and tenant.
pub async fn record_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let response = next.run(request).await;
    // No tenant: an empty value, which Prometheus treats as no label, so the label has exactly
    // TENANTRY_METRICS_MAX_TENANTS named values and `other`.
    let tenant = response
        .extensions()
        .get::<ServedTenant>()
        .map_or_else(String::new, |t| state.metrics.tenant_label(&t.0));
    let labels = [
        ("route", route),
        ("method", method),
        ("status", response.status().as_u16().to_string()),
        ("tenant", tenant),
    ];
    metrics::counter!("tenantry_http_requests_total", &labels).increment(1);
    metrics::histogram!("tenantry_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
