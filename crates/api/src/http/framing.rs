//! Strict request framing: a request whose meaning depends on which of two values a reader
//! picks is refused with 400 `malformed_request` before anything acts on it (tenant selection,
//! authentication, idempotency, preconditions, read-your-writes):
//!
//! - more than one `Host`, `X-Tenant-ID`, `Authorization`, `Idempotency-Key`, `If-Match` or
//!   `X-Min-Position` header (and `X-Forwarded-Host` when it is trusted) — RFC 9112 §3.2 requires
//!   400 for a repeated `Host`;
//! - a `Host` that is not an authority (`host[:port]`), carries userinfo (`user@host`), or
//!   differs from the authority of an absolute-form request target; no `Host` in HTTP/1.1;
//! - a path or query string that is not UTF-8 once percent-decoded (`/v1/products/%FF%FE`).
//!
//! Runs inside the request-id and problem layers, so its answers are problem documents with the
//! request's id. What hyper itself rejects before the router (431, malformed request lines) is
//! described in the README.

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderName, Uri, Version, header};
use axum::middleware::Next;
use axum::response::Response;

use super::ApiError;
use crate::state::AppState;

/// A request refused for its framing; the message names what is wrong (shown to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("more than one {0} header")]
    Repeated(&'static str),
    #[error("HTTP/1.1 requests need a Host header")]
    MissingHost,
    #[error("the Host header is not a host[:port] authority")]
    HostNotAuthority,
    #[error("the Host header must not carry userinfo")]
    HostUserinfo,
    #[error("the Host header differs from the request target's authority")]
    HostMismatch,
    #[error("the path is not valid UTF-8 once percent-decoded")]
    PathNotUtf8,
    #[error("the query string is not valid UTF-8 once percent-decoded")]
    QueryNotUtf8,
}

/// Headers that must appear at most once, with the name the client is told.
static SINGLE: [(HeaderName, &str); 6] = [
    (header::HOST, "Host"),
    (HeaderName::from_static("x-tenant-id"), "X-Tenant-ID"),
    (header::AUTHORIZATION, "Authorization"),
    (
        HeaderName::from_static("idempotency-key"),
        "Idempotency-Key",
    ),
    (header::IF_MATCH, "If-Match"),
    (HeaderName::from_static("x-min-position"), "X-Min-Position"),
];

static FORWARDED_HOST: (HeaderName, &str) = (
    HeaderName::from_static("x-forwarded-host"),
    "X-Forwarded-Host",
);

pub async fn check_framing(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check(
        request.version(),
        request.uri(),
        request.headers(),
        state.config.trust_forwarded_host,
    )?;
    Ok(next.run(request).await)
}

/// The framing rules, on a request's version, target and headers.
pub fn check(
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
    trust_forwarded_host: bool,
) -> Result<(), Malformed> {
    let forwarded = trust_forwarded_host.then_some(&FORWARDED_HOST);
    for (name, shown) in SINGLE.iter().chain(forwarded) {
        if headers.get_all(name).iter().nth(1).is_some() {
            return Err(Malformed::Repeated(shown));
        }
    }
    check_host(version, uri, headers)?;
    if !decodes_to_utf8(uri.path()) {
        return Err(Malformed::PathNotUtf8);
    }
    if !uri.query().is_none_or(decodes_to_utf8) {
        return Err(Malformed::QueryNotUtf8);
    }
    Ok(())
}

fn check_host(version: Version, uri: &Uri, headers: &HeaderMap) -> Result<(), Malformed> {
    let Some(host) = headers.get(header::HOST) else {
        return match version {
            Version::HTTP_09 | Version::HTTP_10 => Ok(()),
            _ => Err(Malformed::MissingHost),
        };
    };
    let host = host.to_str().map_err(|_| Malformed::HostNotAuthority)?;
    if host.contains('@') {
        return Err(Malformed::HostUserinfo);
    }
    let authority: Authority = host.parse().map_err(|_| Malformed::HostNotAuthority)?;
    match uri.authority() {
        Some(target) if !target.as_str().eq_ignore_ascii_case(authority.as_str()) => {
            Err(Malformed::HostMismatch)
        }
        _ => Ok(()),
    }
}

fn decodes_to_utf8(raw: &str) -> bool {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn verdict(target: &str, pairs: &[(&'static str, &'static str)]) -> Result<(), Malformed> {
        let uri: Uri = target.parse().unwrap();
        check(Version::HTTP_11, &uri, &headers(pairs), false)
    }

    #[test]
    fn one_of_each_is_fine() {
        let all = [
            ("host", "acme.api.example.com:8080"),
            ("x-tenant-id", "acme"),
            ("authorization", "Bearer x"),
            ("idempotency-key", "k"),
            ("if-match", "\"1\""),
            ("x-min-position", "3"),
            ("x-forwarded-host", "a.example.com"),
            ("x-forwarded-host", "b.example.com"),
        ];
        assert_eq!(verdict("/v1/products?q=caf%C3%A9", &all), Ok(()));
        assert_eq!(
            verdict("/v1/products/%E2%82%AC", &[("host", "[::1]:80")]),
            Ok(())
        );
    }

    #[test]
    fn repeated_headers_are_named() {
        for (name, shown) in &SINGLE {
            let mut map = headers(&[("host", "h")]);
            map.append(name, HeaderValue::from_static("a"));
            map.append(name, HeaderValue::from_static("b"));
            let uri = Uri::from_static("/");
            assert_eq!(
                check(Version::HTTP_11, &uri, &map, false),
                Err(Malformed::Repeated(shown))
            );
        }
        let forwarded = headers(&[
            ("host", "h"),
            ("x-forwarded-host", "a"),
            ("x-forwarded-host", "b"),
        ]);
        let uri = Uri::from_static("/");
        assert_eq!(
            check(Version::HTTP_11, &uri, &forwarded, true),
            Err(Malformed::Repeated("X-Forwarded-Host"))
        );
    }

    #[test]
    fn a_host_must_be_a_plain_authority() {
        let cases = [
            ("user@acme.example.com", Malformed::HostUserinfo),
            ("acme.example.com/path", Malformed::HostNotAuthority),
            ("acme example", Malformed::HostNotAuthority),
            ("", Malformed::HostNotAuthority),
        ];
        for (host, expected) in cases {
            let uri = Uri::from_static("/");
            let mut map = HeaderMap::new();
            map.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            assert_eq!(
                check(Version::HTTP_11, &uri, &map, false),
                Err(expected),
                "{host}"
            );
        }
        assert_eq!(verdict("/", &[]), Err(Malformed::MissingHost));
        let uri = Uri::from_static("/");
        assert_eq!(
            check(Version::HTTP_10, &uri, &HeaderMap::new(), false),
            Ok(())
        );
        assert_eq!(
            verdict(
                "http://other.example.com/v1",
                &[("host", "acme.example.com")]
            ),
            Err(Malformed::HostMismatch)
        );
        assert_eq!(
            verdict(
                "http://ACME.example.com/v1",
                &[("host", "acme.example.com")]
            ),
            Ok(())
        );
    }

    #[test]
    fn invalid_utf8_in_the_path_or_query_is_refused() {
        let host = [("host", "h")];
        assert_eq!(
            verdict("/v1/products/%FF%FE%FD", &host),
            Err(Malformed::PathNotUtf8)
        );
        assert_eq!(
            verdict("/v1/products?q=%C3", &host),
            Err(Malformed::QueryNotUtf8)
        );
        assert_eq!(
            verdict("/v1/products?q=%", &host),
            Ok(()),
            "a lone % is not an escape"
        );
    }
}
