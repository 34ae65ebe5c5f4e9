//! `sales_daily`: per UTC day of placement, orders placed, how many of them were cancelled since,
//! and the revenue of the others.

use cqrs::outbox::StoredEvent;
use cqrs::projector::{Projection, ProjectionError, ReadModels};
use futures::future::BoxFuture;
use mongodb::ClientSession;
use mongodb::bson::{Document, doc};
use tenancy::migrations::CollectionSpec;

use super::SALES_DAILY;
use crate::events::{self, ORDER_CANCELLED, ORDER_PLACED};
use crate::model::Order;

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: SALES_DAILY,
    indexes: &[],
}];

pub struct DailySales;

/// `YYYY-MM-DD` of a timestamp, UTC.
fn day_of(order: &Order) -> Result<String, ProjectionError> {
    let stamp = order
        .placed_at
        .try_to_rfc3339_string()
        .map_err(|e| ProjectionError::Poison(e.to_string()))?;
    Ok(stamp.chars().take(10).collect())
}

impl Projection for DailySales {
    fn name(&self) -> &'static str {
        SALES_DAILY
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
            let change = match event.event_type.as_str() {
                ORDER_PLACED | ORDER_CANCELLED => {
                    events::payload::<Order>(event).map_err(ProjectionError::Poison)?
                }
                _ => return Ok(()),
            };
            let inc = if event.event_type == ORDER_PLACED {
                doc! {"orders": 1_i64, "revenue_cents": change.total_cents}
            } else {
                doc! {"cancelled": 1_i64, "revenue_cents": -change.total_cents}
            };
            models
                .collection::<Document>(SALES_DAILY)
                .update_one(doc! {"_id": day_of(&change)?}, doc! {"$inc": inc})
                .upsert(true)
                .session(session)
                .await?;
            Ok(())
        })
    }
}
