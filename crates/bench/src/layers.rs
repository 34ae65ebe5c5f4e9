//! The layer breakdown of a point read: the same server, tenants and load, with the request path
//! cut short at each layer, so the difference between rows is what a layer costs.
//!
//! 1. `GET /healthz` — HTTP: the client, loopback TCP, hyper, the middleware stack;
//! 2. `GET /v1/tenant` — + JWT verification, tenant resolution, the catalog cache, a JSON body;
//! 3. `GET /v1/products/{id}` — + the tenant budget, the query bus, one MongoDB round trip,
//!    BSON → JSON;
//! 4. the driver's `find_one` on `product_list` — the MongoDB round trip alone.
//!
//! Each at concurrency 1 (latency, nothing queued) and at the run's concurrency (throughput and
//! CPU per request, where everything shares the machine). Every tenant is primed (one request)
//! before a run that resolves tenants, so these are cached-path figures.

use anyhow::Result;
use mongodb::Client;
use serde::Serialize;

use crate::baseline::DbTargets;
use crate::load::{LoadSpec, Stats};
use crate::meter::{self, Meters};
use crate::procfs::CpuShare;
use crate::scenarios::{HttpTargets, Scenario};
use crate::server::Server;

#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    pub layer: &'static str,
    pub concurrency: usize,
    pub stats: Stats,
    pub cpu: CpuShare,
    /// CPU microseconds per request: the load generator, the server, the database.
    pub bench_cpu_us: f64,
    pub server_cpu_us: Option<f64>,
    pub database_cpu_us: Option<f64>,
    /// Database round trips per request (1 for a point read; more means cache misses).
    pub db_round_trips: Option<f64>,
}

/// What the layer breakdown runs against.
pub struct LayerInput<'a> {
    pub server: &'a Server,
    pub http: &'a HttpTargets,
    pub direct: &'a DbTargets,
    pub status_db: &'a Client,
    pub db_pid: Option<u32>,
    pub ticks: u64,
    pub spec: LoadSpec,
    pub machine_wait: std::time::Duration,
}

const LAYERS: [(&str, Option<Scenario>); 4] = [
    ("HTTP only: GET /healthz", Some(Scenario::Healthz)),
    (
        "+ JWT, resolution, catalog cache: GET /v1/tenant",
        Some(Scenario::Tenant),
    ),
    (
        "+ budget, MongoDB, BSON→JSON: GET /v1/products/{id}",
        Some(Scenario::PointRead),
    ),
    ("MongoDB alone: driver find_one", None),
];

pub async fn run(input: LayerInput<'_>) -> Result<Vec<LayerRow>> {
    let mut rows = Vec::new();
    for concurrency in [1, input.spec.concurrency] {
        let spec = LoadSpec {
            concurrency,
            ..input.spec
        };
        for (layer, scenario) in LAYERS {
            meter::settle(input.server, input.db_pid, input.ticks, input.machine_wait).await?;
            let primed_errors = match scenario {
                Some(Scenario::Tenant | Scenario::PointRead) => {
                    input.http.prime(input.spec.concurrency).await?
                }
                _ => 0,
            };
            meter::server_quiet(input.server).await?;
            let meters =
                Meters::start(input.status_db, input.server.pid, input.db_pid, input.ticks).await;
            let mut stats = match scenario {
                Some(s) => input.http.run(s, spec).await?,
                None => input.direct.run(Scenario::PointRead, spec).await?,
            };
            stats.errors += primed_errors;
            let side = meters.finish(input.status_db, stats).await;
            let (bench_cpu_us, server_cpu_us, database_cpu_us) =
                side.cpu.per_request_us(side.stats.completed_total);
            rows.push(LayerRow {
                layer,
                concurrency,
                stats: side.stats,
                cpu: side.cpu,
                bench_cpu_us,
                server_cpu_us: server_cpu_us.filter(|_| scenario.is_some()),
                database_cpu_us,
                db_round_trips: side.db.as_ref().map(|d| d.round_trips),
            });
        }
    }
    Ok(rows)
}
