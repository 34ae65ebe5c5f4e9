//! Fetching an identity provider's JSON documents (discovery, JWKS): one GET over HTTPS, or
//! plain HTTP to a loopback address (a provider on the same host, as in tests); anything else is
//! refused before any I/O. Bounded in time and size; no redirects, no cookies, no credentials.
//! TLS is rustls with ring and the Mozilla root certificates (`webpki-roots`).

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::header::{ACCEPT, CACHE_CONTROL, HOST, USER_AGENT};
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};
use tracing::Instrument;

/// A provider's documents are a few KiB; anything this large is not one.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a document could not be had (safe to log: URLs and reasons, never a body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub(crate) String);

/// Headers every fetch carries, computed inside the fetch's span: the caller's trace context
/// (W3C `traceparent`) when traces are exported.
pub type TraceHeaders = Arc<dyn Fn() -> Vec<(HeaderName, HeaderValue)> + Send + Sync>;

/// A fetched document and how long the provider says it may be cached (`max-age`).
pub(crate) struct Fetched {
    pub(crate) body: Bytes,
    pub(crate) max_age: Option<Duration>,
}

/// `url` if it may be fetched: `https://`, or `http://` to a loopback host.
pub(crate) fn checked_url(url: &str) -> Result<Uri, FetchError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| FetchError(format!("{url:?} is not a URL")))?;
    let host = uri
        .host()
        .ok_or_else(|| FetchError(format!("{url} names no host")))?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        Some("http") => Err(FetchError(format!(
            "{url}: https is required (plain http only to a loopback address)"
        ))),
        _ => Err(FetchError(format!("{url}: not an https URL"))),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// GETs a JSON document from a URL accepted by [`checked_url`], within `timeout` in all, in a
/// client span of its own.
pub(crate) async fn get(
    uri: &Uri,
    timeout: Duration,
    trace: Option<&TraceHeaders>,
) -> Result<Fetched, FetchError> {
    let span = tracing::info_span!(
        "oidc.fetch",
        otel.name = "GET",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        url.full = %uri,
        http.response.status_code = tracing::field::Empty,
    );
    let headers = span.in_scope(|| trace.map(|headers| headers()).unwrap_or_default());
    let fetched = tokio::time::timeout(timeout, get_within(uri, headers))
        .instrument(span.clone())
        .await
        .map_err(|_| FetchError(format!("{uri}: no answer within {timeout:?}")))
        .and_then(|fetched| fetched);
    if fetched.is_err() {
        span.record("otel.status_code", "error");
    }
    fetched
}

async fn get_within(
    uri: &Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> Result<Fetched, FetchError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| FetchError(format!("{uri}: {what}: {e}"));
    let host = uri.host().unwrap_or_default();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare_host, port))
        .await
        .map_err(|e| fail("cannot connect", &e))?;
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let mut request = Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(HOST, authority)
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, concat!("tenantry/", env!("CARGO_PKG_VERSION")));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail("bad request", &e))?;
    let response = if https {
        let name =
            ServerName::try_from(bare_host.to_owned()).map_err(|e| fail("bad server name", &e))?;
        let tls = connector()
            .map_err(|e| fail("TLS", &e))?
            .connect(name, tcp)
            .await
            .map_err(|e| fail("TLS handshake", &e))?;
        send(tls, request).await
    } else {
        send(tcp, request).await
    }
    .map_err(|e| fail("request failed", &e))?;
    let status = i64::from(response.status().as_u16());
    tracing::Span::current().record("http.response.status_code", status);
    if response.status() != StatusCode::OK {
        return Err(FetchError(format!("{uri}: answered {}", response.status())));
    }
    let max_age = response
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| fail("reading the body", &e))?
        .to_bytes();
    Ok(Fetched { body, max_age })
}

async fn send<S>(
    io: S,
    request: Request<Empty<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    // The connection is driven beside the request and ends with it.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await
}

/// One TLS configuration for the process: ring, the Mozilla roots, safe protocol versions.
fn connector() -> Result<TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
                })
                .map_err(|e| e.to_string())
        })
        .clone()
        .map(TlsConnector::from)
}

/// `max-age` of a `Cache-Control` value (`no-store`/`no-cache` count as 0).
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        for ok in [
            "https://login.example.com/.well-known/openid-configuration",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9000/jwks",
        ] {
            assert!(checked_url(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://login.example.com/jwks",
            "http://10.0.0.1/jwks",
            "ftp://login.example.com/jwks",
            "file:///etc/passwd",
            "login.example.com",
        ] {
            assert!(checked_url(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            max_age("Max-Age=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
