//! `order_list`: every order as the list view needs it (customer id flattened for filtering).

use cqrs::outbox::StoredEvent;
use cqrs::projector::{Projection, ProjectionError, ReadModels};
use futures::future::BoxFuture;
use mongodb::ClientSession;
use mongodb::bson::{Document, doc, to_document};
use tenancy::migrations::{CollectionSpec, IndexSpec};

use super::ORDER_LIST;
use crate::events::{self, ORDER_CANCELLED, ORDER_FULFILLED, ORDER_PLACED};
use crate::model::Order;

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: ORDER_LIST,
    indexes: &[
        IndexSpec::on(&[("status", 1), ("_id", 1)]),
        IndexSpec::on(&[("customer_id", 1), ("status", 1), ("_id", 1)]),
    ],
}];

pub struct OrderList;

impl Projection for OrderList {
    fn name(&self) -> &'static str {
        ORDER_LIST
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
            models
                .collection::<Document>(ORDER_LIST)
                .replace_one(doc! {"_id": &order.id}, row)
                .upsert(true)
                .session(session)
                .await?;
            Ok(())
        })
    }
}
