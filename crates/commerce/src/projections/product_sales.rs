//! `product_sales`: per product, units sold and revenue over orders not cancelled.

use cqrs::outbox::StoredEvent;
use cqrs::projector::{Projection, ProjectionError, ReadModels};
use futures::future::BoxFuture;
use mongodb::ClientSession;
use mongodb::bson::{Document, doc};
use tenancy::migrations::{CollectionSpec, IndexSpec};

use super::PRODUCT_SALES;
use crate::events::{self, ORDER_CANCELLED, ORDER_PLACED, PRODUCT_UPDATED};
use crate::model::{Order, Product};

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: PRODUCT_SALES,
    indexes: &[IndexSpec::on(&[("units_sold", -1), ("_id", 1)])],
}];

pub struct ProductSales;

impl Projection for ProductSales {
    fn name(&self) -> &'static str {
        PRODUCT_SALES
    }

    fn read_models(&self) -> &'static [CollectionSpec] {
        READ_MODELS
    }

    fn apply<'a>(
        &'a self,
        models: &'a ReadModels<'a>,
        session: &'a mut ClientSession,
        event: &'a StoredEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let sales = models.collection::<Document>(PRODUCT_SALES);
            match event.event_type.as_str() {
                ORDER_PLACED | ORDER_CANCELLED => {
                    let order: Order = events::payload(event).map_err(ProjectionError::Poison)?;
                    let sign = if event.event_type == ORDER_PLACED {
                        1
                    } else {
                        -1
                    };
                    for line in &order.lines {
                        let update = doc! {
                            "$inc": {"units_sold": sign * line.qty, "revenue_cents": sign * line.line_total_cents},
                            "$setOnInsert": {"sku": &line.sku, "name": &line.name},
                        };
                        sales
                            .update_one(doc! {"_id": &line.product_id}, update)
                            .upsert(true)
                            .session(&mut *session)
                            .await?;
                    }
                }
                PRODUCT_UPDATED => {
                    let product: Product =
                        events::payload(event).map_err(ProjectionError::Poison)?;
                    let set = doc! {"$set": {"sku": &product.sku, "name": &product.name}};
                    sales
                        .update_one(doc! {"_id": &product.id}, set)
                        .session(&mut *session)
                        .await?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}
