//! `tenantry migrate`: applies pending migrations to every active or suspended tenant (or the
//! ones named), `--parallel` (default `TENANTRY_MIGRATION_PARALLELISM`) at a time, with a
//! progress bar on stderr, then reports per tenant. A failing tenant does not stop the others;
//! it makes the exit status 1. `--status` changes nothing and lists what is pending.

use super::error::CliCode;
use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tenancy::migrations::{MigrationReport, TenantMigrationOutcome, migrate_all};
use tenancy::{TenancyError, Tenant, TenantId, TenantStatus};
use tenantry_api::Config;

use super::output::{Output, table};
use super::{CliError, logging, tenant_id};
use tenantry_api::platform::Platform;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  tenantry migrate --status\n  \
                        tenantry migrate --tenant acme --tenant globex --parallel 2")]
pub struct MigrateArgs {
    /// Migrate only these tenants (repeat; default: every active or suspended tenant).
    #[arg(long = "tenant", value_name = "ID", value_parser = tenant_id)]
    tenants: Vec<TenantId>,
    /// Tenants migrated at once (default: TENANTRY_MIGRATION_PARALLELISM).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    parallel: Option<u16>,
    /// Change nothing: list each tenant's schema version (as the catalog records it) and the
    /// migrations it has yet to run.
    #[arg(long)]
    status: bool,
}

const MIGRATED: [TenantStatus; 2] = [TenantStatus::Active, TenantStatus::Suspended];

pub async fn run(args: MigrateArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let platform = Platform::connect(config).await?;
    let tenants = selected(&platform, &args.tenants).await?;
    if args.status {
        return status(&platform, &tenants, out);
    }
    let progress = Progress::start(
        tenants.len() as u64,
        !out.json && std::io::stderr().is_terminal(),
    );
    let report = migrate_all(
        &platform.catalog,
        &platform.pools,
        &platform.schema,
        &args.tenants,
        args.parallel
            .map_or(config.migration_parallelism, usize::from),
        |outcome| progress.done(outcome),
    )
    .await;
    progress.finish();
    let report = report?;
    if out.json {
        out.json(&report)?;
    } else {
        summary(&report, out)?;
    }
    if report.failed > 0 {
        return Err(CliError::failed(
            CliCode::MigrationFailed,
            anyhow::anyhow!(
                "{} of {} tenants failed to migrate",
                report.failed,
                report.tenants
            ),
        ));
    }
    Ok(())
}

/// The named tenants (each must exist and be active or suspended), or every such tenant.
async fn selected(platform: &Platform, ids: &[TenantId]) -> Result<Vec<Tenant>, CliError> {
    if ids.is_empty() {
        return Ok(platform.store().with_status(&MIGRATED).await?);
    }
    let mut tenants = Vec::with_capacity(ids.len());
    for id in ids {
        let tenant = platform.store().require(id).await?;
        if !MIGRATED.contains(&tenant.status) {
            return Err(TenancyError::InvalidState {
                id: id.clone(),
                status: tenant.status.as_str(),
            }
            .into());
        }
        tenants.push(tenant);
    }
    Ok(tenants)
}

/// One tenant's place in the schema, for `--status`.
#[derive(Serialize)]
struct Pending {
    tenant_id: TenantId,
    schema_version: u32,
    latest_version: u32,
    pending: Vec<u32>,
}

fn status(platform: &Platform, tenants: &[Tenant], out: Output) -> Result<(), CliError> {
    let latest = platform.schema.latest_version();
    let pending: Vec<Pending> = tenants
        .iter()
        .map(|t| Pending {
            tenant_id: t.id.clone(),
            schema_version: t.schema_version,
            latest_version: latest,
            pending: (t.schema_version + 1..=latest).collect(),
        })
        .collect();
    if out.json {
        return out.json(&pending);
    }
    let rows: Vec<Vec<String>> = pending
        .iter()
        .map(|p| {
            let versions: Vec<String> = p.pending.iter().map(u32::to_string).collect();
            let pending = if versions.is_empty() {
                "none".to_string()
            } else {
                versions.join(",")
            };
            vec![
                p.tenant_id.to_string(),
                p.schema_version.to_string(),
                pending,
            ]
        })
        .collect();
    out.line(table(&["TENANT", "VERSION", "PENDING"], &rows).trim_end())?;
    let behind = pending.iter().filter(|p| !p.pending.is_empty()).count();
    out.line(&format!(
        "{} tenants, {behind} behind version {latest}",
        pending.len()
    ))
}

/// The per-tenant table and a closing count.
fn summary(report: &MigrationReport, out: Output) -> Result<(), CliError> {
    if report.tenants == 0 {
        return out.line("no tenants to migrate");
    }
    let rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|r| {
            let result = match (&r.error, r.from_version == r.to_version) {
                (Some(error), _) => format!("failed: {error}"),
                (None, true) => "up to date".to_string(),
                (None, false) => "migrated".to_string(),
            };
            vec![
                r.tenant_id.to_string(),
                r.from_version.to_string(),
                r.to_version.to_string(),
                result,
            ]
        })
        .collect();
    let text = table(&["TENANT", "FROM", "TO", "RESULT"], &rows);
    out.line(text.trim_end())?;
    out.line(&format!(
        "{} tenants: {} ok, {} failed",
        report.tenants, report.succeeded, report.failed
    ))
}

/// The progress bar: drawn on stderr only when asked (a terminal, no `--json`).
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn start(total: u64, visible: bool) -> Progress {
        if !visible {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("migrating [{bar:30}] {pos}/{len} tenants {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        logging::attach_bar(&bar);
        Progress { bar }
    }

    fn done(&self, outcome: &TenantMigrationOutcome) {
        let verdict = if outcome.ok { "ok" } else { "failed" };
        self.bar
            .set_message(format!("({} {verdict})", outcome.tenant_id));
        self.bar.inc(1);
        // Tenants created since the count was taken.
        let position = self.bar.position();
        if self.bar.length().is_some_and(|len| position > len) {
            self.bar.set_length(position);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
        logging::detach_bar();
    }
}
