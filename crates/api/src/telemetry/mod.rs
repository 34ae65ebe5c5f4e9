//! Logs and traces. Logs: `tracing` with JSON lines in production and readable lines on a
//! terminal. Traces: when an OTLP endpoint is configured (`OTEL_*`), the same `tracing` spans are
//! exported as OpenTelemetry spans (`export`): a server span per request continuing the caller's
//! W3C `traceparent` (`request_span`), dispatch and projector spans, and a client span per
//! database command. Headers and bodies are never logged nor exported (they carry tokens and
//! tenant data).

mod export;
mod request_span;

use std::io::IsTerminal;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, OtelSettings};

pub use export::ExportError;
pub use request_span::{RequestSpans, record_tenant, request_span, trace_headers};

/// The installed telemetry; [`Telemetry::shutdown`] flushes the spans not yet exported.
#[must_use = "shut it down at exit, or the last spans are lost"]
pub struct Telemetry {
    exporter: Option<export::Exporter>,
}

impl Telemetry {
    /// Exports what is still buffered (bounded by the export timeout) and stops the exporter.
    /// Call it outside the async runtime: the exporter's HTTP client blocks.
    pub fn shutdown(self) {
        if let Some(exporter) = self.exporter {
            exporter.shutdown();
        }
    }
}

/// Installs the global subscriber: logs filtered by `RUST_LOG` (default `info`) and, with `otel`,
/// span export at `INFO` and above whatever `RUST_LOG` says. Already installed (tests build
/// several servers in one process): the first one stays, and nothing is exported from here.
pub fn init(format: LogFormat, otel: Option<&OtelSettings>) -> Result<Telemetry, ExportError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .compact()
            .with_filter(filter)
            .boxed()
    };
    let exporter = otel.map(export::Exporter::start).transpose()?;
    let spans = exporter
        .as_ref()
        .map(|e| e.layer().with_filter(LevelFilter::INFO));
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init();
    match installed {
        Ok(()) => Ok(Telemetry { exporter }),
        Err(_) => {
            if let Some(exporter) = exporter {
                exporter.shutdown();
            }
            Ok(Telemetry { exporter: None })
        }
    }
}
