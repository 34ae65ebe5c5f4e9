//! Order queries, from the `order_list` read model.

use cqrs::{Envelope, Handler, Message, Query};
use mongodb::bson::{Document, doc};

use cqrs::query::find_page;

use super::{CommerceReads, Page, PageRequest};
use crate::error::{CommerceError, Result};
use crate::model::{Order, OrderStatus, OrderView};
use crate::projections::ORDER_LIST;

/// `GET /v1/orders`
#[derive(Debug, Clone, Default)]
pub struct ListOrders {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<String>,
    pub page: PageRequest,
    pub min_position: Option<i64>,
}

impl Message for ListOrders {
    const NAME: &'static str = "list_orders";
    type Output = Page<OrderView>;
}
impl Query for ListOrders {}

impl Handler<ListOrders> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<ListOrders>) -> Result<Page<OrderView>> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            let mut filter = Document::new();
            if let Some(customer) = &query.customer_id {
                filter.insert("customer_id", customer);
            }
            if let Some(status) = query.status {
                filter.insert("status", status.as_str());
            }
            Ok(find_page(
                db.collection(ORDER_LIST),
                filter,
                &query.page,
                |o: &Order| OrderView::from(o),
                |v: &OrderView| v.id.clone(),
            )
            .await?)
        })
        .await
    }
}

/// `GET /v1/orders/{id}`
#[derive(Debug, Clone)]
pub struct GetOrder {
    pub id: String,
    pub min_position: Option<i64>,
}

impl Message for GetOrder {
    const NAME: &'static str = "get_order";
    type Output = OrderView;
}
impl Query for GetOrder {}

impl Handler<GetOrder> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<GetOrder>) -> Result<OrderView> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            let order = db
                .collection::<Order>(ORDER_LIST)
                .find_one(doc! {"_id": &query.id})
                .await?;
            order
                .as_ref()
                .map(OrderView::from)
                .ok_or(CommerceError::NotFound("order"))
        })
        .await
    }
}
