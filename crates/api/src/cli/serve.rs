//! `tenantry serve`: the HTTP server until SIGINT/SIGTERM, then a graceful drain.

use std::process::ExitCode;

use tenantry_api::{Application, Config, telemetry};
use tokio::runtime::Runtime;

/// Serves with the server's logging (JSON lines or readable, on stdout) and, when configured,
/// trace export, until the signal; the spans still buffered are exported before the exit.
pub fn main(runtime: &Runtime, config: Config) -> ExitCode {
    let telemetry = match telemetry::init(config.log_format, config.otel.as_ref()) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("tenantry: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(otel) = &config.otel {
        // The collector's host only: a URL may carry credentials.
        let collector = otel
            .traces_endpoint
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(String::from))
            .unwrap_or_default();
        tracing::info!(%collector, service = %otel.service_name, "exporting traces");
    }
    let status = match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "tenantry stopped");
            eprintln!("tenantry: {e:#}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    status
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let addr = app.local_addr()?;
    tracing::info!(%addr, "tenantry listening");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("tenantry stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown signal received; draining requests");
}
