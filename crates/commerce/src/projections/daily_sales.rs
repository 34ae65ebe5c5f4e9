//! `sales_daily`: per UTC day of placement, orders placed, how many of them were cancelled since,
//! and the revenue of the others.

use cqrs::projector::{Projection, ProjectionError, Writes};
use std::collections::BTreeMap;

use mongodb::bson::doc;
use tenancy::migrations::CollectionSpec;

use super::SALES_DAILY;
use crate::events::CommerceEvent;
use crate::model::Order;

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: SALES_DAILY,
    indexes: &[],
    validator: None,
}];

pub struct DailySales;

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

impl Projection for DailySales {
    type Event = CommerceEvent;

    const NAME: &'static str = SALES_DAILY;
    const READ_MODELS: &'static [CollectionSpec] = READ_MODELS;

    /// Only additions: the events of a batch are summed per day, one write per day touched.
    fn project(
        &self,
        events: &[CommerceEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError> {
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
            let inc = doc! {"$inc": {"orders": sums.orders, "cancelled": sums.cancelled, "revenue_cents": sums.revenue_cents}};
            writes.upsert(SALES_DAILY, day, inc);
        }
        Ok(())
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
        DailySales.project(&events, &mut writes).unwrap();
        assert_eq!(
            writes.ops(),
            [
                (
                    SALES_DAILY,
                    Write::Update {
                        id: "1970-01-01".into(),
                        update: doc! {"$inc": {"orders": 2_i64, "cancelled": 1_i64, "revenue_cents": 250_i64}},
                        upsert: true
                    }
                ),
                (
                    SALES_DAILY,
                    Write::Update {
                        id: "1970-01-02".into(),
                        update: doc! {"$inc": {"orders": 1_i64, "cancelled": 0_i64, "revenue_cents": 7_i64}},
                        upsert: true
                    }
                ),
            ]
        );
    }
}
