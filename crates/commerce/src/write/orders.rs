//! Order commands: place (prices snapshotted, stock decremented atomically), cancel (stock
//! restored), fulfil. Only `placed` orders can be cancelled or fulfilled.

use std::collections::HashSet;

use cqrs::{Command, Envelope, Handler, Invalid, Message};
use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Collection};

use cqrs::command::{Changes, Committed, IdempotencyKey, check_version};

use super::{CommerceWrites, ORDERS, PRODUCTS};
use crate::error::{CommerceError, Result};
use crate::events::{CommerceEvent, StockChanged};
use crate::model::{Customer, Order, OrderLine, OrderStatus, OrderView, Product, new_id};
use crate::validate::Checks;

pub const MAX_LINES: usize = 100;
pub const MAX_QTY: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderLine {
    pub product_id: String,
    pub qty: i64,
}

/// `POST /v1/orders`
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub customer: Customer,
    pub lines: Vec<NewOrderLine>,
    pub idempotency: Option<IdempotencyKey>,
}

impl Message for PlaceOrder {
    const NAME: &'static str = "place_order";
    type Output = Committed<OrderView>;

    fn validate(&self) -> Result<(), Vec<Invalid>> {
        let mut checks = Checks::default();
        let id_ok = (1..=128).contains(&self.customer.id.chars().count());
        checks.check(id_ok, "customer.id", "must have 1 to 128 characters");
        checks.name("customer.name", &self.customer.name);
        checks.check(
            !self.lines.is_empty() && self.lines.len() <= MAX_LINES,
            "lines",
            "must have 1 to 100 lines",
        );
        let mut seen = HashSet::new();
        for (i, line) in self.lines.iter().enumerate() {
            checks.check(
                (1..=MAX_QTY).contains(&line.qty),
                format!("lines[{i}].qty"),
                "must be from 1 to 10000",
            );
            checks.check(
                !line.product_id.is_empty(),
                format!("lines[{i}].product_id"),
                "is required",
            );
            checks.check(
                seen.insert(&line.product_id),
                format!("lines[{i}].product_id"),
                "is listed twice",
            );
        }
        checks.finish()
    }
}
impl Command for PlaceOrder {}

impl Handler<PlaceOrder> for CommerceWrites {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<PlaceOrder>) -> Result<Committed<OrderView>> {
        let command = envelope.message();
        let db = self.db(envelope).await?;
        let products = &db.collection::<Product>(PRODUCTS);
        let order_id = &new_id();
        self.unit
            .commit(
                envelope,
                &db,
                command.idempotency.as_ref(),
                |mut session| async move {
                    let result = place(products, &mut session, order_id, command).await;
                    (session, result)
                },
            )
            .await
    }
}

async fn place(
    products: &Collection<Product>,
    session: &mut ClientSession,
    order_id: &str,
    command: &PlaceOrder,
) -> Result<Changes<OrderView>> {
    let now = DateTime::now();
    let mut lines = Vec::with_capacity(command.lines.len());
    let mut events = Vec::with_capacity(command.lines.len() + 1);
    for line in &command.lines {
        // Atomic: the decrement only matches while enough stock is left.
        let product = products
            .find_one_and_update(
                doc! {"_id": &line.product_id, "stock": {"$gte": line.qty}},
                doc! {"$inc": {"stock": -line.qty, "version": 1}, "$set": {"updated_at": now}},
            )
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(product) = product else {
            return Err(why_not_placed(products, session, command, line).await);
        };
        lines.push(OrderLine {
            product_id: product.id.clone(),
            sku: product.sku.clone(),
            name: product.name.clone(),
            qty: line.qty,
            price_cents: product.price_cents,
            line_total_cents: product.price_cents * line.qty,
        });
        events.push(StockChanged::of(&product));
    }
    let order = Order {
        id: order_id.to_string(),
        customer: command.customer.clone(),
        total_cents: lines.iter().map(|l| l.line_total_cents).sum(),
        lines,
        status: OrderStatus::Placed,
        version: 1,
        placed_at: now,
        updated_at: now,
    };
    let view = OrderView::from(&order);
    events.push(CommerceEvent::OrderPlaced(order.clone()));
    Ok(Changes::of(view, events)?.inserting(ORDERS, &order)?)
}

/// Why `line`'s stock decrement matched nothing: the products of the order that do not exist
/// (all of them, so the client can fix the order at once), else not enough stock for `line`.
async fn why_not_placed(
    products: &Collection<Product>,
    session: &mut ClientSession,
    command: &PlaceOrder,
    line: &NewOrderLine,
) -> CommerceError {
    let ids: Vec<&str> = command
        .lines
        .iter()
        .map(|l| l.product_id.as_str())
        .collect();
    let found = async {
        products
            .clone_with_type::<Document>()
            .find(doc! {"_id": {"$in": &ids}})
            .projection(doc! {"_id": 1})
            .session(&mut *session)
            .await?
            .stream(&mut *session)
            .try_collect::<Vec<Document>>()
            .await
    }
    .await;
    let known = match found {
        Ok(known) => known,
        Err(e) => return e.into(),
    };
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !known.iter().any(|p| p.get_str("_id").ok() == Some(**id)))
        .map(|id| id.to_string())
        .collect();
    if unknown.is_empty() {
        CommerceError::InsufficientStock {
            product_id: line.product_id.clone(),
        }
    } else {
        CommerceError::UnknownProducts(unknown)
    }
}

/// `POST /v1/orders/{id}/cancel`: placed → cancelled, stock restored.
#[derive(Debug, Clone)]
pub struct CancelOrder {
    pub id: String,
    pub expected_version: Option<i64>,
}

impl Message for CancelOrder {
    const NAME: &'static str = "cancel_order";
    type Output = Committed<OrderView>;
}
impl Command for CancelOrder {}

/// `POST /v1/orders/{id}/fulfil`: placed → fulfilled.
#[derive(Debug, Clone)]
pub struct FulfilOrder {
    pub id: String,
    pub expected_version: Option<i64>,
}

impl Message for FulfilOrder {
    const NAME: &'static str = "fulfil_order";
    type Output = Committed<OrderView>;
}
impl Command for FulfilOrder {}

impl Handler<CancelOrder> for CommerceWrites {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<CancelOrder>) -> Result<Committed<OrderView>> {
        let c = envelope.message();
        self.transition(envelope, &c.id, c.expected_version, OrderStatus::Cancelled)
            .await
    }
}

impl Handler<FulfilOrder> for CommerceWrites {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<FulfilOrder>) -> Result<Committed<OrderView>> {
        let c = envelope.message();
        self.transition(envelope, &c.id, c.expected_version, OrderStatus::Fulfilled)
            .await
    }
}

impl CommerceWrites {
    async fn transition<M>(
        &self,
        envelope: &Envelope<M>,
        id: &str,
        expected_version: Option<i64>,
        to: OrderStatus,
    ) -> Result<Committed<OrderView>> {
        let db = self.db(envelope).await?;
        let (products, orders) = (
            &db.collection::<Product>(PRODUCTS),
            &db.collection::<Order>(ORDERS),
        );
        self.unit
            .commit(envelope, &db, None, |mut session| async move {
                let result =
                    transition(products, orders, &mut session, id, expected_version, to).await;
                (session, result)
            })
            .await
    }
}

async fn transition(
    products: &Collection<Product>,
    orders: &Collection<Order>,
    session: &mut ClientSession,
    id: &str,
    expected_version: Option<i64>,
    to: OrderStatus,
) -> Result<Changes<OrderView>> {
    let now = DateTime::now();
    // One round trip when the transition is allowed: the filter carries every precondition.
    let mut allowed = doc! {"_id": id, "status": OrderStatus::Placed.as_str()};
    if let Some(version) = expected_version {
        allowed.insert("version", version);
    }
    let order = orders
        .find_one_and_update(
            allowed,
            doc! {"$set": {"status": to.as_str(), "updated_at": now}, "$inc": {"version": 1}},
        )
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?;
    let Some(order) = order else {
        return Err(why_not_transitioned(orders, session, id, expected_version, to).await);
    };
    let mut events = Vec::new();
    if to == OrderStatus::Cancelled {
        for line in &order.lines {
            let restocked = products
                .find_one_and_update(
                    doc! {"_id": &line.product_id},
                    doc! {"$inc": {"stock": line.qty, "version": 1}, "$set": {"updated_at": now}},
                )
                .return_document(ReturnDocument::After)
                .session(&mut *session)
                .await?;
            // A product deleted since has no stock to restore.
            events.extend(restocked.as_ref().map(StockChanged::of));
        }
    }
    let view = OrderView::from(&order);
    events.push(if to == OrderStatus::Cancelled {
        CommerceEvent::OrderCancelled(order)
    } else {
        CommerceEvent::OrderFulfilled(order)
    });
    Ok(Changes::of(view, events)?)
}

/// Why no order matched the transition's preconditions: none with this id (404), another
/// version than `If-Match` said (412), or a state that does not allow it (409), in that order.
async fn why_not_transitioned(
    orders: &Collection<Order>,
    session: &mut ClientSession,
    id: &str,
    expected_version: Option<i64>,
    to: OrderStatus,
) -> CommerceError {
    let current = match orders.find_one(doc! {"_id": id}).session(session).await {
        Ok(Some(current)) => current,
        Ok(None) => return CommerceError::NotFound("order"),
        Err(e) => return e.into(),
    };
    if let Err(mismatch) = check_version(expected_version, current.version) {
        return mismatch.into();
    }
    CommerceError::InvalidTransition {
        from: current.status.as_str(),
        to: to.as_str(),
    }
}
