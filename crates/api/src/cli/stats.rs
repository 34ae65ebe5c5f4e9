//! `tenantry tenants stats ID`: what the tenant's database holds (documents per collection) and
//! how far its projections are, read as `GET /admin/tenants/{id}/stats` reads them. Requests
//! served and pool use are counted by each server instance: ask an instance's admin API for them.

use serde::Serialize;
use tenancy::TenantId;
use tenantry_api::Config;
use tenantry_api::platform::Platform;
use tenantry_api::tenant_data::TenantData;

use super::CliError;
use super::output::{Output, aligned};

#[derive(Serialize)]
struct Stats<'a> {
    tenant_id: &'a TenantId,
    status: &'static str,
    incarnation: &'a str,
    cluster: &'a str,
    schema_version: u32,
    #[serde(flatten)]
    data: TenantData,
}

pub async fn run(id: TenantId, config: &Config, out: Output) -> Result<(), CliError> {
    let platform = Platform::connect(config).await?;
    let tenant = platform.store().require(&id).await?;
    let db = platform.pools.maintenance_db(&tenant).await?;
    let names: Vec<&'static str> = commerce::projections::all()
        .iter()
        .map(|p| p.name())
        .collect();
    let stats = Stats {
        tenant_id: &tenant.id,
        status: tenant.status.as_str(),
        incarnation: tenant.incarnation.as_str(),
        cluster: &tenant.cluster,
        schema_version: tenant.schema_version,
        data: TenantData::read(&db, &names).await?,
    };
    if out.json {
        return out.json(&stats);
    }
    let p = &stats.data.projections;
    let mut text = aligned(&[
        ("tenant", stats.tenant_id.to_string()),
        ("status", stats.status.to_string()),
        ("incarnation", stats.incarnation.to_string()),
        ("cluster", stats.cluster.to_string()),
        ("schema_version", stats.schema_version.to_string()),
        (
            "projections",
            format!(
                "applied {} of {} (lag {}), {} dead letters, generation {}",
                p.applied_position, p.last_position, p.lag, p.dead_letters, p.generation
            ),
        ),
    ]);
    text.push_str("documents:\n");
    let documents: Vec<(&str, String)> = stats
        .data
        .documents
        .iter()
        .map(|(name, n)| (name.as_str(), n.to_string()))
        .collect();
    for line in aligned(&documents).lines() {
        text.push_str(&format!("  {line}\n"));
    }
    out.line(text.trim_end())
}
