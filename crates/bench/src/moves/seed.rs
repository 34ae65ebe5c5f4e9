//! The tenant to move: `PRODUCTS` products, then orders through `POST /v1/orders` (the
//! command path, projections included) until its database holds about the documents asked
//! for. A tenant's documents per order depend on the domain (the order, its events, its rows in
//! the read models), so a small probe measures them and the rest is placed in one go.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mongodb::Database;
use mongodb::bson::doc;
use serde::Serialize;

use crate::api::{Api, BenchTenant};
use crate::fleet::place_orders;
use crate::provision::{self, wait_for_projection};
use crate::server::Server;

/// Products of the tenant (the load reads and orders them round-robin).
pub const PRODUCTS: usize = 20;
/// Orders placed at once. A tenant's commands take turns on a server (its lane), so more only
/// queue.
pub const CONCURRENCY: usize = 32;
/// Documents per order assumed before the probe has measured them.
const GUESS_PER_ORDER: f64 = 5.0;
/// Rounds of orders at most (the probe, the bulk, small corrections).
const MAX_ROUNDS: usize = 6;
/// How long the projections may take to catch up with a round.
const PROJECTION_DEADLINE: Duration = Duration::from_secs(900);

/// How the tenant was made.
#[derive(Debug, Clone, Serialize)]
pub struct Seeding {
    pub products: usize,
    pub orders: usize,
    /// Documents in the tenant's database when the load started (all collections).
    pub documents: u64,
    pub concurrency: usize,
    /// Products, orders and waiting for their projections.
    pub seconds: f64,
    pub orders_per_second: f64,
}

/// Makes tenant `id` with about `documents` documents (never fewer).
pub async fn tenant(
    api: &Api,
    server: &Server,
    db: &mongodb::Client,
    id: &str,
    documents: u64,
) -> Result<(BenchTenant, Seeding)> {
    let started = Instant::now();
    let database = api.create_tenant(id).await?;
    let made = BenchTenant {
        authorization: api.tenant_authorization(id)?,
        id: id.to_string(),
        database,
        products: Vec::new(),
    };
    let (seeded, _) = provision::seed(api, vec![made], PRODUCTS, 1).await?;
    let tenant = seeded
        .into_iter()
        .next()
        .context("the tenant was not seeded")?;
    let db = db.database(&tenant.database);
    let (mut orders, mut per_order) = (0, None);
    let mut count = settled_count(server, &db).await?;
    for _ in 0..MAX_ROUNDS {
        let Some(next) = orders_for(documents.saturating_sub(count), per_order) else {
            break;
        };
        let position = place_orders(
            api,
            &tenant.authorization,
            &tenant.products,
            orders..orders + next,
            CONCURRENCY,
        )
        .await
        .context("placing the moved tenant's orders")?;
        wait_for_projection(api, &tenant, position, PROJECTION_DEADLINE).await?;
        let now = settled_count(server, &db).await?;
        per_order = Some(now.saturating_sub(count) as f64 / next as f64);
        (orders, count) = (orders + next, now);
    }
    if count < documents {
        bail!(
            "the tenant has {count} documents after {MAX_ROUNDS} rounds of orders, not {documents}"
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        tenant,
        Seeding {
            products: PRODUCTS,
            orders,
            documents: count,
            concurrency: CONCURRENCY,
            seconds,
            orders_per_second: orders as f64 / seconds.max(1e-9),
        },
    ))
}

/// Orders to place next for `missing` documents: `None` when none are missing; a probe of a
/// tenth (at least 50, at most 1,000 orders) while documents per order are unknown; otherwise
/// enough to reach the goal.
pub fn orders_for(missing: u64, per_order: Option<f64>) -> Option<usize> {
    if missing == 0 {
        return None;
    }
    let orders = match per_order {
        Some(rate) if rate > 0.0 => (missing as f64 / rate).ceil(),
        _ => (missing as f64 / GUESS_PER_ORDER / 10.0)
            .ceil()
            .clamp(50.0, 1_000.0),
    };
    Some((orders as usize).max(1))
}

/// The tenant's documents once the server is idle (its projector done).
async fn settled_count(server: &Server, db: &Database) -> Result<u64> {
    server
        .wait_quiescent(Duration::from_millis(500), Duration::from_secs(300))
        .await?;
    documents(db).await
}

/// Documents in every collection of `db` (the server's `system.*` left out), as a move copies.
pub async fn documents(db: &Database) -> Result<u64> {
    let names: Vec<String> = db
        .list_collection_names()
        .filter(doc! {"name": {"$not": {"$regex": "^system\\."}}})
        .await
        .with_context(|| format!("listing the collections of {}", db.name()))?;
    let mut total = 0;
    for name in names {
        total += db
            .collection::<mongodb::bson::Document>(&name)
            .count_documents(doc! {})
            .await
            .with_context(|| format!("counting {}.{name}", db.name()))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_first_then_the_rest() {
        assert_eq!(orders_for(0, None), None);
        assert_eq!(orders_for(0, Some(4.0)), None);
        // 2,000 missing at a guessed 5 per order: a tenth of 400, at least 50.
        assert_eq!(orders_for(2_000, None), Some(50));
        assert_eq!(orders_for(100_000, None), Some(1_000));
        assert_eq!(orders_for(1_000_000, None), Some(1_000));
        assert_eq!(orders_for(95_000, Some(4.75)), Some(20_000));
        assert_eq!(orders_for(3, Some(4.75)), Some(1));
        // A probe that added nothing says nothing: probe again.
        assert_eq!(orders_for(2_000, Some(0.0)), Some(50));
    }
}
