//! Cursor pagination: `?limit=` (1..200, default 50) and an opaque `?cursor=`.
//!
//! A cursor is base64url JSON `{"s": scope, "a": after}`. The scope names the list it belongs to
//! (and the tenant, for tenant lists), so a cursor of another list or another tenant is a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::query::Bounded;
use crate::http::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub scope: String,
    #[serde(rename = "a")]
    pub after: String,
}

impl Cursor {
    pub fn encode(scope: &str, after: &str) -> String {
        let cursor = Cursor {
            scope: scope.to_string(),
            after: after.to_string(),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
    }

    /// The position after which the next page starts, if the cursor belongs to `scope`.
    pub fn decode(raw: &str, scope: &str) -> Result<String, ApiError> {
        let invalid = || ApiError::field("cursor", "is malformed or belongs to another list");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.scope != scope {
            return Err(invalid());
        }
        Ok(cursor.after)
    }
}

crate::query_params! {
    /// `limit` and `cursor` of a list.
    pub struct PageQuery {
        /// 1..200, default 50.
        #[param(value_type = Option<u32>, nullable = false, minimum = 1, maximum = 200)]
        pub limit: Option<Bounded<1, MAX_LIMIT>>,
        /// Opaque; from `next_cursor` of the previous page of the same list.
        #[param(nullable = false, min_length = 1)]
        pub cursor: Option<String>,
    }
}

/// `limit` and `cursor` of a list request, validated.
#[derive(Debug)]
pub struct PageParams {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageParams {
    /// The page asked for; a cursor must belong to `scope` (the same list and filters).
    pub fn parse(query: &PageQuery, scope: &str) -> Result<PageParams, ApiError> {
        let limit = query.limit.map_or(DEFAULT_LIMIT, |Bounded(n)| n);
        let after = query
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, scope))
            .transpose()?;
        Ok(PageParams { limit, after })
    }
}

#[cfg(test)]
mod tests {
    use super::super::query::QueryValue;
    use super::*;

    fn page(
        limit: Option<&str>,
        cursor: Option<&str>,
        scope: &str,
    ) -> Result<PageParams, ApiError> {
        let limit = limit.map(Bounded::parse_query).transpose();
        let limit = limit.map_err(|m| ApiError::field("limit", m))?;
        let query = PageQuery {
            limit,
            cursor: cursor.map(String::from),
        };
        PageParams::parse(&query, scope)
    }

    #[test]
    fn limits_and_cursors() {
        assert_eq!(page(None, None, "x").unwrap().limit, 50);
        for bad in ["0", "201", "-1", "abc"] {
            assert!(page(Some(bad), None, "x").is_err(), "{bad}");
        }
        let c = Cursor::encode("tenants", "acme");
        let after = page(None, Some(&c), "tenants").unwrap().after;
        assert_eq!(after.as_deref(), Some("acme"));
        assert!(page(None, Some(&c), "orders:acme").is_err());
        assert!(page(None, Some("!!"), "tenants").is_err());
    }
}
