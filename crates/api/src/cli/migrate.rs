//! `tenantry migrate`: applies pending migrations to every active or suspended tenant (or one),
//! `TENANTRY_MIGRATION_PARALLELISM` at a time, with a progress bar on stderr, then reports per
//! tenant. A failing tenant does not stop the others; it makes the exit status 1.

use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tenancy::migrations::{MigrationReport, TenantMigrationOutcome, migrate_all};
use tenancy::{TenancyError, TenantId, TenantStatus};
use tenantry_api::Config;

use super::output::{Output, table};
use super::{CliError, logging, tenant_id};
use tenantry_api::platform::Platform;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Migrate only this tenant (default: every active or suspended tenant).
    #[arg(long, value_name = "ID", value_parser = tenant_id)]
    tenant: Option<TenantId>,
}

const MIGRATED: [TenantStatus; 2] = [TenantStatus::Active, TenantStatus::Suspended];

pub async fn run(args: MigrateArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let platform = Platform::connect(config).await?;
    let total = match &args.tenant {
        Some(id) => {
            let tenant = platform.store().require(id).await?;
            if !MIGRATED.contains(&tenant.status) {
                return Err(TenancyError::InvalidState {
                    id: id.clone(),
                    status: tenant.status.as_str(),
                }
                .into());
            }
            1
        }
        None => platform.store().ids_with_status(&MIGRATED).await?.len(),
    };
    let progress = Progress::start(total as u64, !out.json && std::io::stderr().is_terminal());
    let report = migrate_all(
        &platform.catalog,
        &platform.pools,
        &platform.schema,
        args.tenant.as_ref(),
        config.migration_parallelism,
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
            "migration_failed",
            anyhow::anyhow!(
                "{} of {} tenants failed to migrate",
                report.failed,
                report.tenants
            ),
        ));
    }
    Ok(())
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
