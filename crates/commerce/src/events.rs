//! The domain events of the catalog and orders, as appended to the outbox. Payloads carry full
//! snapshots, so projections set state rather than patch it (and stay idempotent).

use cqrs::outbox::{NewEvent, StoredEvent};
use mongodb::bson::{doc, from_document, to_document};
use serde::de::DeserializeOwned;

use crate::model::{Order, Product};

pub const PRODUCT_CREATED: &str = "product.created";
pub const PRODUCT_UPDATED: &str = "product.updated";
pub const PRODUCT_STOCK_CHANGED: &str = "product.stock_changed";
pub const PRODUCT_DELETED: &str = "product.deleted";
pub const ORDER_PLACED: &str = "order.placed";
pub const ORDER_CANCELLED: &str = "order.cancelled";
pub const ORDER_FULFILLED: &str = "order.fulfilled";

pub fn product(event_type: &'static str, product: &Product) -> crate::Result<NewEvent> {
    Ok(NewEvent {
        event_type,
        payload: to_document(product)?,
    })
}

pub fn stock_changed(product: &Product) -> NewEvent {
    NewEvent {
        event_type: PRODUCT_STOCK_CHANGED,
        payload: doc! {"_id": &product.id, "stock": product.stock, "version": product.version, "updated_at": product.updated_at},
    }
}

pub fn product_deleted(id: &str) -> NewEvent {
    NewEvent {
        event_type: PRODUCT_DELETED,
        payload: doc! {"_id": id},
    }
}

pub fn order(event_type: &'static str, order: &Order) -> crate::Result<NewEvent> {
    Ok(NewEvent {
        event_type,
        payload: to_document(order)?,
    })
}

/// Reads an event's payload as `T`, or says why it cannot (a poison event).
pub fn payload<T: DeserializeOwned>(event: &StoredEvent) -> Result<T, String> {
    from_document(event.payload.clone()).map_err(|e| format!("{} payload: {e}", event.event_type))
}

/// The `_id` of an event's payload.
pub fn payload_id(event: &StoredEvent) -> Result<String, String> {
    event
        .payload
        .get_str("_id")
        .map(String::from)
        .map_err(|_| format!("{} payload has no _id", event.event_type))
}
