//! Moving a tenant under load: one tenant of about N documents (written through the API) is
//! moved to a second cluster (`POST /admin/tenants/{id}/move`) while 90/10 point reads and
//! orders run against it at the run's concurrency, before, during and after the move.
//! Reported: documents copied and the copy's rate, where the move's time went (the server's
//! log), the server's write pause, and from the load's side the requests per second and the
//! read and write latencies in each window, the writes caught by the cut-over, the lowest
//! one-second throughput during the move, and every failed request.
//!
//! The second cluster is `--move-target-uri`, or an embedded database the phase starts itself
//! (`testkit::private_devdb`); with neither (no `tenantry-devdb` built) the phase is skipped.

pub mod markdown;
mod seed;
mod serverlog;
mod timeline;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{Api, BenchTenant};
use crate::fleet::suffix;
use crate::procfs::{CpuMeter, CpuShare};
use crate::scenarios::{HttpTargets, Op, Scenario};
use crate::server::{Server, ServerConfig};
pub use seed::Seeding;
pub use serverlog::MoveLog;
use timeline::{HeldWrites, Timeline, Window};

/// The name the second cluster gets in `TENANTRY_CLUSTERS`.
pub const TARGET_CLUSTER: &str = "eu";
/// The server's log filter for this phase: the move's steps are logged at `info`.
const LOG_FILTER: &str = "warn,tenancy::moves=info,tenantry_api::routes::admin::moves=info";
/// How often the move's state is read.
const POLL: Duration = Duration::from_millis(100);
/// Buckets of the throughput dip.
const BUCKET_US: u64 = 1_000_000;

/// What to run.
pub struct MoveSpec<'a> {
    pub config: &'a ServerConfig,
    pub out: &'a Path,
    /// A client of the default cluster (counts the tenant's documents).
    pub status_db: &'a mongodb::Client,
    /// Documents the tenant should hold before it moves.
    pub documents: u64,
    pub concurrency: usize,
    /// Load before the measurement starts (not counted anywhere but in the errors).
    pub warmup: Duration,
    /// The measured load before the move, and after it is done.
    pub before: Duration,
    pub after: Duration,
    /// The second cluster; `None`: an embedded database of the phase's own.
    pub target_uri: Option<String>,
    /// For progress lines.
    pub started: Instant,
    /// The default cluster's database process, for the CPU split (`--db-pid`).
    pub db_pid: Option<u32>,
    pub ticks: u64,
    /// How long to wait, before the load, for other processes on the machine to go quiet.
    pub machine_wait: Duration,
}

/// The phase ran, or why it did not.
pub enum Phase {
    Ran(Box<MoveRun>),
    Skipped(String),
}

/// One move under load.
#[derive(Debug, Clone, Serialize)]
pub struct MoveRun {
    pub to_cluster: &'static str,
    /// What the second cluster was.
    pub target_database: String,
    pub seeding: Seeding,
    pub concurrency: usize,
    /// `done` or `failed` (with `error`).
    pub state: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub documents_copied: i64,
    /// The server's `started_at` to `finished_at`.
    pub move_seconds: f64,
    /// `POST` sent to `done` first read (polled every 100 ms).
    pub observed_seconds: f64,
    /// `documents_copied` ÷ `move_seconds`: the whole move's rate.
    pub documents_per_second: f64,
    /// The first pass alone, from the server's log.
    pub copy_seconds: Option<f64>,
    pub copy_documents_per_second: Option<f64>,
    /// From the first pass's end to the hold (catch-up rounds, and the verification while the
    /// source serves), from the server's log.
    pub catch_up_seconds: Option<f64>,
    /// Catch-up rounds the server logged (every pass), and the keys they copied again.
    pub catch_up_rounds: usize,
    pub catch_up_keys: u64,
    /// How long the tenant's writes were held (the server's figure).
    pub write_pause_ms: Option<i64>,
    /// The server's log from "the source's writes are held" to "switched".
    pub hold_logged_ms: Option<i64>,
    /// The writes in flight at any moment of the hold (log: held to switched).
    pub held_writes: Option<HeldWrites>,
    pub before: Window,
    pub during: Window,
    pub after: Window,
    /// The lowest requests per second in a whole second of the move.
    pub lowest_rps_during: Option<f64>,
    /// How much lower the throughput was during the move than before, in per cent.
    pub dip_pct: f64,
    /// CPU during the load (warm-up to the end) in per cent of a core: the default cluster's
    /// database is `database_pct`; the second cluster's is below and not in `other_pct`.
    pub cpu: CpuShare,
    pub target_database_pct: Option<f64>,
    /// Failed requests of the whole load (warm-up included).
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// The move's states as the load saw them appear: (state, seconds after the load started).
    pub states_seen: Vec<(String, f64)>,
    /// The move's steps in the server's log, and its warnings while the load ran.
    pub log: MoveLog,
}

impl MoveRun {
    /// Failed requests, and a move that did not finish counts as one.
    pub fn failures(&self) -> u64 {
        self.errors + u64::from(self.state != "done")
    }
}

pub async fn run(spec: &MoveSpec<'_>) -> Result<Phase> {
    let Some(cluster) = SecondCluster::open(spec.target_uri.as_deref())? else {
        return Ok(Phase::Skipped(format!(
            "move phase skipped: no second cluster (no {} to start one, and no --move-target-uri)",
            testkit::devdb_binary().display()
        )));
    };
    let mut config = spec.config.clone();
    config.catalog_db = format!("{}_move", spec.config.catalog_db);
    config.extra_env.push((
        "TENANTRY_CLUSTERS".into(),
        format!("{TARGET_CLUSTER}={}", cluster.uri),
    ));
    if !config.extra_env.iter().any(|(k, _)| k == "RUST_LOG") {
        config
            .extra_env
            .push(("RUST_LOG".into(), LOG_FILTER.into()));
    }
    let log_path = spec.out.join("server-move.log");
    let server = Server::start(&config, &log_path).await?;
    let api = Api::new(&server.base_url, &config.admin_key, &config.jwt_secret)?;
    let id = format!("mv-{}", suffix(&spec.config.catalog_db));
    crate::progress(
        spec.started,
        &format!("move: seeding tenant {id} to {} documents", spec.documents),
    );
    let (tenant, seeding) =
        seed::tenant(&api, &server, spec.status_db, &id, spec.documents).await?;
    crate::progress(
        spec.started,
        &format!(
            "move: {} documents ({} orders) in {:.1} s, {:.0} orders/s; load at concurrency {}, then the move",
            seeding.documents,
            seeding.orders,
            seeding.seconds,
            seeding.orders_per_second,
            spec.concurrency
        ),
    );
    crate::meter::settle(&server, spec.db_pid, spec.ticks, spec.machine_wait).await?;
    let measured = under_load(&api, &server, &tenant, spec, cluster.pid()).await?;
    server.stop().await?;
    drop(cluster);
    let text = std::fs::read_to_string(&log_path)
        .with_context(|| format!("reading {}", log_path.display()))?;
    let log = MoveLog::parse(&text, Some(measured.end_unix_ms()));
    Ok(Phase::Ran(Box::new(measured.result(
        spec,
        seeding,
        log,
        target_database(spec),
    )?)))
}

fn target_database(spec: &MoveSpec<'_>) -> String {
    match spec.target_uri {
        Some(_) => "--move-target-uri".to_string(),
        None => "a second embedded SecantusDB (tenantry-devdb, temporary store)".to_string(),
    }
}

/// The second cluster, and the embedded database behind it when the phase started one (it
/// stops when this is dropped: its stdin closes).
struct SecondCluster {
    uri: String,
    devdb: Option<Child>,
}

impl SecondCluster {
    fn open(uri: Option<&str>) -> Result<Option<SecondCluster>> {
        if let Some(uri) = uri {
            return Ok(Some(SecondCluster {
                uri: uri.to_string(),
                devdb: None,
            }));
        }
        // `private_devdb` panics when the binary exists but does not start.
        let started = std::panic::catch_unwind(|| testkit::private_devdb(&[]))
            .map_err(|_| anyhow!("the embedded database for the second cluster did not start"))?;
        Ok(started.map(|(child, uri)| SecondCluster {
            uri,
            devdb: Some(child),
        }))
    }

    /// The embedded database's process, if the phase started one.
    fn pid(&self) -> Option<u32> {
        self.devdb.as_ref().map(Child::id)
    }
}

/// What the load and the move's polling saw.
struct Measured {
    timeline: Timeline,
    started_unix_ms: i64,
    measure_from_us: u64,
    requested_us: u64,
    done_us: u64,
    end_us: u64,
    states: Vec<(String, u64)>,
    view: Value,
    cpu: CpuShare,
    target_database_pct: Option<f64>,
}

/// Runs the 90/10 load; after the warm-up and the window before, moves the tenant; keeps the
/// load on until the move is over and for the window after.
async fn under_load(
    api: &Api,
    server: &Server,
    tenant: &BenchTenant,
    spec: &MoveSpec<'_>,
    target_pid: Option<u32>,
) -> Result<Measured> {
    let targets = HttpTargets::new(api, std::slice::from_ref(tenant));
    let primed_errors = targets.prime(1).await?;
    if primed_errors > 0 {
        bail!("the moved tenant does not answer a point read");
    }
    let cpu = CpuMeter::start(Some(server.pid), spec.db_pid, spec.ticks);
    let target_cpu = CpuMeter::start(None, target_pid, spec.ticks);
    let load = {
        let targets = targets.clone();
        timeline::start(spec.concurrency, move |seq| {
            let (targets, pick) = (targets.clone(), targets.pick(Scenario::Mix, seq));
            (pick.0 == Op::Order, async move { targets.send(pick).await })
        })
    };
    let measure_from_us = micros(spec.warmup);
    tokio::time::sleep(spec.warmup + spec.before).await;
    let requested_us = load.now_us();
    let path = format!("/admin/tenants/{}/move", tenant.id);
    let started = api
        .admin(
            Method::POST,
            &path,
            Some(&json!({"cluster": TARGET_CLUSTER})),
        )
        .await?;
    if started.status != StatusCode::ACCEPTED {
        bail!("POST {path}: {} {}", started.status, started.body);
    }
    let limit = move_deadline(spec.documents);
    let deadline = Instant::now() + limit;
    let mut states: Vec<(String, u64)> = Vec::new();
    let view = loop {
        let answer = api.admin(Method::GET, &path, None).await?;
        if answer.status != StatusCode::OK {
            bail!("GET {path}: {} {}", answer.status, answer.body);
        }
        let state = answer.body["state"].as_str().unwrap_or("?").to_string();
        if states.last().is_none_or(|(last, _)| *last != state) {
            states.push((state.clone(), load.now_us()));
        }
        if state == "done" || state == "failed" {
            break answer.body;
        }
        if Instant::now() > deadline {
            bail!("the move was not over after {limit:?}: {}", answer.body);
        }
        tokio::time::sleep(POLL).await;
    };
    let done_us = load.now_us();
    tokio::time::sleep(spec.after).await;
    let end_us = load.now_us();
    let started_unix_ms = load.started_unix_ms;
    let timeline = load.stop().await?;
    let target_database_pct = target_cpu.finish().database_pct;
    let mut cpu = cpu.finish();
    cpu.other_pct = (cpu.other_pct - target_database_pct.unwrap_or(0.0)).max(0.0);
    Ok(Measured {
        timeline,
        started_unix_ms,
        measure_from_us,
        requested_us,
        done_us,
        end_us,
        states,
        view,
        cpu,
        target_database_pct,
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Measured {
    /// When the load ended, in milliseconds since 1970.
    fn end_unix_ms(&self) -> i64 {
        self.started_unix_ms
            .saturating_add(i64::try_from(self.end_us / 1000).unwrap_or(i64::MAX))
    }

    fn result(
        self,
        spec: &MoveSpec<'_>,
        seeding: Seeding,
        log: MoveLog,
        target_database: String,
    ) -> Result<MoveRun> {
        let samples = &self.timeline.samples;
        let view = &self.view;
        let time = |field: &str| view[field].as_str().and_then(serverlog::unix_ms);
        let move_seconds = match (time("started_at"), time("finished_at")) {
            (Some(from), Some(to)) => (to - from) as f64 / 1000.0,
            _ => return Err(anyhow!("the move has no started_at/finished_at: {view}")),
        };
        let documents_copied = view["documents_copied"].as_i64().unwrap_or(0);
        let before = timeline::window(samples, self.measure_from_us, self.requested_us);
        let during = timeline::window(samples, self.requested_us, self.done_us);
        let after = timeline::window(samples, self.done_us, self.end_us);
        // The hold, placed on the load's clock (same machine, same wall clock).
        let on_load = |ms: i64| u64::try_from((ms - self.started_unix_ms) * 1000).ok();
        let held_writes = match (
            log.held_ms.and_then(on_load),
            log.switched_ms.and_then(on_load),
        ) {
            (Some(from), Some(to)) => Some(timeline::writes_across(samples, from, to)),
            _ => None,
        };
        let errors = samples.iter().filter(|s| !s.ok).count() as u64;
        Ok(MoveRun {
            to_cluster: TARGET_CLUSTER,
            target_database,
            seeding,
            concurrency: spec.concurrency,
            state: view["state"].as_str().unwrap_or("?").to_string(),
            error: view["error"].as_str().map(String::from),
            attempts: view["attempts"].as_i64().unwrap_or(0),
            documents_copied,
            move_seconds,
            observed_seconds: self.done_us.saturating_sub(self.requested_us) as f64 / 1e6,
            documents_per_second: documents_copied as f64 / move_seconds.max(1e-3),
            copy_seconds: log.copy_seconds(),
            copy_documents_per_second: log.copy_per_second,
            catch_up_seconds: log.catch_up_seconds(),
            catch_up_rounds: log.rounds.len(),
            catch_up_keys: log.rounds.iter().map(|r| r.keys).sum(),
            write_pause_ms: view["write_pause_ms"].as_i64(),
            hold_logged_ms: log.hold_ms(),
            held_writes,
            lowest_rps_during: timeline::lowest_rate(
                samples,
                self.requested_us,
                self.done_us,
                BUCKET_US,
            ),
            dip_pct: dip_pct(before.rps, during.rps),
            before,
            during,
            after,
            cpu: self.cpu,
            target_database_pct: self.target_database_pct,
            errors,
            error_samples: self.timeline.error_samples,
            states_seen: self
                .states
                .into_iter()
                .map(|(state, us)| (state, us as f64 / 1e6))
                .collect(),
            log,
        })
    }
}

/// How long a move of `documents` documents may take: ten minutes, and a second more per 100
/// documents (far above any rate measured here: a move that takes this long is stuck).
pub fn move_deadline(documents: u64) -> Duration {
    Duration::from_secs(600 + documents / 100)
}

/// How much lower `during` is than `before`, in per cent (negative: higher; 0 without a
/// `before`).
pub fn dip_pct(before: f64, during: f64) -> f64 {
    if before > 0.0 {
        (1.0 - during / before) * 100.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_moves_get_more_time() {
        assert_eq!(move_deadline(2_000), Duration::from_secs(620));
        assert_eq!(move_deadline(100_000), Duration::from_secs(1_600));
    }

    #[test]
    fn the_dip_is_the_drop_in_per_cent() {
        assert_eq!(dip_pct(2_000.0, 1_500.0), 25.0);
        assert_eq!(dip_pct(1_000.0, 1_100.0).round(), -10.0);
        assert_eq!(dip_pct(0.0, 10.0), 0.0);
    }
}
