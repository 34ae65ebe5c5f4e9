//! `/v1/customers`: the request shapes and thin handlers of the customers resource
//! (`commerce::customers`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use commerce::customers::{CreateCustomer, CustomerView, GetCustomer, ListCustomers};
use tenantry_auth::Role;

use super::conventions::{Versioned, committed, page_request, page_response, resource};
use super::headers::{Idempotency, MinPosition};
use crate::extract::{Body, PageQuery};
use crate::http::ApiError;
use crate::openapi::{BodyErrors, Problem, TenantErrors};
use crate::resolution::Tenanted;
use crate::state::AppState;
use crate::views::ListPage;

impl Versioned for CustomerView {
    fn version(&self) -> i64 {
        self.version
    }
}

crate::request_body! {
    /// `POST /v1/customers` body.
    pub struct CustomerForCreate {
        #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
        pub name: String,
    }
}

crate::query_params! {
    /// The filter of `GET /v1/customers`.
    pub struct CustomerFilter {
        /// Case-insensitive literal prefix of the name.
        #[param(nullable = false)]
        pub name_prefix: Option<String>,
    }
}

/// Create a customer (member); orders name it by the id it gets.
#[utoipa::path(post, path = "/v1/customers", security(("jwt" = [])), tag = "customers",
    params(Tenanted, Idempotency),
    request_body = CustomerForCreate,
    responses(
        (status = 201, description = "Created", body = CustomerView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 422, description = "`idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        TenantErrors, BodyErrors,
    ))]
pub async fn create_customer(
    State(state): State<AppState>,
    request: Tenanted,
    idempotency: Idempotency,
    body: Body<CustomerForCreate>,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let idempotency = idempotency.bind("POST /v1/customers", &body);
    let command = CreateCustomer {
        name: body.value.name,
        idempotency,
    };
    let created = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed(StatusCode::CREATED, created))
}

/// List customers by id (viewer), with their order count and total spent.
#[utoipa::path(get, path = "/v1/customers", security(("jwt" = [])), tag = "customers",
    params(Tenanted, CustomerFilter, PageQuery, MinPosition),
    responses((status = 200, description = "OK", body = ListPage<CustomerView>), TenantErrors))]
pub async fn list_customers(
    State(state): State<AppState>,
    request: Tenanted,
    min_position: MinPosition,
    CustomerFilter { name_prefix }: CustomerFilter,
    page: PageQuery,
) -> Result<Json<ListPage<CustomerView>>, ApiError> {
    request.principal.require(Role::Viewer)?;
    let (page, scope) = page_request(&request, "customers", &format!("{name_prefix:?}"), &page)?;
    let list = ListCustomers {
        name_prefix,
        page,
        min_position: min_position.position,
    };
    let found = state.queries.dispatch(request.envelope(list)).await?;
    Ok(page_response(found, &scope))
}

/// One customer (viewer).
#[utoipa::path(get, path = "/v1/customers/{id}", security(("jwt" = [])), tag = "customers",
    params(Tenanted, ("id" = String, Path), MinPosition),
    responses((status = 200, description = "OK", body = CustomerView, headers(("ETag" = String))), TenantErrors))]
pub async fn get_customer(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    min_position: MinPosition,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let query = GetCustomer {
        id,
        min_position: min_position.position,
    };
    Ok(resource(
        state.queries.dispatch(request.envelope(query)).await?,
    ))
}
