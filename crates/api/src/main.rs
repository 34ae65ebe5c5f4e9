//! `tenantry`: the multi-tenant API server and its operator commands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tenantry_api::{Application, Config, telemetry};

#[derive(Parser)]
#[command(
    name = "tenantry",
    version,
    about = "Multi-tenant REST API server: database-per-tenant on MongoDB, CQRS."
)]
struct Cli {
    /// TOML configuration file (environment variables override it). Also TENANTRY_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server until SIGINT/SIGTERM (then drain in-flight requests).
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tenantry: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tenantry: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.log_format);
    let result = match cli.command {
        Command::Serve => runtime.block_on(serve(config)),
    };
    match result {
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
