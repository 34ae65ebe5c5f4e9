//! `QueryMap`: the query string as name → value, with a problem as rejection.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use crate::http::ApiError;

#[derive(Debug, Default)]
pub struct QueryMap(pub HashMap<String, String>);

impl QueryMap {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("$query", "the query string is malformed"))?;
        Ok(QueryMap(map))
    }
}
