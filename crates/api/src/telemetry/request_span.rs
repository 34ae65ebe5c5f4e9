//! The span of a request: request id, route, tenant, actor, status and latency for the log line
//! `request served`; with trace export on, also an OpenTelemetry server span named
//! `<method> <route>` that continues the caller's W3C `traceparent`, carries the HTTP semantic
//! conventions' attributes and `tenant.id`, is an error on a 5xx, and gives its `trace_id` to the
//! request's log lines.

use std::time::Duration;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::http::RequestId;

/// Makes and completes request spans; `traced`: spans are exported (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct RequestSpans {
    traced: bool,
}

pub fn request_span(
    traced: bool,
) -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpans, (), RequestSpans> {
    let spans = RequestSpans { traced };
    TraceLayer::new_for_http()
        .make_span_with(spans)
        .on_request(())
        .on_response(spans)
}

/// Records the request's tenant and actor once resolution knows them; `traced`: spans are
/// exported, so the span also gets the `tenant.id` attribute (nothing is allocated otherwise).
pub fn record_tenant(span: &Span, tenant: &str, actor: &str, traced: bool) {
    span.record("tenant", tenant);
    span.record("actor", actor);
    if traced {
        span.set_attribute("tenant.id", tenant.to_string());
    }
}

impl MakeSpan<Body> for RequestSpans {
    fn make_span(&mut self, request: &Request<Body>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map_or("", RequestId::as_str);
        // Empty fields are not logged: `trace_id` and the `otel.*` ones stay out of the log
        // line unless spans are exported.
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            route = route.unwrap_or("unmatched"),
            request_id,
            tenant = Empty,
            actor = Empty,
            status = Empty,
            latency_ms = Empty,
            trace_id = Empty,
            otel.name = Empty,
            otel.kind = Empty,
            otel.status_code = Empty,
        );
        if self.traced {
            continue_trace(&span, request, route, request_id);
        }
        span
    }
}

fn continue_trace(span: &Span, request: &Request<Body>, route: Option<&str>, request_id: &str) {
    let method = request.method().as_str();
    match route {
        Some(route) => {
            span.record("otel.name", format!("{method} {route}").as_str());
            span.set_attribute("http.route", route.to_string());
        }
        None => {
            span.record("otel.name", method);
        }
    }
    span.record("otel.kind", "server");
    // A missing or malformed `traceparent` starts a new trace.
    let caller = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    let _ = span.set_parent(caller);
    span.set_attribute("http.request.method", method.to_string());
    span.set_attribute("url.path", request.uri().path().to_string());
    span.set_attribute("tenantry.request_id", request_id.to_string());
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != TraceId::INVALID {
        span.record("trace_id", trace_id.to_string().as_str());
    }
}

impl<B> OnResponse<B> for RequestSpans {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let status = response.status();
        span.record("status", status.as_u16());
        span.record("latency_ms", latency.as_secs_f64() * 1000.0);
        if self.traced {
            span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
            if status.is_server_error() {
                span.record("otel.status_code", "error");
            }
        }
        tracing::info!("request served");
    }
}

/// The current span's trace context as W3C headers (`traceparent`, `tracestate`), for calls this
/// instance makes (an identity provider's keys).
pub fn trace_headers() -> Vec<(http::HeaderName, http::HeaderValue)> {
    let mut headers = http::HeaderMap::new();
    TraceContextPropagator::new().inject_context(
        &Span::current().context(),
        &mut HeaderInjector(&mut headers),
    );
    headers
        .into_iter()
        .filter_map(|(name, value)| Some((name?, value)))
        .collect()
}
