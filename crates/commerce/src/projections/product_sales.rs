//! `product_sales`: per product, units sold and revenue over orders not cancelled.

use cqrs::projector::{Projection, ProjectionError, Writes};
use mongodb::bson::doc;
use tenancy::migrations::{CollectionSpec, IndexSpec};

use super::PRODUCT_SALES;
use crate::events::CommerceEvent;

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: PRODUCT_SALES,
    indexes: &[IndexSpec::on(&[("units_sold", -1), ("_id", 1)])],
    validator: None,
}];

pub struct ProductSales;

impl Projection for ProductSales {
    type Event = CommerceEvent;

    const NAME: &'static str = PRODUCT_SALES;
    const READ_MODELS: &'static [CollectionSpec] = READ_MODELS;

    fn project(
        &self,
        events: &[CommerceEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError> {
        for event in events {
            let (order, sign) = match event {
                CommerceEvent::OrderPlaced(order) => (order, 1),
                CommerceEvent::OrderCancelled(order) => (order, -1),
                CommerceEvent::ProductUpdated(product) => {
                    let set = doc! {"$set": {"sku": &product.sku, "name": &product.name}};
                    writes.update(PRODUCT_SALES, product.id.clone(), set);
                    continue;
                }
                _ => continue,
            };
            for line in &order.lines {
                let update = doc! {
                    "$inc": {"units_sold": sign * line.qty, "revenue_cents": sign * line.line_total_cents},
                    "$setOnInsert": {"sku": &line.sku, "name": &line.name},
                };
                writes.upsert(PRODUCT_SALES, line.product_id.clone(), update);
            }
        }
        Ok(())
    }
}
