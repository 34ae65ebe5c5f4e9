//! `product_list`: every product as the list/search view needs it (with lowercase name and sku
//! for case-insensitive prefix search).

use cqrs::outbox::StoredEvent;
use cqrs::projector::{Projection, ProjectionError, ReadModels};
use futures::future::BoxFuture;
use mongodb::ClientSession;
use mongodb::bson::{Document, doc, to_document};
use tenancy::migrations::{CollectionSpec, IndexSpec};

use super::PRODUCT_LIST;
use crate::events::{
    self, PRODUCT_CREATED, PRODUCT_DELETED, PRODUCT_STOCK_CHANGED, PRODUCT_UPDATED,
};
use crate::model::Product;

static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: PRODUCT_LIST,
    indexes: &[
        IndexSpec::on(&[("name_lower", 1), ("_id", 1)]),
        IndexSpec::on(&[("sku_lower", 1), ("_id", 1)]),
        IndexSpec::on(&[("price_cents", 1), ("_id", 1)]),
    ],
}];

pub struct ProductList;

impl Projection for ProductList {
    fn name(&self) -> &'static str {
        PRODUCT_LIST
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
            let view = models.collection::<Document>(PRODUCT_LIST);
            match event.event_type.as_str() {
                PRODUCT_CREATED | PRODUCT_UPDATED => {
                    let product: Product =
                        events::payload(event).map_err(ProjectionError::Poison)?;
                    let mut row = to_document(&product)
                        .map_err(|e| ProjectionError::Poison(e.to_string()))?;
                    row.insert("name_lower", product.name.to_lowercase());
                    row.insert("sku_lower", product.sku.to_lowercase());
                    view.replace_one(doc! {"_id": &product.id}, row)
                        .upsert(true)
                        .session(session)
                        .await?;
                }
                PRODUCT_STOCK_CHANGED => {
                    let id = events::payload_id(event).map_err(ProjectionError::Poison)?;
                    let (stock, version) = match (
                        event.payload.get_i64("stock"),
                        event.payload.get_i64("version"),
                    ) {
                        (Ok(s), Ok(v)) => (s, v),
                        _ => {
                            return Err(ProjectionError::Poison(
                                "stock_changed without stock/version".into(),
                            ));
                        }
                    };
                    let updated_at = event
                        .payload
                        .get_datetime("updated_at")
                        .copied()
                        .unwrap_or(event.occurred_at);
                    let set = doc! {"$set": {"stock": stock, "version": version, "updated_at": updated_at}};
                    view.update_one(doc! {"_id": id}, set)
                        .session(session)
                        .await?;
                }
                PRODUCT_DELETED => {
                    let id = events::payload_id(event).map_err(ProjectionError::Poison)?;
                    view.delete_one(doc! {"_id": id}).session(session).await?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}
