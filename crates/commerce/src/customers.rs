//! Customers, a resource in one module: the command that creates one, the queries that read
//! them, and `customer_list`, the projection that keeps each customer with its order count and
//! total spent (fed by the order events). A new resource can start as a copy of this file.
//!
//! A customer has no write model: no later command checks anything about it, so its
//! `customer.created` event (`CustomerRecord`) is its record (a resource whose commands check
//! state, like products, keeps it in a write-model collection: see `write::products`). The
//! read model is `customer_list` (`CustomerRow`), answered as `CustomerView`. Orders name their customer by id (the id this
//! command returns), so an order placed before its customer exists is counted all the same.

use cqrs::command::{Changes, Committed, IdempotencyKey};
use cqrs::projector::{Projection, ProjectionError, Writes};
use cqrs::query::{Page, PageRequest, find_page};
use cqrs::{Command, Envelope, Handler, Invalid, Message, Query};
use mongodb::bson::{DateTime, doc};
use serde::{Deserialize, Serialize};
use tenancy::migrations::{CollectionSpec, IndexSpec};

use crate::error::{CommerceError, Result};
use crate::events::CommerceEvent;
use crate::model::new_id;
use crate::read::CommerceReads;
use crate::validate::Checks;
use crate::write::CommerceWrites;

/// The read model.
pub const CUSTOMER_LIST: &str = "customer_list";

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: CUSTOMER_LIST,
    indexes: &[IndexSpec::on(&[("name_lower", 1), ("_id", 1)])],
    validator: None,
}];

/// A customer as created (the `customer.created` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub created_at: DateTime,
}

/// A customer as the list stores it: its record, once created, and its orders' sums.
#[derive(Debug, Clone, Deserialize)]
struct CustomerRow {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    created_at: DateTime,
    #[serde(default)]
    orders: i64,
    #[serde(default)]
    spent_cents: i64,
}

/// A customer as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    /// Orders placed and not cancelled.
    pub orders: i64,
    /// The total of those orders, in cents.
    pub spent_cents: i64,
    /// Customers are not changed once created: always 1 (the `ETag`).
    pub version: i64,
    pub created_at: String,
}

impl From<&CustomerRow> for CustomerView {
    fn from(row: &CustomerRow) -> CustomerView {
        CustomerView {
            id: row.id.clone(),
            name: row.name.clone(),
            orders: row.orders,
            spent_cents: row.spent_cents,
            version: 1,
            created_at: tenancy::time::rfc3339(row.created_at),
        }
    }
}

/// `POST /v1/customers`
#[derive(Debug, Clone)]
pub struct CreateCustomer {
    pub name: String,
    pub idempotency: Option<IdempotencyKey>,
}

impl Message for CreateCustomer {
    const NAME: &'static str = "create_customer";
    type Output = Committed<CustomerView>;

    fn validate(&self) -> Result<(), Vec<Invalid>> {
        Checks::default().name("name", &self.name).finish()
    }
}
impl Command for CreateCustomer {}

impl Handler<CreateCustomer> for CommerceWrites {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<CreateCustomer>) -> Result<Committed<CustomerView>> {
        let command = envelope.message();
        let db = self.db(envelope).await?;
        let customer = &CustomerRecord {
            id: new_id(),
            name: command.name.trim().to_string(),
            created_at: DateTime::now(),
        };
        let key = command.idempotency.as_ref();
        self.unit
            .commit(envelope, &db, key, |session| async move {
                let view = CustomerView::from(&CustomerRow {
                    id: customer.id.clone(),
                    name: customer.name.clone(),
                    created_at: customer.created_at,
                    orders: 0,
                    spent_cents: 0,
                });
                let created = [CommerceEvent::CustomerCreated(customer.clone())];
                (
                    session,
                    Changes::of(view, created).map_err(CommerceError::from),
                )
            })
            .await
    }
}

/// `GET /v1/customers`: by id, or only those whose name starts with `name_prefix`
/// (case-insensitive).
#[derive(Debug, Clone)]
pub struct ListCustomers {
    pub name_prefix: Option<String>,
    pub page: PageRequest,
    pub min_position: Option<i64>,
}

impl Message for ListCustomers {
    const NAME: &'static str = "list_customers";
    type Output = Page<CustomerView>;
}
impl Query for ListCustomers {}

impl Handler<ListCustomers> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<ListCustomers>) -> Result<Page<CustomerView>> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            // Rows made by orders alone (their customer not created yet) have no name.
            let mut filter = doc! {"name": {"$exists": true}};
            if let Some(prefix) = query.name_prefix.as_deref().map(str::to_lowercase) {
                let below = format!("{prefix}\u{10FFFF}");
                filter.insert("name_lower", doc! {"$gte": &prefix, "$lt": below});
            }
            Ok(find_page(
                db.collection(CUSTOMER_LIST),
                filter,
                &query.page,
                |row: &CustomerRow| CustomerView::from(row),
                |v: &CustomerView| v.id.clone(),
            )
            .await?)
        })
        .await
    }
}

/// `GET /v1/customers/{id}`
#[derive(Debug, Clone)]
pub struct GetCustomer {
    pub id: String,
    pub min_position: Option<i64>,
}

impl Message for GetCustomer {
    const NAME: &'static str = "get_customer";
    type Output = CustomerView;
}
impl Query for GetCustomer {}

impl Handler<GetCustomer> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<GetCustomer>) -> Result<CustomerView> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            let row = db
                .collection::<CustomerRow>(CUSTOMER_LIST)
                .find_one(doc! {"_id": &query.id, "name": {"$exists": true}})
                .await?;
            row.as_ref()
                .map(CustomerView::from)
                .ok_or(CommerceError::NotFound("customer"))
        })
        .await
    }
}

/// `customer_list`: each customer with the count and total of its orders not cancelled.
pub struct CustomerList;

impl Projection for CustomerList {
    type Event = CommerceEvent;

    const NAME: &'static str = CUSTOMER_LIST;
    const READ_MODELS: &'static [CollectionSpec] = READ_MODELS;

    fn project(
        &self,
        events: &[CommerceEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError> {
        for event in events {
            let (customer, orders, spent) = match event {
                CommerceEvent::CustomerCreated(customer) => {
                    let set = doc! {"$set": {"name": &customer.name, "name_lower": customer.name.to_lowercase(), "created_at": customer.created_at}};
                    writes.upsert(CUSTOMER_LIST, customer.id.clone(), set);
                    continue;
                }
                CommerceEvent::OrderPlaced(order) => (&order.customer.id, 1_i64, order.total_cents),
                CommerceEvent::OrderCancelled(order) => {
                    (&order.customer.id, -1, -order.total_cents)
                }
                _ => continue,
            };
            let inc = doc! {"$inc": {"orders": orders, "spent_cents": spent}};
            writes.upsert(CUSTOMER_LIST, customer.clone(), inc);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cqrs::projector::Write;

    use super::*;
    use crate::model::{Customer, Order, OrderStatus};

    fn order(total: i64) -> Order {
        let customer = Customer {
            id: "c1".into(),
            name: "Ada".into(),
        };
        Order {
            id: "o".into(),
            customer,
            lines: vec![],
            total_cents: total,
            status: OrderStatus::Placed,
            version: 1,
            placed_at: DateTime::from_millis(0),
            updated_at: DateTime::from_millis(0),
        }
    }

    #[test]
    fn orders_count_and_cancellations_take_back() {
        let created = CustomerRecord {
            id: "c1".into(),
            name: "Ada L".into(),
            created_at: DateTime::from_millis(0),
        };
        let events = [
            CommerceEvent::CustomerCreated(created),
            CommerceEvent::OrderPlaced(order(500)),
            CommerceEvent::OrderCancelled(order(500)),
        ];
        let mut writes = Writes::default();
        CustomerList.project(&events, &mut writes).unwrap();
        let ops = writes.ops();
        assert_eq!(ops.len(), 3);
        let Write::Update { update, upsert, .. } = &ops[0].1 else {
            panic!("an upsert");
        };
        assert!(*upsert);
        assert_eq!(
            update.get_document("$set").unwrap().get_str("name_lower"),
            Ok("ada l")
        );
        assert_eq!(
            ops[2].1,
            Write::Update {
                id: "c1".into(),
                update: doc! {"$inc": {"orders": -1_i64, "spent_cents": -500_i64}},
                upsert: true
            }
        );
    }
}
