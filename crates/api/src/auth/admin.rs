//! The `/admin` guard: a platform-admin JWT (`roles` contains `platform-admin`) or the configured
//! admin API key, compared by its SHA-256 in constant time.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::bearer_token;
use crate::http::ApiError;
use crate::state::AppState;

pub async fn require_platform_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let credential = bearer_token(request.headers())?;
    let is_admin_key = state
        .admin_key
        .as_ref()
        .is_some_and(|key| key.matches(credential));
    if !is_admin_key {
        if credential.matches('.').count() != 2 {
            return Err(ApiError::unauthorized("invalid admin credential"));
        }
        let claims = state.verifier.verify(credential)?;
        if !claims.is_platform_admin() {
            return Err(ApiError::forbidden(
                "the token lacks the 'platform-admin' role",
            ));
        }
        tracing::Span::current().record("actor", claims.sub.as_str());
    }
    Ok(next.run(request).await)
}
