//! `/v1/reports/...`: sales per day and top products, from their projections.

use axum::Json;
use axum::extract::State;
use commerce::read::{SalesReport, TopProducts};
use serde_json::{Value, json};
use tenantry_auth::Role;

use super::conventions::{MinPosition, int_param};
use super::schemas::{SalesReportItems, TopProductsItems};
use crate::extract::QueryMap;
use crate::http::ApiError;
use crate::openapi::{ReadAfter, TenantErrors, TenantSelectors};
use crate::resolution::Tenanted;
use crate::state::AppState;

/// Sales per UTC day (viewer), from the sales projection.
#[utoipa::path(get, path = "/v1/reports/sales", security(("jwt" = [])), tag = "reports",
    params(
        ("from" = String, Query, description = "First day, YYYY-MM-DD (inclusive)"),
        ("to" = String, Query, description = "Last day, YYYY-MM-DD (inclusive, at most 366 days)"),
        TenantSelectors, ReadAfter,
    ),
    responses((status = 200, description = "OK", body = SalesReportItems), TenantErrors))]
pub async fn sales_report(
    State(state): State<AppState>,
    request: Tenanted,
    MinPosition(min_position): MinPosition,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    request.principal.require(Role::Viewer)?;
    let (from, to) = (query.get("from"), query.get("to"));
    let mut missing = Vec::new();
    for (name, value) in [("from", from), ("to", to)] {
        if value.is_none() {
            missing.push(crate::http::FieldError {
                field: name.into(),
                message: "is required".into(),
            });
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    let report = SalesReport {
        from: from.unwrap_or_default().to_string(),
        to: to.unwrap_or_default().to_string(),
        min_position,
    };
    let items = state.queries.dispatch(request.envelope(report)).await?;
    Ok(Json(json!({"items": items})))
}

/// Products by units sold, cancelled orders excluded (viewer).
#[utoipa::path(get, path = "/v1/reports/top-products", security(("jwt" = [])), tag = "reports",
    params(("limit" = Option<u32>, Query, description = "1..100, default 10"), TenantSelectors, ReadAfter),
    responses((status = 200, description = "OK", body = TopProductsItems), TenantErrors))]
pub async fn top_products(
    State(state): State<AppState>,
    request: Tenanted,
    MinPosition(min_position): MinPosition,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    request.principal.require(Role::Viewer)?;
    let limit = match int_param("limit", query.get("limit"))? {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as u32,
        Some(_) => return Err(ApiError::field("limit", "must be an integer from 1 to 100")),
    };
    let top = TopProducts {
        limit,
        min_position,
    };
    let items = state.queries.dispatch(request.envelope(top)).await?;
    Ok(Json(json!({"items": items})))
}
