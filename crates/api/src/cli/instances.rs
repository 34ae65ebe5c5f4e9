//! `tenantry instances`: the live server instances sharing this catalog (`GET /admin/instances`
//! without a server): id, host, version, started, last heartbeat, and how many tenants' and
//! partitions' projections each one owns.

use tenancy::fleet::live_instances;
use tenantry_api::Config;
use tenantry_api::platform::Platform;

use super::CliError;
use super::output::{Output, table};

pub async fn run(config: &Config, out: Output) -> Result<(), CliError> {
    let platform = Platform::connect(config).await?;
    let instances = live_instances(platform.store()).await?;
    if out.json {
        return out.json(&instances);
    }
    if instances.is_empty() {
        return out.line("no live instances");
    }
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.host.clone(),
                i.pid.to_string(),
                i.version.clone(),
                i.started_at.clone(),
                i.last_heartbeat.clone(),
                i.partitions.len().to_string(),
                i.tenants.len().to_string(),
            ]
        })
        .collect();
    let header = [
        "ID",
        "HOST",
        "PID",
        "VERSION",
        "STARTED",
        "HEARTBEAT",
        "PARTITIONS",
        "TENANTS",
    ];
    out.line(table(&header, &rows).trim_end())
}
