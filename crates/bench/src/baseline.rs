//! The baseline: the same operations issued directly with the `mongodb` driver, on the same
//! tenant databases and documents, at the same concurrency — what a hand-written service without
//! HTTP, authentication, tenant resolution, budgets or CQRS would cost at best.
//!
//! - point read: `find_one({_id})` on the tenant's `product_list` read model (what
//!   `GET /v1/products/{id}` reads), decoded into a `Document`;
//! - list: `find({}).sort({_id: 1}).limit(21)` on `product_list`, every document decoded (what
//!   `GET /v1/products?limit=20` reads: one more than the page, to know if there is a next one);
//! - order: one transaction (snapshot read concern, majority write concern, retried on
//!   `TransientTransactionError` with the same jittered backoff and 10 s deadline as
//!   `cqrs::transaction`) that
//!   1. decrements the product's stock only if enough is left (`find_one_and_update` on
//!      `products` with `stock: {$gte: 1}`, `$inc: {stock: -1, version: 1}`, returning the product),
//!   2. inserts the order (customer, one line with the product's sku/name/price snapshotted) into
//!      `orders`,
//!   3. increments the `bench_outbox` counter document in `_counters` by 2 (upsert), and
//!   4. inserts two events (stock changed, order placed) at those positions into `bench_outbox`.
//!
//!   Tenantry's `PlaceOrder` runs the same transaction with its Idempotency-Key record (when
//!   given) in the same `bulkWrite` as the order and the events; a burst on one tenant commits in
//!   groups. Its projector then applies the events to four read models (`product_list`,
//!   `order_list`, `sales`, `customer_list`), which the baseline does not do. The baseline's
//!   events go to `bench_outbox` (not `outbox`) and use their own counter document: Tenantry's
//!   projector watches `outbox` inserts, and baseline events in it would be projected (or
//!   dead-lettered) in the background during the baseline's own measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::{
    Acknowledgment, ClientOptions, ReadConcern, ReturnDocument, TransactionOptions, WriteConcern,
};
use mongodb::{Client, ClientSession, Collection};

use crate::api::BenchTenant;
use crate::load::{self, LoadSpec, Outcome, Stats};
use crate::scenarios::{Op, Scenario, pick};

/// How long an order transaction keeps retrying write conflicts (as `cqrs::transaction`).
const DEADLINE: Duration = Duration::from_secs(10);
/// Commit retries on an unknown commit result, at most.
const COMMIT_ATTEMPTS: u32 = 10;

/// A driver client like Tenantry's shared one (same pool size), for the baseline.
pub async fn client(uri: &str, max_pool_size: u32) -> Result<Client> {
    let mut options = ClientOptions::parse(uri)
        .await
        .context("parsing the MongoDB URI")?;
    options.app_name = Some("tenantry-bench".to_string());
    options.max_pool_size = Some(max_pool_size);
    Client::with_options(options).context("creating the MongoDB client")
}

struct DbTenant {
    customer: String,
    product_ids: Vec<String>,
    product_list: Collection<Document>,
    products: Collection<Document>,
    orders: Collection<Document>,
    counters: Collection<Document>,
    outbox: Collection<Document>,
}

/// The driver side of a run over a set of tenants.
#[derive(Clone)]
pub struct DbTargets {
    client: Client,
    tenants: Arc<Vec<DbTenant>>,
    products: usize,
}

impl DbTargets {
    pub fn new(client: &Client, tenants: &[BenchTenant]) -> DbTargets {
        let products = tenants.iter().map(|t| t.products.len()).min().unwrap_or(0);
        let tenants = tenants
            .iter()
            .map(|t| {
                let db = client.database(&t.database);
                DbTenant {
                    customer: format!("c-{}", t.id),
                    product_ids: t.products.clone(),
                    product_list: db.collection("product_list"),
                    products: db.collection("products"),
                    orders: db.collection("orders"),
                    counters: db.collection("_counters"),
                    outbox: db.collection("bench_outbox"),
                }
            })
            .collect();
        DbTargets {
            client: client.clone(),
            tenants: Arc::new(tenants),
            products,
        }
    }

    /// Runs `scenario` directly against the databases.
    pub async fn run(&self, scenario: Scenario, spec: LoadSpec) -> Result<Stats> {
        let targets = self.clone();
        load::run(spec, move |seq| {
            let targets = targets.clone();
            async move {
                let (op, ti, pi) = pick(scenario, seq, targets.tenants.len(), targets.products);
                let t = &targets.tenants[ti];
                let id = &t.product_ids[pi];
                let result = match op {
                    Op::PointRead => point_read(t, id).await,
                    Op::List => list(t).await,
                    Op::Order => place_order(&targets.client, t, id).await,
                    Op::Healthz | Op::Tenant => Err(anyhow!("{op:?} has no driver baseline")),
                };
                result.map_err(|e| format!("{e:#}"))
            }
        })
        .await
    }
}

async fn point_read(t: &DbTenant, id: &str) -> Result<()> {
    t.product_list
        .find_one(doc! {"_id": id})
        .await?
        .map(|_| ())
        .ok_or_else(|| anyhow!("product {id} not in product_list"))
}

async fn list(t: &DbTenant) -> Result<()> {
    let mut cursor = t
        .product_list
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .limit(21)
        .await?;
    let mut n = 0;
    while cursor.advance().await? {
        let _product: Document = cursor.deserialize_current()?;
        n += 1;
    }
    anyhow::ensure!(n > 0, "empty product_list");
    Ok(())
}

fn transaction_options() -> TransactionOptions {
    TransactionOptions::builder()
        .read_concern(ReadConcern::snapshot())
        .write_concern(WriteConcern::builder().w(Acknowledgment::Majority).build())
        .build()
}

fn is_labelled(e: &anyhow::Error, label: &str) -> bool {
    e.downcast_ref::<mongodb::error::Error>()
        .is_some_and(|d| d.contains_label(label))
}

/// `cqrs::transaction`'s backoff: exponential, capped at 25 ms, jittered.
fn backoff(attempt: u32) -> Duration {
    let cap_micros = (250u64 << attempt.min(7)).min(25_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_micros(u64::from(nanos) % cap_micros + 100)
}

async fn place_order(client: &Client, t: &DbTenant, product_id: &str) -> Result<()> {
    let started = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let mut session = client.start_session().await?;
        session
            .start_transaction()
            .with_options(transaction_options())
            .await?;
        let outcome = match order_writes(t, &mut session, product_id).await {
            Ok(()) => commit(&mut session).await,
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        };
        match outcome {
            Err(e)
                if is_labelled(&e, TRANSIENT_TRANSACTION_ERROR) && started.elapsed() < DEADLINE =>
            {
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

async fn commit(session: &mut ClientSession) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match session.commit_transaction().await {
            Err(e)
                if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
                    && attempt < COMMIT_ATTEMPTS => {}
            other => return Ok(other?),
        }
    }
}

async fn order_writes(t: &DbTenant, session: &mut ClientSession, product_id: &str) -> Result<()> {
    let now = DateTime::now();
    let product = t
        .products
        .find_one_and_update(
            doc! {"_id": product_id, "stock": {"$gte": 1}},
            doc! {"$inc": {"stock": -1, "version": 1}, "$set": {"updated_at": now}},
        )
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?
        .ok_or_else(|| anyhow!("insufficient stock of {product_id}"))?;
    let price = product.get_i64("price_cents").unwrap_or(0);
    let order = doc! {
        "_id": ObjectId::new().to_hex(),
        "customer": {"id": &t.customer, "name": "Bench Customer"},
        "lines": [{
            "product_id": product_id,
            "sku": product.get_str("sku").unwrap_or_default(),
            "name": product.get_str("name").unwrap_or_default(),
            "qty": 1i64,
            "price_cents": price,
            "line_total_cents": price,
        }],
        "total_cents": price,
        "status": "placed",
        "version": 1i64,
        "placed_at": now,
        "updated_at": now,
    };
    t.orders.insert_one(&order).session(&mut *session).await?;
    let counter = t
        .counters
        .find_one_and_update(
            doc! {"_id": "bench_outbox"},
            doc! {"$inc": {"position": 2i64}},
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?;
    let last = counter
        .and_then(|c| c.get_i64("position").ok())
        .unwrap_or(2);
    let event = |position: i64, kind: &str, payload: Document| {
        doc! {
            "_id": position,
            "type": kind,
            "payload": payload,
            "occurred_at": now,
            "correlation_id": "bench",
            "actor": "bench",
        }
    };
    let stock = doc! {"product_id": product_id, "stock": product.get_i64("stock").unwrap_or(0)};
    let events = [
        event(last - 1, "product.stock_changed", stock),
        event(last, "order.placed", order),
    ];
    t.outbox.insert_many(events).session(&mut *session).await?;
    Ok(())
}

/// Whether a driver round trip works (used to fail early with a clear message).
pub async fn ping(client: &Client) -> Result<()> {
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .context("pinging MongoDB")?;
    Ok(())
}

/// Outcome of one timed `find_one` by `_id` in `db.coll` (the catalog round trip of a lookup).
pub async fn timed_find_one(client: &Client, db: &str, coll: &str, id: &str) -> (f64, Outcome) {
    let started = Instant::now();
    let found = client
        .database(db)
        .collection::<Document>(coll)
        .find_one(doc! {"_id": id})
        .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let outcome = match found {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(format!("{id} not found in {db}.{coll}")),
        Err(e) => Err(e.to_string()),
    };
    (ms, outcome)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_is_bounded() {
        for attempt in 1..50 {
            assert!(super::backoff(attempt) <= std::time::Duration::from_micros(25_100));
        }
    }
}
