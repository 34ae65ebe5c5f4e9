//! Product queries, from the `product_list` read model.

use cqrs::{Envelope, Handler, Invalid, Message, Query};
use mongodb::bson::{Document, doc};

use cqrs::query::find_page;

use super::{CommerceReads, Page, PageRequest};
use crate::error::{CommerceError, Result};
use crate::model::{Product, ProductView};
use crate::projections::PRODUCT_LIST;

/// `GET /v1/products`: `q` is a case-insensitive literal prefix of the name or the sku.
#[derive(Debug, Clone, Default)]
pub struct ListProducts {
    pub q: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub page: PageRequest,
    pub min_position: Option<i64>,
}

impl Message for ListProducts {
    const NAME: &'static str = "list_products";
    type Output = Page<ProductView>;

    fn validate(&self) -> Result<(), Vec<Invalid>> {
        match (self.min_price, self.max_price) {
            (Some(min), Some(max)) if min > max => Err(vec![Invalid::new(
                "max_price",
                "must not be below min_price",
            )]),
            _ => Ok(()),
        }
    }
}
impl Query for ListProducts {}

/// The range of lowercase strings starting with `prefix` (a literal, never a regex).
fn prefix_range(prefix: &str) -> Document {
    doc! {"$gte": prefix, "$lt": format!("{prefix}\u{10FFFF}")}
}

impl Handler<ListProducts> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<ListProducts>) -> Result<Page<ProductView>> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            let mut filter = Document::new();
            if let Some(q) = query
                .q
                .as_deref()
                .map(str::to_lowercase)
                .filter(|q| !q.is_empty())
            {
                filter.insert(
                    "$or",
                    vec![
                        doc! {"name_lower": prefix_range(&q)},
                        doc! {"sku_lower": prefix_range(&q)},
                    ],
                );
            }
            let mut price = Document::new();
            if let Some(min) = query.min_price {
                price.insert("$gte", min);
            }
            if let Some(max) = query.max_price {
                price.insert("$lte", max);
            }
            if !price.is_empty() {
                filter.insert("price_cents", price);
            }
            Ok(find_page(
                db.collection(PRODUCT_LIST),
                filter,
                &query.page,
                |p: &Product| ProductView::from(p),
                |v: &ProductView| v.id.clone(),
            )
            .await?)
        })
        .await
    }
}

/// `GET /v1/products/{id}`
#[derive(Debug, Clone)]
pub struct GetProduct {
    pub id: String,
    pub min_position: Option<i64>,
}

impl Message for GetProduct {
    const NAME: &'static str = "get_product";
    type Output = ProductView;
}
impl Query for GetProduct {}

impl Handler<GetProduct> for CommerceReads {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<GetProduct>) -> Result<ProductView> {
        let query = envelope.message();
        self.read(envelope, query.min_position, |db| async move {
            let product = db
                .collection::<Product>(PRODUCT_LIST)
                .find_one(doc! {"_id": &query.id})
                .await?;
            product
                .as_ref()
                .map(ProductView::from)
                .ok_or(CommerceError::NotFound("product"))
        })
        .await
    }
}
