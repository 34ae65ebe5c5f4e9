//! Trace export end to end: a real `tenantry serve` process, configured only by the standard
//! `OTEL_*` variables, posts OTLP/HTTP protobuf to a collector in this test, which decodes the
//! protobuf as any OpenTelemetry collector would. Nothing of the server's internals is inspected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc_provider::{AUDIENCE, Client, Provider};
use crate::process::{Fleet, Server};

/// A span as received, with the attributes of the resource that sent it.
#[derive(Clone)]
struct Exported {
    span: Span,
    resource: Vec<KeyValue>,
}

#[derive(Default)]
struct Received {
    spans: Vec<Exported>,
    /// Headers of every export request.
    requests: Vec<HeaderMap>,
    undecodable: usize,
}

/// An OTLP/HTTP receiver on 127.0.0.1 (`POST /v1/traces`, protobuf).
struct Collector {
    base: String,
    received: Arc<Mutex<Received>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(received): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    let mut received = received.lock().unwrap();
    received.requests.push(headers);
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        received.undecodable += 1;
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.spans.push(Exported {
                    span,
                    resource: resource.clone(),
                });
            }
        }
    }
    let answer = ExportTraceServiceResponse {
        partial_success: None,
    };
    (StatusCode::OK, answer.encode_to_vec())
}

impl Collector {
    async fn start() -> Collector {
        let received = Arc::new(Mutex::new(Received::default()));
        let router = axum::Router::new()
            .route("/v1/traces", post(receive))
            .with_state(Arc::clone(&received));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Collector {
            base,
            received,
            server,
        }
    }

    fn spans(&self) -> Vec<Exported> {
        self.received.lock().unwrap().spans.clone()
    }

    /// Waits until `done` holds for the spans received so far; those spans.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Exported]) -> bool) -> Vec<Exported> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            if Instant::now() > deadline {
                let names: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
                panic!("the collector never received {what}; received: {names:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        AnyValue::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key)? {
        AnyValue::IntValue(n) => Some(*n),
        _ => None,
    }
}

fn in_trace(spans: &[Exported], trace_id: &str) -> Vec<Exported> {
    spans
        .iter()
        .filter(|s| hex::encode(&s.span.trace_id) == trace_id)
        .cloned()
        .collect()
}

fn named<'a>(spans: &'a [Exported], name: &str) -> Option<&'a Exported> {
    spans.iter().find(|s| s.span.name == name)
}

/// Whether `span` descends from the span `ancestor` (by `parent_span_id`, within `spans`).
fn descends_from(spans: &[Exported], span: &Span, ancestor: &[u8]) -> bool {
    let by_id: HashMap<&[u8], &Span> = spans
        .iter()
        .map(|s| (s.span.span_id.as_slice(), &s.span))
        .collect();
    let mut parent = span.parent_span_id.as_slice();
    for _ in 0..spans.len() {
        if parent == ancestor {
            return true;
        }
        match by_id.get(parent) {
            Some(next) => parent = next.parent_span_id.as_slice(),
            None => return false,
        }
    }
    false
}

fn mongodb_spans_of(spans: &[Exported]) -> Vec<&Exported> {
    spans
        .iter()
        .filter(|s| text(&s.span.attributes, "db.system.name").as_deref() == Some("mongodb"))
        .collect()
}

/// A fresh W3C trace id (32 hex digits) and parent span id (16).
fn ids() -> (String, String) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    (trace, parent)
}

/// A `tenantry serve` of its own catalog exporting to `collector` (batches every 100 ms).
async fn traced_server(collector: &Collector, extra: &[(&str, &str)]) -> Server {
    let mut settings = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.base.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    settings.extend_from_slice(extra);
    Fleet::new(&[]).start_with("traced", &settings).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_continues_the_callers_trace_down_to_each_database_command() {
    let collector = Collector::start().await;
    let server = traced_server(
        &collector,
        &[
            ("OTEL_SERVICE_NAME", "tenantry-traced"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=test",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-collector-key=k%3Dsecret-42",
            ),
        ],
    )
    .await;
    let (id, token) = server.tenant_and_token().await;
    let database = server
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK)["database"]
        .as_str()
        .unwrap()
        .to_string();
    let (trace_id, caller_span) = ids();
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let sku = format!("SKU-{}", &trace_id[..8]);
    server
        .call(
            Method::POST,
            "/v1/products",
            &token,
            Some(json!({"sku": sku, "name": "Traced product", "price_cents": 100})),
            &[("traceparent", &traceparent)],
        )
        .await
        .expect("the server answers")
        .expect(StatusCode::CREATED);

    let spans = collector
        .wait_for(
            "the request's server span and its database spans",
            |spans| {
                let trace = in_trace(spans, &trace_id);
                named(&trace, "POST /v1/products").is_some() && !mongodb_spans_of(&trace).is_empty()
            },
        )
        .await;
    let trace = in_trace(&spans, &trace_id);
    let request = named(&trace, "POST /v1/products").unwrap();
    assert_eq!(hex::encode(&request.span.parent_span_id), caller_span);
    assert_eq!(request.span.kind, SpanKind::Server as i32);
    let attributes = &request.span.attributes;
    assert_eq!(
        text(attributes, "http.route").as_deref(),
        Some("/v1/products")
    );
    assert_eq!(
        text(attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(int(attributes, "http.response.status_code"), Some(201));
    assert_eq!(text(attributes, "tenant.id").as_deref(), Some(id.as_str()));
    assert!(text(attributes, "tenantry.request_id").is_some_and(|r| !r.is_empty()));
    assert_ne!(
        request.span.status.as_ref().map(|s| s.code),
        Some(SpanStatus::Error as i32)
    );
    assert_eq!(
        text(&request.resource, "service.name").as_deref(),
        Some("tenantry-traced")
    );
    assert_eq!(
        text(&request.resource, "deployment.environment.name").as_deref(),
        Some("test")
    );
    // The command's dispatch, and every database command, inside the request's span.
    let dispatch = named(&trace, "dispatch").expect("a dispatch span in the trace");
    assert!(descends_from(&trace, &dispatch.span, &request.span.span_id));
    let commands = mongodb_spans_of(&trace);
    for command in &commands {
        assert_eq!(command.span.kind, SpanKind::Client as i32);
        assert!(
            descends_from(&trace, &command.span, &request.span.span_id),
            "{} is outside the request's span",
            command.span.name
        );
        assert!(text(&command.span.attributes, "db.operation.name").is_some());
    }
    assert!(
        commands.iter().any(|c| {
            text(&c.span.attributes, "db.namespace").as_deref() == Some(database.as_str())
        }),
        "no command on the tenant's database {database}"
    );
    // No tenant data in any exported span: not the product's sku, not its name.
    for exported in &spans {
        let values = format!("{:?}", exported.span.attributes);
        assert!(!values.contains(&sku) && !values.contains("Traced product"));
    }

    // The projector's work is traced too: a tenant's catch-up, its batches, and their
    // database commands. (A catch-up ends after its batches, so its span may come in a later
    // export: wait for the whole tree.)
    collector
        .wait_for(
            "a projector catch-up and batch on the tenant's database",
            |spans| {
                spans.iter().any(|batch| {
                    batch.span.name == "projector.batch"
                        && spans.iter().any(|catch_up| {
                            catch_up.span.name == "projector.catch_up"
                                && catch_up.span.span_id == batch.span.parent_span_id
                        })
                        && mongodb_spans_of(spans).iter().any(|c| {
                            text(&c.span.attributes, "db.namespace").as_deref()
                                == Some(database.as_str())
                                && descends_from(spans, &c.span, &batch.span.span_id)
                        })
                })
            },
        )
        .await;

    // The collector got protobuf with the configured header; the log never shows its value,
    // and each of the request's log lines names its trace.
    {
        let received = collector.received.lock().unwrap();
        assert_eq!(received.undecodable, 0);
        let first = &received.requests[0];
        assert_eq!(first["content-type"], "application/x-protobuf");
        assert_eq!(first["x-collector-key"], "k=secret-42");
    }
    let (_, logs) = server.stop();
    assert!(
        !logs.iter().any(|l| l.contains("secret-42")),
        "a header value is logged"
    );
    let served: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request served" && l["span"]["route"] == "/v1/products")
        .collect();
    assert!(
        served
            .iter()
            .any(|l| l["span"]["trace_id"] == trace_id.as_str()),
        "no request log line with trace_id {trace_id}: {served:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_request_is_an_error_span_and_an_unsampled_caller_is_obeyed() {
    let collector = Collector::start().await;
    // Every query panics, as a bug would: a 500.
    let server = traced_server(
        &collector,
        &[("TENANTRY_FAILPOINTS", "query.read_db=panic")],
    )
    .await;
    let (_, token) = server.tenant_and_token().await;
    let list = |headers: Vec<(String, String)>| {
        let server = &server;
        let token = token.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            server
                .call(Method::GET, "/v1/products", &token, None, &headers)
                .await
                .expect("the server answers")
                .status
        }
    };
    // Not sampled by the caller: the default sampler (parent-based) records nothing.
    let (unsampled, parent) = ids();
    let status = list(vec![(
        "traceparent".into(),
        format!("00-{unsampled}-{parent}-00"),
    )])
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // No traceparent: a new trace, its root this request's span, an error.
    assert_eq!(list(Vec::new()).await, StatusCode::INTERNAL_SERVER_ERROR);
    let spans = collector
        .wait_for("the failed request's span", |spans| {
            named(spans, "GET /v1/products").is_some()
        })
        .await;
    let failed = named(&spans, "GET /v1/products").unwrap();
    assert!(failed.span.parent_span_id.is_empty(), "a root span");
    assert_eq!(
        failed.span.status.as_ref().map(|s| s.code),
        Some(SpanStatus::Error as i32)
    );
    assert_eq!(
        int(&failed.span.attributes, "http.response.status_code"),
        Some(500)
    );
    // The unsampled request ended before the sampled one: it would have been exported first.
    assert!(
        in_trace(&spans, &unsampled).is_empty(),
        "a span of a trace the caller did not sample"
    );
    let (status, _) = server.stop();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_providers_key_fetch_carries_the_callers_trace() {
    let collector = Collector::start().await;
    let provider = Provider::start(
        &[("k1", "rsa_private.pem")],
        &[Client {
            id: "sso",
            claims: json!({"roles": ["viewer"]}),
        }],
    );
    let server = traced_server(&collector, &[]).await;
    let id = testkit::unique_name("t");
    let auth = json!({"issuer": provider.issuer, "audience": AUDIENCE});
    server
        .admin_json(
            Method::POST,
            "/admin/tenants",
            Some(json!({"id": id, "name": "SSO", "auth": auth})),
        )
        .await
        .expect(StatusCode::CREATED);
    let token = provider.token("sso").await;
    // The tenant's issuer is used for the first time: its keys are fetched within the request.
    let (trace_id, caller_span) = ids();
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    server
        .call(
            Method::GET,
            "/v1/products",
            &token,
            None,
            &[("traceparent", &traceparent)],
        )
        .await
        .expect("the server answers")
        .expect(StatusCode::OK);
    let sent = provider.traceparents().await;
    assert!(
        sent.len() >= 2 && sent.iter().all(|t| t.contains(&trace_id)),
        "discovery and JWKS GETs carry the request's trace: {sent:?}"
    );
    let spans = collector
        .wait_for("the key fetches' client spans", |spans| {
            let trace = in_trace(spans, &trace_id);
            named(&trace, "GET /v1/products").is_some()
                && trace.iter().filter(|s| s.span.name == "GET").count() >= 2
        })
        .await;
    let trace = in_trace(&spans, &trace_id);
    let request = named(&trace, "GET /v1/products").unwrap();
    for fetch in trace.iter().filter(|s| s.span.name == "GET") {
        assert_eq!(fetch.span.kind, SpanKind::Client as i32);
        assert!(descends_from(&trace, &fetch.span, &request.span.span_id));
        assert_eq!(
            int(&fetch.span.attributes, "http.response.status_code"),
            Some(200),
            "{:?}",
            fetch.span.attributes
        );
        // The provider saw this span as the caller.
        let parent = format!("00-{trace_id}-{}-01", hex::encode(&fetch.span.span_id));
        assert!(sent.contains(&parent), "{parent} not in {sent:?}");
    }
}
