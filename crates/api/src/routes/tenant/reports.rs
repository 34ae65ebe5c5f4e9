//! `/v1/reports/...`: sales per day and top products, from their projections.

use axum::Json;
use axum::extract::State;
use commerce::read::{DailySales, ProductSales, SalesReport, TopProducts};
use tenantry_auth::Role;

use super::headers::MinPosition;
use crate::extract::Bounded;
use crate::http::ApiError;
use crate::openapi::TenantErrors;
use crate::resolution::Tenanted;
use crate::state::AppState;
use crate::views::Items;

crate::query_params! {
    /// The days of `GET /v1/reports/sales` (both required).
    pub struct SalesDays {
        /// First day, YYYY-MM-DD (inclusive).
        #[param(required = true, nullable = false, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$")]
        pub from: Option<String>,
        /// Last day, YYYY-MM-DD (inclusive, from `from` to 366 days after it).
        #[param(required = true, nullable = false, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$")]
        pub to: Option<String>,
    }
}

crate::query_params! {
    /// How many of the top products.
    pub struct TopN {
        /// 1..100, default 10.
        #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 100)]
        pub limit: Option<Bounded<1, 100>>,
    }
}

/// Sales per UTC day (viewer), from the sales projection.
#[utoipa::path(get, path = "/v1/reports/sales", security(("jwt" = [])), tag = "reports",
    params(Tenanted, SalesDays, MinPosition),
    responses((status = 200, description = "OK", body = Items<DailySales>), TenantErrors))]
pub async fn sales_report(
    State(state): State<AppState>,
    request: Tenanted,
    min_position: MinPosition,
    days: SalesDays,
) -> Result<Json<Items<DailySales>>, ApiError> {
    request.principal.require(Role::Viewer)?;
    let (Some(from), Some(to)) = (days.from.clone(), days.to.clone()) else {
        let mut missing = Vec::new();
        for (name, value) in [("from", &days.from), ("to", &days.to)] {
            if value.is_none() {
                crate::extract::reject(&mut missing, name, "is required");
            }
        }
        return Err(ApiError::validation(missing));
    };
    let report = SalesReport {
        from,
        to,
        min_position: min_position.position,
    };
    let items = state.queries.dispatch(request.envelope(report)).await?;
    Ok(Json(Items { items }))
}

/// Products by units sold, cancelled orders excluded (viewer).
#[utoipa::path(get, path = "/v1/reports/top-products", security(("jwt" = [])), tag = "reports",
    params(Tenanted, TopN, MinPosition),
    responses((status = 200, description = "OK", body = Items<ProductSales>), TenantErrors))]
pub async fn top_products(
    State(state): State<AppState>,
    request: Tenanted,
    min_position: MinPosition,
    top: TopN,
) -> Result<Json<Items<ProductSales>>, ApiError> {
    request.principal.require(Role::Viewer)?;
    let top = TopProducts {
        limit: top.limit.map_or(10, |Bounded(n)| n),
        min_position: min_position.position,
    };
    let items = state.queries.dispatch(request.envelope(top)).await?;
    Ok(Json(Items { items }))
}
