//! The commerce domain's collections, as the `commerce` migrations component: the write model
//! (`products`, `orders`) and the read models its projections declare. The CQRS library's own
//! collections come from `cqrs::schema`, before this component.

use futures::future::BoxFuture;
use mongodb::Database;
use mongodb::bson::{Document, doc};
use tenancy::migrations::{CollectionSpec, Component, IndexSpec, Migration, ensure, ensure_all};

use crate::projections;
use crate::write::{ORDERS, PRODUCTS};

pub static WRITE_MODEL: &[CollectionSpec] = &[
    CollectionSpec {
        name: PRODUCTS,
        indexes: &[IndexSpec::unique(&[("sku", 1)])],
        validator: Some(product_schema),
    },
    CollectionSpec {
        name: ORDERS,
        indexes: &[],
        validator: Some(order_schema),
    },
];

/// A product (`model::Product`): prices and stock never negative, whatever writes it.
fn product_schema() -> Document {
    doc! {
        "bsonType": "object",
        "required": ["_id", "sku", "name", "price_cents", "stock", "version", "created_at", "updated_at"],
        "properties": {
            "_id": {"bsonType": "string"},
            "sku": {"bsonType": "string", "minLength": 1, "maxLength": 64},
            "name": {"bsonType": "string", "minLength": 1},
            "price_cents": {"bsonType": "long", "minimum": 0_i64},
            "stock": {"bsonType": "long", "minimum": 0_i64},
            "version": {"bsonType": "long", "minimum": 1_i64},
            "created_at": {"bsonType": "date"},
            "updated_at": {"bsonType": "date"},
        },
    }
}

/// An order (`model::Order`).
fn order_schema() -> Document {
    doc! {
        "bsonType": "object",
        "required": ["_id", "customer", "lines", "total_cents", "status", "version", "placed_at"],
        "properties": {
            "_id": {"bsonType": "string"},
            "customer": {"bsonType": "object", "required": ["id", "name"]},
            "lines": {"bsonType": "array", "minItems": 1},
            "total_cents": {"bsonType": "long", "minimum": 0_i64},
            "status": {"enum": ["placed", "cancelled", "fulfilled"]},
            "version": {"bsonType": "long", "minimum": 1_i64},
            "placed_at": {"bsonType": "date"},
        },
    }
}

pub static COMPONENT: Component = Component {
    name: "commerce",
    migrations: &[
        Migration {
            version: 1,
            name: "write_model",
            apply: |db| Box::pin(ensure_all(db, WRITE_MODEL)),
        },
        Migration {
            version: 2,
            name: "read_models",
            apply: read_models,
        },
        Migration {
            version: 3,
            name: "customers",
            apply: |db| {
                Box::pin(async move {
                    ensure_all(db, crate::customers::WRITE_MODEL).await?;
                    read_models(db).await
                })
            },
        },
        Migration {
            version: 4,
            name: "validators",
            apply: |db| Box::pin(ensure_all(db, WRITE_MODEL)),
        },
    ],
};

/// Every projection's read models, in the generation queries read now.
fn read_models(db: &Database) -> BoxFuture<'_, mongodb::error::Result<()>> {
    Box::pin(async move {
        let generation = cqrs::read_models::live_generation(db).await?;
        for projection in projections::all() {
            for spec in projection.read_models() {
                let physical = cqrs::read_models::collection_name(spec.name, generation);
                ensure(db, spec, &physical).await?;
            }
        }
        Ok(())
    })
}
