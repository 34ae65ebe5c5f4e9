//! Every interval, the gauges of the watched tenants: projection lag (from the tenant's
//! database) and the budget in use (from this instance's pool). A watched tenant whose
//! incarnation is gone (deleted, re-created) or no longer serves is no longer watched.

use std::sync::Arc;
use std::time::Duration;

use cqrs::projector;
use tenancy::catalog::CatalogCache;
use tenancy::clusters::ClusterPools;
use tenancy::task::AbortOnDrop;
use tenancy::{Tenant, TenantStatus};

use super::Activity;

pub fn spawn_sampler(
    activity: Activity,
    catalog: CatalogCache,
    pools: ClusterPools,
    projections: Vec<&'static str>,
) -> AbortOnDrop {
    AbortOnDrop::spawn(async move {
        let mut tick = tokio::time::interval(activity.interval().max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            for (key, watched) in activity.watched.iter() {
                let Some(tenant) = serving(&catalog, &watched).await else {
                    activity.watched.invalidate(&*key);
                    continue;
                };
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

/// The catalog's record of `watched`'s incarnation, if it still serves (its placement may have
/// changed since it was watched: a move); `None` when it is gone. A catalog error keeps the
/// record watched.
async fn serving(catalog: &CatalogCache, watched: &Arc<Tenant>) -> Option<Arc<Tenant>> {
    match catalog.tenant(&watched.id).await {
        Ok(Some(current))
            if current.incarnation == watched.incarnation
                && matches!(
                    current.status,
                    TenantStatus::Active | TenantStatus::Suspended
                ) =>
        {
            Some(current)
        }
        Ok(_) => None,
        Err(_) => Some(Arc::clone(watched)),
    }
}
