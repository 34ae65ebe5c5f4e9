//! `/v1/products`: the request shapes and thin handlers — parse, dispatch to the command or
//! query bus, map the result.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use commerce::model::ProductView;
use commerce::read::{GetProduct, ListProducts};
use commerce::write::{CreateProduct, DeleteProduct, UpdateProduct};
use tenantry_auth::Role;

use super::conventions::{committed, committed_empty, page_request, page_response, resource};
use super::headers::{Idempotency, IfMatch, MinPosition};
use crate::extract::{Body, PageQuery};
use crate::http::ApiError;
use crate::openapi::{BodyErrors, Problem, TenantErrors};
use crate::resolution::Tenanted;
use crate::state::AppState;
use crate::views::ListPage;

crate::request_body! {
    /// `POST /v1/products` body.
    pub struct ProductForCreate {
        /// Unique in the tenant.
        #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
        pub sku: String,
        #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
        pub name: String,
        #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
        pub price_cents: i64,
        /// Default 0.
        #[schema(minimum = 0, maximum = 1_000_000_000)]
        pub stock: Option<i64>,
    }
}

crate::request_body! {
    /// `PATCH /v1/products/{id}` body: at least one field.
    #[schema(min_properties = 1)]
    pub struct ProductForUpdate {
        #[schema(nullable = false, min_length = 1, max_length = 200, pattern = "\\S")]
        pub name: Option<String>,
        #[schema(nullable = false, minimum = 0, maximum = 100_000_000_000_i64)]
        pub price_cents: Option<i64>,
        #[schema(nullable = false, minimum = 0, maximum = 1_000_000_000)]
        pub stock: Option<i64>,
    }
}

crate::query_params! {
    /// The filters of `GET /v1/products`.
    pub struct ProductFilters {
        /// Case-insensitive literal prefix of name or sku.
        #[param(nullable = false)]
        pub q: Option<String>,
        /// Inclusive, cents.
        #[param(nullable = false)]
        pub min_price: Option<i64>,
        /// Inclusive, cents.
        #[param(nullable = false)]
        pub max_price: Option<i64>,
    }
}

/// Create a product (member). Duplicate sku in this tenant: 409 `sku_taken`.
#[utoipa::path(post, path = "/v1/products", security(("jwt" = [])), tag = "products",
    params(Tenanted, Idempotency),
    request_body = ProductForCreate,
    responses(
        (status = 201, description = "Created", body = ProductView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 409, description = "`sku_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        TenantErrors, BodyErrors,
    ))]
pub async fn create_product(
    State(state): State<AppState>,
    request: Tenanted,
    idempotency: Idempotency,
    body: Body<ProductForCreate>,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let idempotency = idempotency.bind("POST /v1/products", &body);
    let ProductForCreate {
        sku,
        name,
        price_cents,
        stock,
    } = body.value;
    let command = CreateProduct {
        sku,
        name,
        price_cents,
        stock: stock.unwrap_or(0),
        idempotency,
    };
    let created = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed(StatusCode::CREATED, created))
}

/// Change name, price or stock (member); `If-Match` honoured.
#[utoipa::path(patch, path = "/v1/products/{id}", security(("jwt" = [])), tag = "products",
    params(Tenanted, ("id" = String, Path), IfMatch),
    request_body = ProductForUpdate,
    responses(
        (status = 200, description = "OK", body = ProductView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
        TenantErrors, BodyErrors,
    ))]
pub async fn update_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    if_match: IfMatch,
    body: Body<ProductForUpdate>,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let ProductForUpdate {
        name,
        price_cents,
        stock,
    } = body.value;
    let command = UpdateProduct {
        id,
        name,
        price_cents,
        stock,
        expected_version: if_match.version,
    };
    let updated = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed(StatusCode::OK, updated))
}

/// Delete a product (admin); `If-Match` honoured.
#[utoipa::path(delete, path = "/v1/products/{id}", security(("jwt" = [])), tag = "products",
    params(Tenanted, ("id" = String, Path), IfMatch),
    responses(
        (status = 204, description = "Deleted", headers(("X-Event-Position" = i64))),
        (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
        TenantErrors,
    ))]
pub async fn delete_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    if_match: IfMatch,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Admin)?;
    let command = DeleteProduct {
        id,
        expected_version: if_match.version,
    };
    let deleted = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed_empty(deleted))
}

/// Search products (viewer), from the product-list read model.
#[utoipa::path(get, path = "/v1/products", security(("jwt" = [])), tag = "products",
    params(Tenanted, ProductFilters, PageQuery, MinPosition),
    responses((status = 200, description = "OK", body = ListPage<ProductView>), TenantErrors))]
pub async fn list_products(
    State(state): State<AppState>,
    request: Tenanted,
    min_position: MinPosition,
    filters: ProductFilters,
    page: PageQuery,
) -> Result<Json<ListPage<ProductView>>, ApiError> {
    request.principal.require(Role::Viewer)?;
    let ProductFilters {
        q,
        min_price,
        max_price,
    } = filters;
    let scope_filters = format!("{q:?}:{min_price:?}:{max_price:?}");
    let (page, scope) = page_request(&request, "products", &scope_filters, &page)?;
    let list = ListProducts {
        q,
        min_price,
        max_price,
        page,
        min_position: min_position.position,
    };
    let found = state.queries.dispatch(request.envelope(list)).await?;
    Ok(page_response(found, &scope))
}

/// One product (viewer), from the product-list read model.
#[utoipa::path(get, path = "/v1/products/{id}", security(("jwt" = [])), tag = "products",
    params(Tenanted, ("id" = String, Path), MinPosition),
    responses((status = 200, description = "OK", body = ProductView, headers(("ETag" = String))), TenantErrors))]
pub async fn get_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    min_position: MinPosition,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let query = GetProduct {
        id,
        min_position: min_position.position,
    };
    Ok(resource(
        state.queries.dispatch(request.envelope(query)).await?,
    ))
}
