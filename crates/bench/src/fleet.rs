//! Projection throughput with one and with several instances: the same events, written while no
//! projector runs, then projected by N fresh `tenantry serve` processes sharing the catalog.
//! Reported: events applied per second (first projector start to the last tenant caught up)
//! and database operations per applied event (`serverStatus.opcounters`, the benchmark's own
//! polling subtracted). Leases share the work, so N instances should do the work of one.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use mongodb::Client;
use mongodb::bson::{Document, doc};
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::api::Api;
use crate::dbstat;
use crate::server::{Server, ServerConfig};

/// One projection run.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectionRun {
    pub instances: usize,
    pub tenants: usize,
    pub events: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    /// Database operations (all opcounters) per event applied.
    pub ops_per_event: f64,
    /// Wire requests the database received per event applied.
    pub round_trips_per_event: f64,
}

/// What to run.
pub struct ProjectionSpec<'a> {
    pub config: &'a ServerConfig,
    pub out: &'a Path,
    pub status_db: &'a Client,
    pub tenants: usize,
    pub orders_per_tenant: usize,
    pub instance_counts: &'a [usize],
}

pub async fn run(spec: &ProjectionSpec<'_>) -> Result<Vec<ProjectionRun>> {
    let mut runs = Vec::new();
    for &n in spec.instance_counts {
        runs.push(one(spec, n).await?);
    }
    Ok(runs)
}

/// A catalog of its own, events written with the projector off, then `n` projectors.
async fn one(spec: &ProjectionSpec<'_>, n: usize) -> Result<ProjectionRun> {
    let mut config = spec.config.clone();
    config.catalog_db = format!("{}_proj{n}", spec.config.catalog_db);
    let mut writer_config = config.clone();
    writer_config
        .extra_env
        .push(("TENANTRY_PROJECTOR".into(), "off".into()));
    let writer = Server::start(
        &writer_config,
        &spec.out.join(format!("server-projection-writer-{n}.log")),
    )
    .await?;
    let api = Api::new(&writer.base_url, &config.admin_key, &config.jwt_secret)?;
    let shops = write_events(
        &api,
        &format!("pj-{}", suffix(&config.catalog_db)),
        spec.tenants,
        spec.orders_per_tenant,
    )
    .await?;
    let events: i64 = shops.iter().map(|s| s.last).sum();
    let before = dbstat::snapshot(spec.status_db).await;
    let started = Instant::now();
    // All at once, as a fleet restarting or scaling out would.
    let starting = (0..n).map(|i| {
        let log = spec.out.join(format!("server-projection-{n}-{i}.log"));
        let config = &config;
        async move { Server::start(config, &log).await }
    });
    let projectors = futures::future::try_join_all(starting).await?;
    let polls = caught_up(spec.status_db, &shops).await?;
    let seconds = started.elapsed().as_secs_f64();
    let after = dbstat::snapshot(spec.status_db).await;
    for p in projectors {
        p.stop().await?;
    }
    writer.stop().await?;
    let work = match (before, after) {
        (Some(b), Some(a)) => b.per_request(&a, events.max(1) as u64),
        _ => None,
    };
    let polled = polls as f64 / events.max(1) as f64;
    let (ops, round_trips) = work.map_or((0.0, 0.0), |w| {
        let ops: f64 = w.ops.iter().map(|(_, v)| v).sum();
        ((ops - polled).max(0.0), (w.round_trips - polled).max(0.0))
    });
    Ok(ProjectionRun {
        instances: n,
        tenants: shops.len(),
        events: events as u64,
        seconds,
        events_per_second: events as f64 / seconds.max(1e-9),
        ops_per_event: ops,
        round_trips_per_event: round_trips,
    })
}

pub struct Shop {
    pub id: String,
    pub database: String,
    /// The position of its last event.
    pub last: i64,
}

/// The last characters of a run's name, fit for a tenant id.
pub fn suffix(run: &str) -> String {
    run[run.len().saturating_sub(6)..].replace('_', "-")
}

/// Tenants `<prefix>-<n>` with one product each and `orders` orders each (two events per order).
pub async fn write_events(
    api: &Api,
    prefix: &str,
    tenants: usize,
    orders: usize,
) -> Result<Vec<Shop>> {
    let mut shops = Vec::new();
    for t in 0..tenants {
        let id = format!("{prefix}-{t}");
        let database = api.create_tenant(&id).await?;
        let auth = api.tenant_authorization(&id)?;
        let (product, first) = api.create_product(&auth, "P", 100).await?;
        let placed =
            place_orders(api, &auth, std::slice::from_ref(&product), 0..orders, 16).await?;
        shops.push(Shop {
            id,
            database,
            last: first.max(placed),
        });
    }
    Ok(shops)
}

/// Places orders `numbers` (customer `c<number>`, one line of quantity 1, on `products`
/// round-robin) through `POST /v1/orders`, `concurrency` at a time; returns the highest event
/// position (0 when none was placed). Any answer but 201 ends it with an error.
pub async fn place_orders(
    api: &Api,
    auth: &HeaderValue,
    products: &[String],
    numbers: std::ops::Range<usize>,
    concurrency: usize,
) -> Result<i64> {
    if products.is_empty() {
        bail!("no product to order");
    }
    let placed: Vec<Result<i64>> = futures::stream::iter(numbers)
        .map(|i| async move {
            let product = &products[i % products.len()];
            let body = json!({"customer": {"id": format!("c{i}"), "name": "C"}, "lines": [{"product_id": product, "qty": 1}]});
            let answer = api.call(Method::POST, "/v1/orders", auth, Some(&body), &[]).await?;
            if answer.status != StatusCode::CREATED {
                bail!("POST /v1/orders: {} {}", answer.status, answer.body);
            }
            answer.position.context("no X-Event-Position")
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut last = 0;
    for p in placed {
        last = last.max(p?);
    }
    Ok(last)
}

/// Polls every tenant's checkpoints until all have reached its last event; the number of
/// queries it sent (to subtract from the database's counters).
async fn caught_up(db: &Client, shops: &[Shop]) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut polls = 0u64;
    let mut pending: Vec<&Shop> = shops.iter().collect();
    while !pending.is_empty() {
        if Instant::now() > deadline {
            bail!("{} tenants not projected after 15 minutes", pending.len());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut still = Vec::new();
        for shop in pending {
            polls += 1;
            let lowest = lowest_checkpoint(db, &shop.database).await?;
            if lowest < shop.last {
                still.push(shop);
            }
        }
        pending = still;
    }
    Ok(polls)
}

/// The sample domain's projections (`commerce::projections::all()`: product list, order list,
/// sales, customer list); the benchmark is a client and does not link it.
const PROJECTIONS: usize = 4;

async fn lowest_checkpoint(db: &Client, database: &str) -> Result<i64> {
    let mut cursor = db
        .database(database)
        .collection::<Document>("_meta")
        .find(doc! {"_id": {"$regex": "^checkpoint:"}})
        .await?;
    // Per projection, the further of its own document (tenants from before) and its entry in
    // the shared `checkpoint:*`.
    let mut positions: HashMap<String, i64> = HashMap::new();
    let mut further = |name: &str, at: &Document| {
        let p = at.get_i64("position").unwrap_or(0);
        let known = positions.entry(name.to_string()).or_insert(p);
        *known = (*known).max(p);
    };
    while cursor.advance().await? {
        let d = cursor.deserialize_current()?;
        match d.get_str("_id")?.trim_start_matches("checkpoint:") {
            "*" => {
                for (name, at) in d.get_document("positions")? {
                    if let Some(at) = at.as_document() {
                        further(name, at);
                    }
                }
            }
            name => further(name, &d),
        }
    }
    // Every projection must have a checkpoint.
    Ok(if positions.len() < PROJECTIONS {
        0
    } else {
        positions.values().copied().min().unwrap_or(0)
    })
}
