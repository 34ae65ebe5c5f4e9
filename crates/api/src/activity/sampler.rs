//! Every interval, the gauges of the watched tenants: projection lag (from the tenant's
//! database) and the budget in use (from this instance's pool).

use std::time::Duration;

use cqrs::projector;
use tenancy::clusters::ClusterPools;
use tenancy::task::AbortOnDrop;

use super::Activity;

pub fn spawn_sampler(
    activity: Activity,
    pools: ClusterPools,
    projections: Vec<&'static str>,
) -> AbortOnDrop {
    AbortOnDrop::spawn(async move {
        let mut tick = tokio::time::interval(activity.interval().max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            for (key, tenant) in activity.watched.iter() {
                let lag = match pools.maintenance_db(&tenant).await {
                    Ok(db) => projector::status(db.database(), &projections)
                        .await
                        .map(|status| status.lag)
                        .inspect_err(|e| {
                            tracing::debug!(tenant = %tenant.id, error = %e, "projection lag not sampled")
                        })
                        .ok(),
                    Err(_) => None,
                };
                let in_use = pools.budgets().in_use(&tenant).await;
                activity.gauge(&key, lag, in_use);
            }
        }
    })
}
