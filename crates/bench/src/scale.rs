//! Scale figures, on a freshly started server with `TENANTRY_PROJECTOR=off` (nothing cached,
//! nothing touched: the request path alone — with the projector on, every instance sweeps every
//! tenant at start, which `sweep` measures separately on a second fresh server):
//!
//! - RSS of the server and connections to the database after touching 10, 1,000 and 10,000
//!   tenants (touch = one authenticated point read, which resolves the tenant and reads its
//!   database); connections from `serverStatus.connections.current` (every client of the database
//!   server, this benchmark's two small ones included) and from Tenantry's own pool gauge
//!   (`GET /admin/tenants/{id}/stats` → `connections.cluster_pool.open`);
//! - first-request latency of tenants not yet cached vs the same request again (cached), and the
//!   catalog round trip (`find_one` by `_id` in the catalog's `tenants`, timed from here);
//! - the time `POST /admin/migrations` takes over every tenant (all are at the latest version
//!   already, so this is the per-tenant ledger check, not schema work).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mongodb::Client;
use mongodb::bson::{Bson, doc};
use reqwest::Method;
use serde::Serialize;

use crate::api::{Api, BenchTenant, outcome_of};
use crate::baseline::timed_find_one;
use crate::load::median;
use crate::par;
use crate::server::Server;

/// Concurrency of touching tenants.
pub const TOUCH_CONCURRENCY: usize = 32;
/// `TENANTRY_MAX_POOL_SIZE` of the scale servers: below `TOUCH_CONCURRENCY`, so every step fills
/// the pool to its configured bound and the readings differ only by the number of tenants (with
/// a larger bound the pool settles wherever the peak concurrency of database calls took it).
pub const SCALE_MAX_POOL_SIZE: u32 = 16;
/// Requests of a touch step at least (repeating tenants), so that every step drives the pool at
/// the same concurrency for long enough to reach its steady size: the pool grows to the peak
/// number of concurrent database operations seen, which depends on concurrency and time, and the
/// comparison between steps must vary only the number of tenants.
const MIN_TOUCH_REQUESTS: usize = 5_000;
/// How long `POST /admin/migrations` may take (the server is started with a longer request
/// timeout than this).
const MIGRATIONS_TIMEOUT: Duration = Duration::from_secs(850);
/// How long to wait for the server to go idle before a reading.
const SETTLE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    pub touched: usize,
    pub rss_kib: u64,
    pub server_connections: Option<i64>,
    pub pool_open: Option<i64>,
    pub pool_created_total: Option<i64>,
    pub touch_seconds: f64,
    pub touch_errors: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FirstRequest {
    pub samples: usize,
    pub uncached_median_ms: f64,
    pub cached_median_ms: f64,
    pub delta_ms: f64,
    pub catalog_round_trip_median_ms: f64,
    /// `delta_ms / catalog_round_trip_median_ms`: extra catalog round trips of a first request.
    pub extra_round_trips: f64,
    pub errors: u64,
    pub error_samples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Migrations {
    pub tenants: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub seconds: f64,
    pub per_tenant_ms: f64,
}

/// A fresh server with the projector on, after its start-up sweep of every tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub tenants: usize,
    /// Seconds from start until the server went idle.
    pub settle_s: f64,
    pub after: ScalePoint,
    /// RSS after the sweep minus the projector-off server's idle RSS, per tenant.
    pub rss_per_tenant_kib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleResult {
    /// Seconds the fresh (projector-off) server needed to go idle.
    pub startup_settle_s: f64,
    pub idle: ScalePoint,
    pub points: Vec<ScalePoint>,
    /// RSS growth from the first to the last step, per additionally touched tenant.
    pub rss_growth_per_tenant_kib: Option<f64>,
    pub first_request: Option<FirstRequest>,
    pub migrations: Migrations,
    pub projector_sweep: Option<Sweep>,
}

/// What the scale phase needs.
pub struct ScaleInput<'a> {
    pub server: &'a Server,
    pub api: &'a Api,
    pub db: &'a Client,
    pub catalog_db: &'a str,
    pub tenants: &'a [BenchTenant],
    pub steps: &'a [usize],
    pub first_request_samples: usize,
}

pub async fn run(input: ScaleInput<'_>) -> Result<ScaleResult> {
    let ScaleInput {
        server,
        api,
        db,
        catalog_db,
        tenants,
        ..
    } = input;
    let startup_settle_s = server
        .wait_quiescent(Duration::from_secs(1), Duration::from_secs(300))
        .await?;
    let idle = reading(server, api, db, &tenants[0], 0, 0.0, 0).await?;
    let mut steps: Vec<usize> = input
        .steps
        .iter()
        .map(|&s| s.min(tenants.len()))
        .filter(|&s| s > 0)
        .collect();
    steps.dedup();
    let mut points = Vec::new();
    let mut first_request = None;
    let mut touched = 0;
    for (k, &step) in steps.iter().enumerate() {
        let mut from = touched;
        if k + 1 == steps.len() && input.first_request_samples > 0 {
            let n = input.first_request_samples.min(step - from);
            first_request =
                Some(first_requests(api, db, catalog_db, &tenants[from..from + n]).await);
            from += n;
        }
        let started = Instant::now();
        let errors = touch(api, &tenants[from..step]).await?;
        let seconds = started.elapsed().as_secs_f64();
        touched = step;
        server
            .wait_quiescent(Duration::from_secs(1), SETTLE)
            .await?;
        points.push(reading(server, api, db, &tenants[0], step, seconds, errors).await?);
    }
    let rss_growth_per_tenant_kib = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.touched > a.touched => {
            Some((b.rss_kib as f64 - a.rss_kib as f64) / (b.touched - a.touched) as f64)
        }
        _ => None,
    };
    let migrations = migrate_all(api).await?;
    Ok(ScaleResult {
        startup_settle_s: startup_settle_s.as_secs_f64(),
        idle,
        points,
        rss_growth_per_tenant_kib,
        first_request,
        migrations,
        projector_sweep: None,
    })
}

/// Waits for a fresh projector-on server to finish its start-up sweep; reads RSS and connections.
pub async fn sweep(
    server: &Server,
    api: &Api,
    db: &Client,
    tenants: &[BenchTenant],
    idle_rss_kib: u64,
) -> Result<Sweep> {
    let started = Instant::now();
    server
        .wait_quiescent(Duration::from_secs(2), Duration::from_secs(600))
        .await?;
    let settle_s = started.elapsed().as_secs_f64();
    let after = reading(server, api, db, &tenants[0], 0, 0.0, 0).await?;
    let rss_per_tenant_kib =
        (after.rss_kib as f64 - idle_rss_kib as f64) / tenants.len().max(1) as f64;
    Ok(Sweep {
        tenants: tenants.len(),
        settle_s,
        after,
        rss_per_tenant_kib,
    })
}

/// Point reads round-robin over `tenants` — one per tenant, and at least `MIN_TOUCH_REQUESTS` in
/// all, so every step drives the connection pool at the same concurrency — `TOUCH_CONCURRENCY`
/// at a time; returns the number of failures.
async fn touch(api: &Api, tenants: &[BenchTenant]) -> Result<u64> {
    if tenants.is_empty() {
        return Ok(0);
    }
    let errors = Arc::new(AtomicU64::new(0));
    let targets: Arc<Vec<(String, reqwest::header::HeaderValue)>> = Arc::new(
        tenants
            .iter()
            .map(|t| {
                let product = t.products.first().map_or("none", String::as_str);
                (
                    format!("{}/v1/products/{product}", api.base_url),
                    t.authorization.clone(),
                )
            })
            .collect(),
    );
    let (http, e) = (api.http.clone(), Arc::clone(&errors));
    let requests = targets.len().max(MIN_TOUCH_REQUESTS);
    par::map(requests, TOUCH_CONCURRENCY, move |i| {
        let (http, targets, errors) = (http.clone(), Arc::clone(&targets), Arc::clone(&e));
        async move {
            let (url, auth) = &targets[i % targets.len()];
            let response = http.get(url).header("authorization", auth.clone()).send();
            if outcome_of(response.await).await.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await?;
    Ok(errors.load(Ordering::Relaxed))
}

/// For each tenant (not yet cached), one after another: the first request, the same request
/// again, and a catalog round trip.
async fn first_requests(
    api: &Api,
    db: &Client,
    catalog_db: &str,
    tenants: &[BenchTenant],
) -> FirstRequest {
    let (mut uncached, mut cached, mut catalog) = (Vec::new(), Vec::new(), Vec::new());
    let (mut errors, mut error_samples) = (0, Vec::new());
    let mut note = |outcome: crate::load::Outcome| {
        if let Err(e) = outcome {
            errors += 1;
            if error_samples.len() < 5 {
                error_samples.push(e);
            }
        }
    };
    for t in tenants {
        let product = t.products.first().map_or("none", String::as_str);
        let url = format!("{}/v1/products/{product}", api.base_url);
        for times in [&mut uncached, &mut cached] {
            let started = Instant::now();
            let response = api
                .http
                .get(&url)
                .header("authorization", t.authorization.clone())
                .send()
                .await;
            let outcome = outcome_of(response).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            note(outcome);
        }
        let (ms, outcome) = timed_find_one(db, catalog_db, "tenants", &t.id).await;
        catalog.push(ms);
        note(outcome);
    }
    let (u, c, r) = (
        median(&mut uncached),
        median(&mut cached),
        median(&mut catalog),
    );
    FirstRequest {
        samples: tenants.len(),
        uncached_median_ms: u,
        cached_median_ms: c,
        delta_ms: u - c,
        catalog_round_trip_median_ms: r,
        extra_round_trips: if r > 0.0 { (u - c) / r } else { 0.0 },
        errors,
        error_samples,
    }
}

async fn reading(
    server: &Server,
    api: &Api,
    db: &Client,
    probe: &BenchTenant,
    touched: usize,
    touch_seconds: f64,
    touch_errors: u64,
) -> Result<ScalePoint> {
    let rss_kib = server.rss_kib()?;
    let server_connections = server_connections(db).await;
    let stats = api
        .admin(
            Method::GET,
            &format!("/admin/tenants/{}/stats", probe.id),
            None,
        )
        .await
        .ok()
        .filter(|a| a.status.is_success());
    let pool = stats
        .as_ref()
        .map(|a| &a.body["connections"]["cluster_pool"]);
    Ok(ScalePoint {
        touched,
        rss_kib,
        server_connections,
        pool_open: pool.and_then(|p| p["open"].as_i64()),
        pool_created_total: pool.and_then(|p| p["created_total"].as_i64()),
        touch_seconds,
        touch_errors,
    })
}

/// `serverStatus.connections.current`, if the server reports it.
pub async fn server_connections(db: &Client) -> Option<i64> {
    let status = db
        .database("admin")
        .run_command(doc! {"serverStatus": 1})
        .await
        .ok()?;
    match status.get_document("connections").ok()?.get("current")? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(n) => Some(*n as i64),
        _ => None,
    }
}

async fn migrate_all(api: &Api) -> Result<Migrations> {
    let started = Instant::now();
    let answer = api
        .admin_slow(Method::POST, "/admin/migrations", MIGRATIONS_TIMEOUT)
        .await
        .context("POST /admin/migrations")?;
    let seconds = started.elapsed().as_secs_f64();
    if !answer.status.is_success() {
        bail!("POST /admin/migrations: {} {}", answer.status, answer.body);
    }
    let field = |name: &str| answer.body[name].as_u64().unwrap_or(0);
    let tenants = field("tenants");
    Ok(Migrations {
        tenants,
        succeeded: field("succeeded"),
        failed: field("failed"),
        seconds,
        per_tenant_ms: if tenants > 0 {
            seconds * 1000.0 / tenants as f64
        } else {
            0.0
        },
    })
}
