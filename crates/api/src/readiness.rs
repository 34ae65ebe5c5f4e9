//! What `/readyz` checks: the catalog, every cluster, this instance's projector and its token
//! keys, each with a status and a one-line detail (causes go to the log: the endpoint is public).
//!
//! The verdict is deliberately not "any check failed": an instance that cannot reach the catalog
//! or any cluster serves nothing and is `unready` (503). One cluster down out of several, or a
//! projector whose change stream is reopening, makes it `degraded` (200): taking every instance
//! out of the load balancer would turn the outage of some tenants into the outage of all.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cqrs::projector::FeedState;
use futures::future::join_all;
use mongodb::Database;
use mongodb::bson::doc;
use serde::Serialize;
use tenancy::ErrorChain;

use crate::state::AppState;

/// How long one ping may take before its check fails.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ReadinessCheckStatus)]
pub enum Status {
    Pass,
    Fail,
    /// Not used by this instance (projector off, no token keys).
    Disabled,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReadinessCheck)]
pub struct Check {
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(status: Status, detail: impl Into<String>) -> Check {
        Check {
            status,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ReadinessStatus)]
pub enum Verdict {
    Ready,
    Degraded,
    Unready,
}

/// Every check by name: `catalog`, `cluster.<name>`, `projector`, `keys`, `keys.<issuer>`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: Verdict,
    pub checks: BTreeMap<String, Check>,
}

impl Readiness {
    /// The failed checks, as `name: detail` lines for a problem's detail.
    pub fn failures(&self) -> String {
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|(_, c)| c.status == Status::Fail)
            .map(|(name, c)| format!("{name}: {}", c.detail))
            .collect();
        failed.join("; ")
    }
}

/// Runs every check (the pings concurrently, each bounded by [`PING_TIMEOUT`]).
pub async fn check(state: &AppState) -> Readiness {
    let catalog = ping(state.catalog.store().database().clone());
    let clusters = join_all(state.pools.clusters().map(|c| {
        let admin = c.client().database("admin");
        async move { (format!("cluster.{}", c.name), ping(admin).await) }
    }));
    let (catalog, clusters) = futures::join!(catalog, clusters);
    let every_cluster_down = clusters.iter().all(|(_, c)| c.status == Status::Fail);
    let catalog_down = catalog.status == Status::Fail;
    let mut checks: BTreeMap<String, Check> = clusters.into_iter().collect();
    checks.insert("catalog".into(), catalog);
    checks.insert("projector".into(), projector(state));
    checks.insert("keys".into(), keys(state));
    checks.extend(provider_keys(state));
    let status = if catalog_down || every_cluster_down {
        Verdict::Unready
    } else if checks.values().any(|c| c.status == Status::Fail) {
        Verdict::Degraded
    } else {
        Verdict::Ready
    };
    Readiness { status, checks }
}

async fn ping(db: Database) -> Check {
    let started = Instant::now();
    match tokio::time::timeout(PING_TIMEOUT, db.run_command(doc! {"ping": 1})).await {
        Ok(Ok(_)) => Check::new(
            Status::Pass,
            format!("answers a ping in {} ms", started.elapsed().as_millis()),
        ),
        Ok(Err(e)) => {
            tracing::warn!(database = db.name(), error = %ErrorChain(&e), "readiness ping failed");
            Check::new(Status::Fail, "the ping failed (cause in the log)")
        }
        Err(_) => Check::new(
            Status::Fail,
            format!("no answer to a ping within {} s", PING_TIMEOUT.as_secs()),
        ),
    }
}

fn projector(state: &AppState) -> Check {
    if !state.config.projector {
        return Check::new(
            Status::Disabled,
            "TENANTRY_PROJECTOR is off on this instance",
        );
    }
    let feeds = state.projector.feeds();
    let not_streaming: Vec<String> = feeds
        .iter()
        .filter_map(|(cluster, feed)| match feed {
            FeedState::Streaming => None,
            FeedState::Opening => Some(format!("{cluster}: change stream opening")),
            FeedState::Reopening { since } => Some(format!(
                "{cluster}: change stream failing for {} s",
                since.elapsed().as_secs()
            )),
        })
        .collect();
    let lag = state
        .projector
        .lag()
        .into_iter()
        .map(|(_, lag)| lag)
        .fold((0.0_f64, 0_i64), |(s, e), l| {
            (s.max(l.seconds), e + l.events)
        });
    let lag = format!(
        "oldest unapplied event {:.1} s, {} event(s) waiting",
        lag.0, lag.1
    );
    if not_streaming.is_empty() {
        Check::new(
            Status::Pass,
            format!("streaming on {} cluster(s); {lag}", feeds.len()),
        )
    } else {
        Check::new(Status::Fail, format!("{}; {lag}", not_streaming.join(", ")))
    }
}

fn keys(state: &AppState) -> Check {
    match state.verifier.key_count() {
        0 => Check::new(
            Status::Disabled,
            "no token keys configured: bearer tokens are refused",
        ),
        n => Check::new(Status::Pass, format!("{n} static key(s) loaded at start")),
    }
}

/// One check per trusted identity provider: its keys fetched, and how long ago. A provider that
/// cannot be reached fails its check (degraded), while its last good keys keep working.
fn provider_keys(state: &AppState) -> Vec<(String, Check)> {
    state
        .oidc
        .key_sets()
        .into_iter()
        .map(|set| {
            let age = set.age.map_or("never fetched".to_string(), |a| {
                format!("fetched {} s ago", a.as_secs())
            });
            let check = match (&set.last_error, set.keys) {
                (None, n) if n > 0 => Check::new(Status::Pass, format!("{n} key(s), {age}")),
                (None, _) => Check::new(Status::Fail, "no keys fetched yet"),
                (Some(_), n) => Check::new(
                    Status::Fail,
                    format!("the last fetch failed (cause in the log); {n} key(s) in use, {age}"),
                ),
            };
            (format!("keys.{}", set.issuer), check)
        })
        .collect()
}
