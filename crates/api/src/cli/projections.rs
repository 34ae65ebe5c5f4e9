//! `tenantry projections rebuild ID`: rebuild a tenant's read models from its outbox, beside the
//! live ones, then switch — as `POST /admin/tenants/{id}/projections/rebuild` does. One rebuild
//! per tenant at a time across the fleet and this command (`rebuild_in_progress` otherwise).

use clap::Subcommand;
use cqrs::projector::rebuild_read_models;
use tenantry_api::Config;
use tenantry_api::platform::Platform;

use super::CliError;
use super::output::Output;
use super::tenants::IdArg;

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Rebuild a tenant's read models from its outbox (queries keep reading the live ones until
    /// the new ones have caught up; servers switch within seconds).
    Rebuild(IdArg),
}

pub async fn run(
    command: ProjectionsCommand,
    config: &Config,
    out: Output,
) -> Result<(), CliError> {
    let ProjectionsCommand::Rebuild(IdArg { id }) = command;
    let platform = Platform::connect(config).await?;
    let tenant = platform.store().require(&id).await?;
    let db = platform.pools.maintenance_db(&tenant).await?;
    out.note(&format!("rebuilding the read models of tenant {id}"))?;
    let done = rebuild_read_models(&db, &commerce::projections::all())
        .await
        .map_err(|e| {
            CliError::from(e)
                .context("the rebuild did not finish (the live read models are unchanged)")
        })?;
    if out.json {
        out.json(&serde_json::json!({
            "tenant_id": tenant.id,
            "events_applied": done.events,
            "dead_letters": done.dead_letters,
            "generation": done.generation,
        }))
    } else {
        out.line(&format!(
            "tenant {id}: read models rebuilt from {} events ({} dead letters), generation {}",
            done.events, done.dead_letters, done.generation
        ))
    }
}
