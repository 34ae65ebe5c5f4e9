//! `GET /console`: the operators' web console, a static single-page app embedded in the binary
//! from `crates/api/console/` (plain HTML, CSS and JavaScript modules: nothing to build).
//!
//! These routes serve files only. Everything the console shows or does goes through `/admin`
//! with the admin key the operator signs in with, sent as a bearer header (never a cookie), so
//! a cross-site request cannot act. Every response carries a strict Content-Security-Policy
//! (no inline script or style, no other origin) and may not be framed.

use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::ApiError;

/// One embedded file, served at `/console/<name>`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $name)),
        }
    };
}

const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

const ASSETS: &[Asset] = &[
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("ui.js", "text/javascript; charset=utf-8"),
    asset!("charts.js", "text/javascript; charset=utf-8"),
    asset!("activity.js", "text/javascript; charset=utf-8"),
    asset!("tenants.js", "text/javascript; charset=utf-8"),
    asset!("tenant.js", "text/javascript; charset=utf-8"),
    asset!("operations.js", "text/javascript; charset=utf-8"),
];

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The console's page (sign in with the admin key; tenants, migrations, instances).
#[utoipa::path(get, path = "/console", tag = "operations",
    responses((status = 200, description = "The console's single page", content_type = "text/html", body = String)))]
pub async fn console() -> Response {
    serve(&INDEX)
}

/// `/console/<file>`: the page's scripts and style sheet.
pub async fn console_file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset),
        None => secured(ApiError::not_found("no such console file").into_response()),
    }
}

fn serve(asset: &Asset) -> Response {
    secured(
        (
            [
                (header::CONTENT_TYPE, asset.content_type),
                // Not fingerprinted: revalidate, so an upgrade is seen at the next load.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            asset.body,
        )
            .into_response(),
    )
}

fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
