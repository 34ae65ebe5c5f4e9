//! `tenantry tenants move ID --to CLUSTER`: moves a tenant to another cluster while it keeps
//! serving, as `POST /admin/tenants/{id}/move` does, run in this process with a progress bar.
//! Should this process die, a running server's sweeper takes the move over and completes it.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tenancy::TenantId;
use tenancy::moves::{MoveError, Mover};
use tenantry_api::Config;
use tenantry_api::http::ProblemCode;
use tenantry_api::platform::Platform;
use tenantry_api::views::MoveView;

use super::error::CliCode;
use super::logging;
use super::output::Output;
use super::{CliError, tenant_id};

/// How often the progress bar reads the move's record.
const REFRESH: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub struct MoveArgs {
    /// Tenant id.
    #[arg(value_name = "ID", value_parser = tenant_id)]
    id: TenantId,
    /// The cluster to move it to: `default` or a name from TENANTRY_CLUSTERS.
    #[arg(long, value_name = "CLUSTER")]
    to: String,
}

pub async fn move_tenant(args: MoveArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let platform = Platform::connect(config).await?;
    let mover = platform.mover.clone();
    let started = mover.start(&args.id, &args.to).await.map_err(move_error)?;
    let bar = progress(!out.json && std::io::stderr().is_terminal());
    let watching = tokio::spawn(watch(mover.clone(), args.id.clone(), bar.clone()));
    let outcome = mover.run(&started).await;
    watching.abort();
    bar.finish_and_clear();
    logging::detach_bar();
    let done = outcome.map_err(move_error)?;
    let view = MoveView::from(&done);
    if out.json {
        return out.json(&view);
    }
    out.line(&format!(
        "moved tenant {} from {} to {}: {} documents copied, writes held {} ms; the source database is dropped after {}",
        view.tenant_id,
        view.from,
        view.to,
        view.documents_copied,
        view.write_pause_ms.unwrap_or(0),
        view.drop_source_after.as_deref().unwrap_or("its grace period"),
    ))
}

/// The progress bar: drawn on stderr only when asked (a terminal, no `--json`).
fn progress(visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} moving: {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    logging::attach_bar(&bar);
    bar
}

/// Shows the move's state and the documents copied until aborted.
async fn watch(mover: Mover, id: TenantId, bar: ProgressBar) {
    loop {
        if let Ok(Some(record)) = mover.current(&id).await {
            bar.set_message(format!(
                "{}, {} documents copied",
                record.state.as_str(),
                record.documents_copied
            ));
        }
        tokio::time::sleep(REFRESH).await;
    }
}

fn move_error(e: MoveError) -> CliError {
    match e {
        MoveError::Tenancy(t) => t.into(),
        MoveError::InProgress(_) => CliError::failed(ProblemCode::MoveInProgress, e),
        MoveError::SameCluster { .. } | MoveError::Outdated(_) | MoveError::Gone => {
            CliError::failed(ProblemCode::InvalidTenantState, e)
        }
        MoveError::Verify(_)
        | MoveError::Changes(_)
        | MoveError::StreamBehind(_)
        | MoveError::Copy(_)
        | MoveError::TakenOver => CliError::failed(CliCode::DatabaseError, e),
    }
}
