//! `product_list`: every product as the list/search view needs it (with lowercase name and sku
//! for case-insensitive prefix search).

use cqrs::projector::{Projection, ProjectionError, Writes};
use mongodb::bson::{doc, to_document};
use tenancy::migrations::{CollectionSpec, IndexSpec};

use super::PRODUCT_LIST;
use crate::events::CommerceEvent;
use crate::model::Product;

/// Search by name or sku prefix is indexed; the price filter is not: pages go in `_id` order,
/// which a price index cannot give, so the `_id` index serves it.
static READ_MODELS: &[CollectionSpec] = &[CollectionSpec {
    name: PRODUCT_LIST,
    indexes: &[
        IndexSpec::on(&[("name_lower", 1), ("_id", 1)]),
        IndexSpec::on(&[("sku_lower", 1), ("_id", 1)]),
    ],
    validator: None,
}];

pub struct ProductList;

impl Projection for ProductList {
    type Event = CommerceEvent;

    const NAME: &'static str = PRODUCT_LIST;
    const READ_MODELS: &'static [CollectionSpec] = READ_MODELS;

    fn project(
        &self,
        events: &[CommerceEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError> {
        for event in events {
            match event {
                CommerceEvent::ProductCreated(product) | CommerceEvent::ProductUpdated(product) => {
                    writes.put(PRODUCT_LIST, product.id.clone(), row(product)?);
                }
                CommerceEvent::StockChanged(change) => {
                    let set = doc! {"$set": {"stock": change.stock, "version": change.version, "updated_at": change.updated_at}};
                    writes.update(PRODUCT_LIST, change.id.clone(), set);
                }
                CommerceEvent::ProductDeleted(deleted) => {
                    writes.delete(PRODUCT_LIST, deleted.id.clone())
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A product as the list stores it: with lowercase name and sku for prefix search.
fn row(product: &Product) -> Result<mongodb::bson::Document, ProjectionError> {
    let mut row = to_document(product)?;
    row.insert("name_lower", product.name.to_lowercase());
    row.insert("sku_lower", product.sku.to_lowercase());
    Ok(row)
}
