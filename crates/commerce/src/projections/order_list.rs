//! `order_list`: every order as the list view needs it (customer id flattened for filtering).

use cqrs::outbox::StoredEvent;
use cqrs::projector::{Projection, ProjectionError};
use futures::future::BoxFuture;
use mongodb::bson::{Document, doc, to_document};
use mongodb::{ClientSession, Database};

use super::ORDER_LIST;
use crate::events::{self, ORDER_CANCELLED, ORDER_FULFILLED, ORDER_PLACED};
use crate::model::Order;

pub struct OrderList;

impl Projection for OrderList {
    fn name(&self) -> &'static str {
        ORDER_LIST
    }

    fn collections(&self) -> &'static [&'static str] {
        &[ORDER_LIST]
    }

    fn apply<'a>(
        &'a self,
        db: &'a Database,
        session: &'a mut ClientSession,
        event: &'a StoredEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            if !matches!(
                event.event_type.as_str(),
                ORDER_PLACED | ORDER_CANCELLED | ORDER_FULFILLED
            ) {
                return Ok(());
            }
            let order: Order = events::payload(event).map_err(ProjectionError::Poison)?;
            let mut row =
                to_document(&order).map_err(|e| ProjectionError::Poison(e.to_string()))?;
            row.insert("customer_id", &order.customer.id);
            db.collection::<Document>(ORDER_LIST)
                .replace_one(doc! {"_id": &order.id}, row)
                .upsert(true)
                .session(session)
                .await?;
            Ok(())
        })
    }
}
