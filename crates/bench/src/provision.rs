//! Making the tenants of a run through the admin API (measuring the provisioning rate), and
//! seeding each with products through `POST /v1/products`, waiting for its projections
//! (`X-Min-Position`) so the read scenarios find every product in the read model.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::api::{Api, BenchTenant};
use crate::par;

/// Attempts per admin/seed call (a transient 503 should not sink a long run; retries are counted).
const ATTEMPTS: u32 = 3;
/// How long seeding waits for a tenant's projections at most.
const PROJECTION_DEADLINE: Duration = Duration::from_secs(60);

/// A timed batch of work: how many, how long, the rate, and retries needed.
#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    pub what: String,
    pub count: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub retries: u64,
}

impl Batch {
    fn new(what: String, count: usize, concurrency: usize, seconds: f64, retries: u64) -> Batch {
        let per_second = if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        };
        Batch {
            what,
            count,
            concurrency,
            seconds,
            per_second,
            retries,
        }
    }
}

/// Prints "what: done/total" every `PROGRESS_EVERY` while a long batch runs; stops on drop.
struct Ticker {
    done: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

const PROGRESS_EVERY: Duration = Duration::from_secs(30);

impl Ticker {
    fn start(what: String, total: usize) -> Ticker {
        let done = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&done);
        let started = Instant::now();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let n = counter.load(Ordering::Relaxed);
                let rate = n as f64 / started.elapsed().as_secs_f64();
                eprintln!("    {what}: {n}/{total} ({rate:.0}/s)");
            }
        });
        Ticker { done, task }
    }

    fn counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.done)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The id of the `i`-th tenant of run `run_id` (a valid tenant id: DNS label, ≤ 32 chars).
pub fn tenant_id(run_id: &str, i: usize) -> String {
    format!("bt-{run_id}-{i:05}")
}

async fn with_retries<T, Fut>(retries: &AtomicU64, mut f: impl FnMut() -> Fut) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match f().await {
            Ok(t) => return Ok(t),
            Err(e) if attempt >= ATTEMPTS => return Err(e),
            Err(_) => {
                retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                attempt += 1;
            }
        }
    }
}

/// Provisions tenants `from..to` of the run, `concurrency` at a time; returns them (with tokens,
/// no products yet) and the timing.
pub async fn provision(
    api: &Api,
    run_id: &str,
    from: usize,
    to: usize,
    concurrency: usize,
) -> Result<(Vec<BenchTenant>, Batch)> {
    let retries = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let ticker = Ticker::start("provisioned".to_string(), to.saturating_sub(from));
    let (api2, run, r, done) = (
        api.clone(),
        run_id.to_string(),
        Arc::clone(&retries),
        ticker.counter(),
    );
    let tenants = par::map(to.saturating_sub(from), concurrency, move |k| {
        let (api, id, retries) = (api2.clone(), tenant_id(&run, from + k), Arc::clone(&r));
        let done = Arc::clone(&done);
        async move {
            let database = with_retries(&retries, || api.create_tenant(&id)).await?;
            done.fetch_add(1, Ordering::Relaxed);
            Ok(BenchTenant {
                authorization: api.tenant_authorization(&id)?,
                id,
                database,
                products: Vec::new(),
            })
        }
    })
    .await
    .context("provisioning tenants")?;
    let seconds = started.elapsed().as_secs_f64();
    let what = format!("provision tenants {}..{}", from + 1, to);
    let retries = retries.load(Ordering::Relaxed);
    Ok((
        tenants,
        Batch::new(what, to - from, concurrency, seconds, retries),
    ))
}

/// Creates `products` products in each of `tenants` (each tenant's products one after another,
/// `concurrency` tenants at a time), then waits for each tenant's projections to include them.
pub async fn seed(
    api: &Api,
    tenants: Vec<BenchTenant>,
    products: usize,
    concurrency: usize,
) -> Result<(Vec<BenchTenant>, Batch)> {
    let retries = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let count = tenants.len() * products;
    let ticker = Ticker::start("seeded tenants".to_string(), tenants.len());
    let tenants = Arc::new(tenants);
    let (api2, all, r, done) = (
        api.clone(),
        Arc::clone(&tenants),
        Arc::clone(&retries),
        ticker.counter(),
    );
    let seeded = par::map(tenants.len(), concurrency, move |i| {
        let (api, retries, done) = (api2.clone(), Arc::clone(&r), Arc::clone(&done));
        let mut tenant = all[i].clone();
        async move {
            let mut last_position = 0;
            for p in tenant.products.len()..products {
                let sku = format!("{}-sku-{p:03}", tenant.id);
                let price = 100 + (p as i64) * 7;
                let (id, position) = with_retries(&retries, || {
                    api.create_product(&tenant.authorization, &sku, price)
                })
                .await?;
                tenant.products.push(id);
                last_position = position;
            }
            if last_position > 0 {
                wait_for_projection(&api, &tenant, last_position, PROJECTION_DEADLINE).await?;
            }
            done.fetch_add(1, Ordering::Relaxed);
            Ok(tenant)
        }
    })
    .await
    .context("seeding products")?;
    let seconds = started.elapsed().as_secs_f64();
    let what = format!("seed {products} products × {} tenants", seeded.len());
    let retries = retries.load(Ordering::Relaxed);
    Ok((
        seeded,
        Batch::new(what, count, concurrency, seconds, retries),
    ))
}

/// Reads the tenant's product list with `X-Min-Position` until the projections have applied
/// `position` (503 `projection_lagging` means "not yet"), for at most `deadline`.
pub async fn wait_for_projection(
    api: &Api,
    tenant: &BenchTenant,
    position: i64,
    deadline: Duration,
) -> Result<()> {
    let until = Instant::now() + deadline;
    let header = [("x-min-position", position.to_string())];
    while Instant::now() < until {
        let answer = api
            .call(
                Method::GET,
                "/v1/products?limit=1",
                &tenant.authorization,
                None,
                &header,
            )
            .await?;
        match answer.status {
            StatusCode::OK => return Ok(()),
            StatusCode::SERVICE_UNAVAILABLE => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => bail!(
                "waiting for projections of {}: {other} {}",
                tenant.id,
                answer.body
            ),
        }
    }
    bail!(
        "the projections of {} did not reach position {position} within {deadline:?}",
        tenant.id
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn tenant_ids_are_valid_dns_labels() {
        let id = super::tenant_id("a1b2c3d4", 12345);
        assert_eq!(id, "bt-a1b2c3d4-12345");
        assert!(id.len() <= 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }
}
