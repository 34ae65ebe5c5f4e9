//! `sales`: the sales reports' read model, one collection for both (every collection and index
//! of a tenant counts against its cluster's namespace budget):
//!
//! - `day:<YYYY-MM-DD>`: per UTC day of placement, orders placed, how many of them were
//!   cancelled since, and the revenue of the others;
//! - `product:<id>`: per product, units sold and revenue over orders not cancelled (the
//!   top-products index holds only these: day documents have no `units_sold`).

use std::collections::BTreeMap;

use cqrs::projector::{Projection, ProjectionError, Writes};
use mongodb::bson::doc;
use tenancy::migrations::{CollectionSpec, IndexSpec};

use super::SALES;
use crate::events::CommerceEvent;
use crate::model::Order;

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: SALES,
    indexes: &[IndexSpec::on(&[("units_sold", -1), ("_id", 1)])],
    validator: None,
}];

/// The `_id` of a day's document.
pub fn day_id(date: &str) -> String {
    format!("day:{date}")
}

/// The `_id` of a product's document.
fn product_id(product: &str) -> String {
    format!("product:{product}")
}

pub struct Sales;

/// `YYYY-MM-DD` of the order's placement, UTC.
fn day_of(order: &Order) -> String {
    tenancy::time::rfc3339(order.placed_at)
        .chars()
        .take(10)
        .collect()
}

/// What a run of events adds to one day.
#[derive(Default)]
struct Day {
    orders: i64,
    cancelled: i64,
    revenue_cents: i64,
}

impl Projection for Sales {
    type Event = CommerceEvent;

    const NAME: &'static str = SALES;
    const READ_MODELS: &'static [CollectionSpec] = READ_MODELS;

    fn project(
        &self,
        events: &[CommerceEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError> {
        per_day(events, writes);
        per_product(events, writes);
        Ok(())
    }
}

/// Only additions: the events of a batch are summed per day, one write per day touched.
fn per_day(events: &[CommerceEvent], writes: &mut Writes) {
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    for event in events {
        match event {
            CommerceEvent::OrderPlaced(order) => {
                let day = days.entry(day_of(order)).or_default();
                day.orders += 1;
                day.revenue_cents += order.total_cents;
            }
            CommerceEvent::OrderCancelled(order) => {
                let day = days.entry(day_of(order)).or_default();
                day.cancelled += 1;
                day.revenue_cents -= order.total_cents;
            }
            _ => {}
        }
    }
    for (day, sums) in days {
        let update = doc! {
            "$inc": {"orders": sums.orders, "cancelled": sums.cancelled, "revenue_cents": sums.revenue_cents},
            "$setOnInsert": {"date": &day},
        };
        writes.upsert(SALES, day_id(&day), update);
    }
}

fn per_product(events: &[CommerceEvent], writes: &mut Writes) {
    for event in events {
        let (order, sign) = match event {
            CommerceEvent::OrderPlaced(order) => (order, 1),
            CommerceEvent::OrderCancelled(order) => (order, -1),
            CommerceEvent::ProductUpdated(product) => {
                let set = doc! {"$set": {"sku": &product.sku, "name": &product.name}};
                writes.update(SALES, product_id(&product.id), set);
                continue;
            }
            _ => continue,
        };
        for line in &order.lines {
            let update = doc! {
                "$inc": {"units_sold": sign * line.qty, "revenue_cents": sign * line.line_total_cents},
                "$setOnInsert": {"product_id": &line.product_id, "sku": &line.sku, "name": &line.name},
            };
            writes.upsert(SALES, product_id(&line.product_id), update);
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs::projector::Write;
    use mongodb::bson::DateTime;

    use super::*;
    use crate::model::{Customer, OrderStatus};

    fn order(id: &str, total: i64, placed_at: i64) -> Order {
        Order {
            id: id.into(),
            customer: Customer {
                id: "c".into(),
                name: "C".into(),
            },
            lines: vec![],
            total_cents: total,
            status: OrderStatus::Placed,
            version: 1,
            placed_at: DateTime::from_millis(placed_at),
            updated_at: DateTime::from_millis(placed_at),
        }
    }

    #[test]
    fn a_batch_is_one_write_per_day() {
        const DAY: i64 = 86_400_000;
        let events = [
            CommerceEvent::OrderPlaced(order("a", 100, 0)),
            CommerceEvent::OrderPlaced(order("b", 250, 10)),
            CommerceEvent::OrderCancelled(order("a", 100, 0)),
            CommerceEvent::OrderPlaced(order("c", 7, DAY)),
        ];
        let mut writes = Writes::default();
        Sales.project(&events, &mut writes).unwrap();
        let day = |date: &str, orders: i64, cancelled: i64, revenue: i64| {
            let update = doc! {
                "$inc": {"orders": orders, "cancelled": cancelled, "revenue_cents": revenue},
                "$setOnInsert": {"date": date},
            };
            let id = day_id(date).into();
            (
                SALES,
                Write::Update {
                    id,
                    update,
                    upsert: true,
                },
            )
        };
        assert_eq!(
            writes.ops(),
            [day("1970-01-01", 2, 1, 250), day("1970-01-02", 1, 0, 7)]
        );
    }
}
