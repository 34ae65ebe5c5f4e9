//! The domain events of the catalog and orders, as appended to the outbox (`type` + `payload`).
//! Payloads carry full snapshots, so projections set state rather than patch it (and stay
//! idempotent). Event types are part of the stored history: never rename one.

use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

use crate::customers::CustomerRecord;
use crate::model::{Order, Product};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum CommerceEvent {
    #[serde(rename = "product.created")]
    ProductCreated(Product),
    #[serde(rename = "product.updated")]
    ProductUpdated(Product),
    #[serde(rename = "product.stock_changed")]
    StockChanged(StockChanged),
    #[serde(rename = "product.deleted")]
    ProductDeleted(Deleted),
    #[serde(rename = "order.placed")]
    OrderPlaced(Order),
    #[serde(rename = "order.cancelled")]
    OrderCancelled(Order),
    #[serde(rename = "order.fulfilled")]
    OrderFulfilled(Order),
    #[serde(rename = "customer.created")]
    CustomerCreated(CustomerRecord),
    /// An event of another domain sharing the outbox: projections ignore it.
    #[serde(other)]
    Other,
}

/// A product's stock after a change (orders, cancellations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockChanged {
    #[serde(rename = "_id")]
    pub id: String,
    pub stock: i64,
    pub version: i64,
    pub updated_at: DateTime,
}

impl StockChanged {
    pub fn of(product: &Product) -> CommerceEvent {
        CommerceEvent::StockChanged(StockChanged {
            id: product.id.clone(),
            stock: product.stock,
            version: product.version,
            updated_at: product.updated_at,
        })
    }
}

/// The id of a deleted product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deleted {
    #[serde(rename = "_id")]
    pub id: String,
}

/// Test support: an event as the projector reads it from the outbox.
#[cfg(test)]
pub(crate) fn stored(position: i64, event: &CommerceEvent) -> cqrs::outbox::StoredEvent {
    let new = cqrs::outbox::NewEvent::of(event).expect("a commerce event serialises");
    cqrs::outbox::StoredEvent {
        position,
        id: format!("e{position}"),
        event_type: new.event_type,
        payload: new.payload,
        occurred_at: DateTime::now(),
        correlation_id: "c".into(),
        actor: "a".into(),
    }
}

#[cfg(test)]
mod tests {
    use cqrs::outbox::StoredEvent;

    use super::*;

    fn stored(event: &CommerceEvent) -> StoredEvent {
        super::stored(1, event)
    }

    #[test]
    fn events_round_trip_through_the_outbox_shape() {
        let event = CommerceEvent::ProductDeleted(Deleted { id: "p1".into() });
        let s = stored(&event);
        assert_eq!(s.event_type, "product.deleted");
        assert_eq!(s.payload.get_str("_id"), Ok("p1"));
        assert_eq!(s.decode::<CommerceEvent>(), Ok(event));
    }

    #[test]
    fn other_domains_events_are_other_and_bad_payloads_are_errors() {
        let mut s = stored(&CommerceEvent::ProductDeleted(Deleted { id: "p".into() }));
        s.event_type = "invoice.created".into();
        assert_eq!(s.decode::<CommerceEvent>(), Ok(CommerceEvent::Other));
        s.event_type = "order.placed".into();
        assert!(s.decode::<CommerceEvent>().is_err());
    }
}
