//! Reports: sales per day and top products (the `sales` read model).

use chrono::NaiveDate;
use cqrs::{Envelope, Handler, Invalid, Message, Query};
use futures::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};

use super::CommerceReads;
use crate::error::{CommerceError, Result};
use crate::projections::{SALES, day_id};

pub const MAX_REPORT_DAYS: i64 = 366;

/// `GET /v1/reports/sales?from=&to=` (inclusive UTC dates, `YYYY-MM-DD`).
#[derive(Debug, Clone)]
pub struct SalesReport {
    pub from: String,
    pub to: String,
    pub min_position: Option<i64>,
}

/// One day of sales: orders placed that day, how many of those were cancelled since, and the
/// revenue of the ones that were not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailySales {
    pub date: String,
    pub orders: i64,
    pub revenue_cents: i64,
    pub cancelled: i64,
}

fn date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

impl Message for SalesReport {
    const NAME: &'static str = "sales_report";
    type Output = Vec<DailySales>;

    fn validate(&self) -> Result<(), Vec<Invalid>> {
        let mut errors = Vec::new();
        let (from, to) = (date(&self.from), date(&self.to));
        if from.is_none() {
            errors.push(Invalid::new("from", "must be a date YYYY-MM-DD"));
        }
        if to.is_none() {
            errors.push(Invalid::new("to", "must be a date YYYY-MM-DD"));
        }
        if let (Some(from), Some(to)) = (from, to) {
            let days = (to - from).num_days();
            if !(0..MAX_REPORT_DAYS).contains(&days) {
                errors.push(Invalid::new(
                    "to",
                    "must be from `from` to 366 days after it",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
impl Query for SalesReport {}

#[derive(Debug, Deserialize)]
struct SalesDay {
    date: String,
    #[serde(default)]
    orders: i64,
    #[serde(default)]
    revenue_cents: i64,
    #[serde(default)]
    cancelled: i64,
}

impl Handler<SalesReport> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<SalesReport>) -> Result<Vec<DailySales>> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            let stored: Vec<SalesDay> = db
                .collection::<SalesDay>(SALES)
                .find(doc! {"_id": {"$gte": day_id(&query.from), "$lte": day_id(&query.to)}})
                .sort(doc! {"_id": 1})
                .await?
                .try_collect()
                .await?;
            let (Some(from), Some(to)) = (date(&query.from), date(&query.to)) else {
                return Ok(Vec::new());
            };
            // Every day of the range, zeros where nothing happened.
            Ok(from
                .iter_days()
                .take_while(|d| *d <= to)
                .map(|day| {
                    let key = day.format("%Y-%m-%d").to_string();
                    let found = stored.iter().find(|s| s.date == key);
                    DailySales {
                        orders: found.map_or(0, |s| s.orders),
                        revenue_cents: found.map_or(0, |s| s.revenue_cents),
                        cancelled: found.map_or(0, |s| s.cancelled),
                        date: key,
                    }
                })
                .collect())
        })
        .await
    }
}

/// `GET /v1/reports/top-products?limit=` (1..100, default 10).
#[derive(Debug, Clone)]
pub struct TopProducts {
    pub limit: u32,
    pub min_position: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductSales {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub units_sold: i64,
    pub revenue_cents: i64,
}

impl Message for TopProducts {
    const NAME: &'static str = "top_products";
    type Output = Vec<ProductSales>;
}
impl Query for TopProducts {}

impl Handler<TopProducts> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<TopProducts>) -> Result<Vec<ProductSales>> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            Ok(db
                .collection::<ProductSales>(SALES)
                .find(doc! {"units_sold": {"$gt": 0}})
                .sort(doc! {"units_sold": -1, "_id": 1})
                .limit(i64::from(query.limit))
                .await?
                .try_collect()
                .await?)
        })
        .await
    }
}
