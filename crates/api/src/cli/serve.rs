//! `tenantry serve`: the HTTP server until SIGINT/SIGTERM, then a graceful drain.

use std::process::ExitCode;

use tenantry_api::{Application, Config, telemetry};
use tokio::runtime::Runtime;

/// Serves with the server's logging (JSON lines or readable, on stdout) until the signal.
pub fn main(runtime: &Runtime, config: Config) -> ExitCode {
    telemetry::init(config.log_format);
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "tenantry stopped");
            eprintln!("tenantry: {e:#}");
            ExitCode::FAILURE
        }
    }
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
