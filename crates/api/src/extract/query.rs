//! Query strings: `QueryMap` (name → value, a problem as rejection) and `query_params!`, which
//! declares a query type that is both its OpenAPI parameters (`utoipa::IntoParams`) and its
//! extractor (every bad parameter reported at once; parameters it does not name are ignored).

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

/// A value a query parameter can hold.
pub trait QueryValue: Sized {
    /// Parses the raw value, or says what it must be.
    fn parse_query(raw: &str) -> Result<Self, String>;
}

impl QueryValue for String {
    fn parse_query(raw: &str) -> Result<Self, String> {
        Ok(raw.to_string())
    }
}

impl QueryValue for i64 {
    fn parse_query(raw: &str) -> Result<Self, String> {
        raw.parse().map_err(|_| "must be an integer".to_string())
    }
}

impl QueryValue for u32 {
    fn parse_query(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map_err(|_| "must be a non-negative integer below 2^32".to_string())
    }
}

/// An integer from `MIN` to `MAX` (a page size, a top-N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded<const MIN: u32, const MAX: u32>(pub u32);

impl<const MIN: u32, const MAX: u32> QueryValue for Bounded<MIN, MAX> {
    fn parse_query(raw: &str) -> Result<Self, String> {
        match raw.parse::<u32>() {
            Ok(n) if (MIN..=MAX).contains(&n) => Ok(Bounded(n)),
            _ => Err(format!("must be an integer from {MIN} to {MAX}")),
        }
    }
}

/// The same bounds on a body field (a JSON integer).
impl<const MIN: u32, const MAX: u32> super::Field for Bounded<MIN, MAX> {
    fn read(value: serde_json::Value, path: &str, errors: &mut super::Errors) -> Option<Self> {
        let bounded = super::fields::integer(&value)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (MIN..=MAX).contains(n));
        if bounded.is_none() {
            super::reject(
                errors,
                path,
                format!("must be an integer from {MIN} to {MAX}"),
            );
        }
        bounded.map(Bounded)
    }
}

/// Declares a query type: every field is `Option<T>` with `T: QueryValue`, documented by its
/// `#[param(...)]` constraints.
///
/// ```ignore
/// query_params! {
///     pub struct ThingFilters {
///         /// Prefix of the name.
///         #[param(min_length = 1)]
///         pub q: Option<String>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! query_params {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$field_meta:meta])* pub $field:ident: Option<$type:ty>),* $(,)?
    }) => {
        #[derive(Debug, Clone, Default, utoipa::IntoParams)]
        $(#[$meta])*
        #[into_params(parameter_in = Query)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: Option<$type>),*
        }

        impl<S: Send + Sync> axum::extract::FromRequestParts<S> for $name {
            type Rejection = $crate::http::ApiError;

            async fn from_request_parts(
                parts: &mut axum::http::request::Parts,
                state: &S,
            ) -> Result<Self, $crate::http::ApiError> {
                let query = $crate::extract::QueryMap::from_request_parts(parts, state).await?;
                let mut errors = Vec::new();
                $(let $field = match query.get(stringify!($field)) {
                    None => None,
                    Some(raw) => match <$type as $crate::extract::QueryValue>::parse_query(raw) {
                        Ok(value) => Some(value),
                        Err(message) => {
                            $crate::extract::reject(&mut errors, stringify!($field), message);
                            None
                        }
                    },
                };)*
                if !errors.is_empty() {
                    return Err($crate::http::ApiError::validation(errors));
                }
                Ok(Self { $($field),* })
            }
        }
    };
}
