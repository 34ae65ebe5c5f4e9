//! The request headers of tenant routes as typed extractors, each also the OpenAPI description
//! of its header (so the document states exactly what is accepted): `If-Match`,
//! `X-Min-Position`, `Idempotency-Key`.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use commerce::write::IdempotencyKey;
use utoipa::IntoParams;

use crate::extract::Body;
use crate::http::ApiError;

const X_MIN_POSITION: &str = "x-min-position";
const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::field(name, "is not visible ASCII")),
    }
}

/// `If-Match` of writes.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The `ETag` (`"<version>"`, also `W/"<version>"`) the client last saw, or `*`; another
    /// current version: 412.
    #[param(
        rename = "If-Match",
        value_type = Option<String>,
        nullable = false,
        pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$"
    )]
    pub version: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<IfMatch, ApiError> {
        let version = match header_str(&parts.headers, "if-match")? {
            None | Some("*") => None,
            Some(raw) => Some(
                raw.trim_start_matches("W/")
                    .trim_matches('"')
                    .parse::<i64>()
                    .map_err(|_| {
                        ApiError::field("If-Match", "must be an ETag of this API, e.g. \"3\"")
                    })?,
            ),
        };
        Ok(IfMatch { version })
    }
}

/// Read-your-writes for queries.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct MinPosition {
    /// Answer only once the tenant's projections applied this event position (else 503
    /// `projection_lagging` after the configured wait).
    #[param(rename = "X-Min-Position", nullable = false, minimum = 0)]
    pub position: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<MinPosition, ApiError> {
        let position = match header_str(&parts.headers, X_MIN_POSITION)? {
            None => None,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    let message = "must be a non-negative integer";
                    return Err(ApiError::field("X-Min-Position", message));
                }
            },
        };
        Ok(MinPosition { position })
    }
}

/// `Idempotency-Key` of creating POSTs.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct Idempotency {
    /// The same key and body replay the first response; another body: 422
    /// `idempotency_key_reused`.
    #[param(
        rename = "Idempotency-Key",
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$"
    )]
    key: Option<String>,
}

impl Idempotency {
    /// The key bound to the route (`scope`) and the request body.
    pub fn bind<T>(self, scope: &str, body: &Body<T>) -> Option<IdempotencyKey> {
        self.key
            .map(|key| IdempotencyKey::new(scope, &key, body.json()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Idempotency, ApiError> {
        let key = header_str(&parts.headers, IDEMPOTENCY_KEY)?;
        if key.is_some_and(|key| !IdempotencyKey::is_well_formed(key)) {
            let message = "must be 1 to 255 visible ASCII characters";
            return Err(ApiError::field("Idempotency-Key", message));
        }
        Ok(Idempotency {
            key: key.map(String::from),
        })
    }
}
