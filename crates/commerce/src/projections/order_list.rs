//! `order_list`: every order as the list view needs it (customer id flattened for filtering).

use cqrs::projector::{Projection, ProjectionError, Writes};
use mongodb::bson::to_document;
use tenancy::migrations::{CollectionSpec, IndexSpec};

use super::ORDER_LIST;
use crate::events::CommerceEvent;

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: ORDER_LIST,
    indexes: &[
        IndexSpec::on(&[("status", 1), ("_id", 1)]),
        IndexSpec::on(&[("customer_id", 1), ("status", 1), ("_id", 1)]),
    ],
    validator: None,
}];

pub struct OrderList;

impl Projection for OrderList {
    type Event = CommerceEvent;

    const NAME: &'static str = ORDER_LIST;
    const READ_MODELS: &'static [CollectionSpec] = READ_MODELS;

    fn project(
        &self,
        events: &[CommerceEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError> {
        for event in events {
            match event {
                CommerceEvent::OrderPlaced(order)
                | CommerceEvent::OrderCancelled(order)
                | CommerceEvent::OrderFulfilled(order) => {
                    let mut row = to_document(order)?;
                    row.insert("customer_id", &order.customer.id);
                    writes.put(ORDER_LIST, order.id.clone(), row);
                }
                _ => {}
            }
        }
        Ok(())
    }
}
