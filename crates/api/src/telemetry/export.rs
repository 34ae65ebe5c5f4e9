//! Span export: the OpenTelemetry SDK's tracer provider, a batch processor on its own thread
//! posting OTLP/HTTP protobuf to the configured collector, and the `tracing` layer that turns
//! `tracing` spans into OpenTelemetry spans. Export never blocks a request: a slow or absent
//! collector costs dropped spans (the batch queue is bounded), not latency.

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{OtelSettings, Root, Sampling};

/// The exporter could not be set up (the message never holds a header's value).
#[derive(Debug, thiserror::Error)]
#[error("trace export: {0}")]
pub struct ExportError(String);

pub(super) struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    pub(super) fn start(settings: &OtelSettings) -> Result<Exporter, ExportError> {
        let headers = settings
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_string()))
            .collect();
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.traces_endpoint.as_str())
            .with_timeout(settings.timeout)
            .with_headers(headers)
            .build()
            .map_err(|e| ExportError(e.to_string()))?;
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attributes(
                std::iter::once(KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))).chain(
                    settings
                        .resource
                        .iter()
                        .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
                ),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler(settings.sampling))
            .with_resource(resource)
            .build();
        Ok(Exporter { provider })
    }

    /// The `tracing` layer feeding this exporter.
    pub(super) fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("tenantry"))
    }

    pub(super) fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "trace export did not shut down cleanly");
        }
    }
}

fn sampler(sampling: Sampling) -> Sampler {
    match sampling {
        Sampling::AlwaysOn => Sampler::AlwaysOn,
        Sampling::AlwaysOff => Sampler::AlwaysOff,
        Sampling::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        Sampling::ParentBased(root) => Sampler::ParentBased(Box::new(match root {
            Root::AlwaysOn => Sampler::AlwaysOn,
            Root::AlwaysOff => Sampler::AlwaysOff,
            Root::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        })),
    }
}
