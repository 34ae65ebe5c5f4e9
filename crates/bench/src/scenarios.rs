//! The scenarios, and how each request of one is sent to Tenantry over HTTP.
//!
//! Request `seq` of a run goes to tenant `seq mod N` (round-robin over the N tenants of the run)
//! and to product `(seq div N) mod P` of that tenant; the 90/10 mix decides read or write from a
//! hash of `seq`, so the writes are spread over every tenant. The baseline (`baseline.rs`) uses
//! the same mapping, so both sides do the same operations on the same documents.

use std::sync::Arc;

use anyhow::Result;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use serde_json::json;

use crate::api::{Api, BenchTenant, outcome_of};
use crate::load::{self, LoadSpec, Stats};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// `GET /v1/products/{id}`
    PointRead,
    /// `GET /v1/products?limit=20`
    List,
    /// `POST /v1/orders` (one line, quantity 1)
    Order,
    /// 90 % point reads, 10 % orders
    Mix,
    /// A flash sale: `POST /v1/orders` on one tenant's first 5 products only (run at the
    /// smallest tenant count)
    HotOrder,
    /// `GET /healthz`: the HTTP stack alone (layer breakdown only; no baseline)
    Healthz,
    /// `GET /v1/tenant`: HTTP + JWT + tenant resolution, no database (layer breakdown only)
    Tenant,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::PointRead,
        Scenario::List,
        Scenario::Order,
        Scenario::Mix,
        Scenario::HotOrder,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PointRead => "point read",
            Scenario::List => "list (limit 20)",
            Scenario::Order => "order placement",
            Scenario::Mix => "90/10 read/write mix",
            Scenario::HotOrder => "hot tenant orders (1 tenant, 5 products)",
            Scenario::Healthz => "GET /healthz",
            Scenario::Tenant => "GET /v1/tenant",
        }
    }

    /// Whether it runs at `count` tenants, the smallest count of the run being `smallest`.
    pub fn runs_at(self, count: usize, smallest: usize) -> bool {
        self != Scenario::HotOrder || count == smallest
    }

    /// Whether the driver baseline has this operation.
    pub fn has_baseline(self) -> bool {
        !matches!(self, Scenario::Healthz | Scenario::Tenant)
    }
}

/// One request's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    PointRead,
    List,
    Order,
    Healthz,
    Tenant,
}

/// Products of the hot tenant that every order of `HotOrder` goes to.
pub const HOT_PRODUCTS: usize = 5;

/// The operation, tenant index and product index of request `seq`.
pub fn pick(scenario: Scenario, seq: u64, tenants: usize, products: usize) -> (Op, usize, usize) {
    if scenario == Scenario::HotOrder {
        return (
            Op::Order,
            0,
            (seq % HOT_PRODUCTS.min(products).max(1) as u64) as usize,
        );
    }
    let n = tenants.max(1) as u64;
    let tenant = (seq % n) as usize;
    let product = ((seq / n) % products.max(1) as u64) as usize;
    let op = match scenario {
        Scenario::PointRead => Op::PointRead,
        Scenario::List => Op::List,
        Scenario::Order => Op::Order,
        Scenario::Mix if splitmix64(seq).is_multiple_of(10) => Op::Order,
        Scenario::Mix => Op::PointRead,
        Scenario::HotOrder => Op::Order,
        Scenario::Healthz => Op::Healthz,
        Scenario::Tenant => Op::Tenant,
    };
    (op, tenant, product)
}

/// A well-mixed 64-bit hash (SplitMix64's finaliser).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Everything a request needs, precomputed per tenant: URLs, token, order bodies.
struct HttpTenant {
    authorization: HeaderValue,
    product_urls: Vec<String>,
    order_bodies: Vec<String>,
    list_url: String,
    order_url: String,
    tenant_url: String,
    health_url: String,
}

/// The HTTP side of a run over a set of tenants.
#[derive(Clone)]
pub struct HttpTargets {
    http: reqwest::Client,
    tenants: Arc<Vec<HttpTenant>>,
    products: usize,
}

impl HttpTargets {
    pub fn new(api: &Api, tenants: &[BenchTenant]) -> HttpTargets {
        let base = &api.base_url;
        let products = tenants.iter().map(|t| t.products.len()).min().unwrap_or(0);
        let tenants = tenants
            .iter()
            .map(|t| HttpTenant {
                authorization: t.authorization.clone(),
                product_urls: t
                    .products
                    .iter()
                    .map(|p| format!("{base}/v1/products/{p}"))
                    .collect(),
                order_bodies: t
                    .products
                    .iter()
                    .map(|p| {
                        json!({
                            "customer": {"id": format!("c-{}", t.id), "name": "Bench Customer"},
                            "lines": [{"product_id": p, "qty": 1}],
                        })
                        .to_string()
                    })
                    .collect(),
                list_url: format!("{base}/v1/products?limit=20"),
                order_url: format!("{base}/v1/orders"),
                tenant_url: format!("{base}/v1/tenant"),
                health_url: format!("{base}/healthz"),
            })
            .collect();
        HttpTargets {
            http: api.http.clone(),
            tenants: Arc::new(tenants),
            products,
        }
    }

    /// One point read per tenant (`concurrency` at a time), so that every tenant is in the
    /// catalog cache when a measurement starts; returns the number of failed requests.
    pub async fn prime(&self, concurrency: usize) -> Result<u64> {
        let targets = self.clone();
        let failed = crate::par::map(self.tenants.len(), concurrency, move |i| {
            let targets = targets.clone();
            async move {
                let t = &targets.tenants[i];
                let url = t.product_urls.first().unwrap_or(&t.tenant_url);
                let request = targets
                    .http
                    .get(url)
                    .header(AUTHORIZATION, t.authorization.clone());
                Ok(u64::from(outcome_of(request.send().await).await.is_err()))
            }
        })
        .await?;
        Ok(failed.iter().sum())
    }

    /// Runs `scenario` against Tenantry.
    pub async fn run(&self, scenario: Scenario, spec: LoadSpec) -> Result<Stats> {
        let targets = self.clone();
        load::run(spec, move |seq| {
            let targets = targets.clone();
            async move { targets.send(targets.pick(scenario, seq)).await }
        })
        .await
    }

    /// The operation, tenant index and product index of request `seq` of `scenario` (`pick`
    /// over these tenants and products).
    pub fn pick(&self, scenario: Scenario, seq: u64) -> (Op, usize, usize) {
        pick(scenario, seq, self.tenants.len(), self.products)
    }

    /// Sends one request (`pick`'s operation on that tenant and product) and reads its answer.
    pub async fn send(&self, (op, ti, pi): (Op, usize, usize)) -> load::Outcome {
        let t = &self.tenants[ti];
        let request = match op {
            Op::PointRead => self.http.get(&t.product_urls[pi]),
            Op::List => self.http.get(&t.list_url),
            Op::Order => self
                .http
                .post(&t.order_url)
                .header(CONTENT_TYPE, "application/json")
                .body(t.order_bodies[pi].clone()),
            Op::Tenant => self.http.get(&t.tenant_url),
            Op::Healthz => {
                return outcome_of(self.http.get(&t.health_url).send().await).await;
            }
        };
        let request = request.header(AUTHORIZATION, t.authorization.clone());
        outcome_of(request.send().await).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_round_robin_over_tenants_then_products() {
        let picks: Vec<_> = (0..6).map(|s| pick(Scenario::PointRead, s, 3, 2)).collect();
        let tenants: Vec<_> = picks.iter().map(|p| p.1).collect();
        let products: Vec<_> = picks.iter().map(|p| p.2).collect();
        assert_eq!(tenants, [0, 1, 2, 0, 1, 2]);
        assert_eq!(products, [0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn hot_orders_go_to_five_products_of_the_first_tenant() {
        let picks: Vec<_> = (0..100)
            .map(|s| pick(Scenario::HotOrder, s, 100, 20))
            .collect();
        assert!(picks.iter().all(|&(op, t, _)| op == Op::Order && t == 0));
        let products: std::collections::BTreeSet<usize> = picks.iter().map(|p| p.2).collect();
        assert_eq!(products, (0..HOT_PRODUCTS).collect());
    }

    #[test]
    fn the_mix_is_about_ten_percent_writes_on_every_tenant() {
        let mut writes_per_tenant = [0u32; 10];
        let mut writes = 0;
        for seq in 0..100_000 {
            let (op, t, _) = pick(Scenario::Mix, seq, 10, 5);
            if op == Op::Order {
                writes += 1;
                writes_per_tenant[t] += 1;
            }
        }
        assert!((9_000..11_000).contains(&writes), "{writes}");
        assert!(
            writes_per_tenant.iter().all(|&w| w > 700),
            "{writes_per_tenant:?}"
        );
    }
}
