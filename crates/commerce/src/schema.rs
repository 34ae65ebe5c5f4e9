//! The commerce domain's collections, as the `commerce` migrations component: the write model
//! (`products`, `orders`) and the read models its projections declare. The CQRS library's own
//! collections come from `cqrs::schema`, before this component.
//!
//! Migrations are history: a tenant created today runs them all in order, so an early one may
//! create what a later one removes.

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
            apply: read_models,
        },
        Migration {
            version: 4,
            name: "validators",
            apply: |db| Box::pin(ensure_all(db, WRITE_MODEL)),
        },
        Migration {
            version: 5,
            name: "fewer_namespaces",
            apply: |db| Box::pin(m0005(db)),
        },
    ],
};

/// Cuts namespaces: `sales` (one projection from the start of the outbox) replaces the
/// `sales_daily` and `product_sales` projections; the `customers` collection goes (nothing read
/// it: the `customer.created` events hold every customer); `product_list` loses its price index
/// (pages go in `_id` order, which it cannot give).
fn m0005(db: &Database) -> BoxFuture<'_, mongodb::error::Result<()>> {
    Box::pin(async move {
        for retired in ["sales_daily", "product_sales"] {
            cqrs::projector::retire_projection(db, retired, &[retired]).await?;
        }
        let names = db.list_collection_names().await?;
        for name in &names {
            if name == "customers" {
                db.collection::<Document>(name).drop().await?;
            }
            let product_list = [projections::PRODUCT_LIST];
            if cqrs::read_models::parse_collection_name(name, product_list).is_some() {
                let collection = db.collection::<Document>(name);
                if collection
                    .list_index_names()
                    .await?
                    .iter()
                    .any(|i| i == PRICE_INDEX)
                {
                    collection.drop_index(PRICE_INDEX).await?;
                }
            }
        }
        read_models(db).await
    })
}

/// The index `product_list` had on `price_cents` (named as MongoDB names it).
const PRICE_INDEX: &str = "price_cents_1__id_1";

/// Every projection's read models, in the generation queries read now; then the projector
/// hears of it (a projection new to the tenant starts from its first event).
fn read_models(db: &Database) -> BoxFuture<'_, mongodb::error::Result<()>> {
    Box::pin(async move {
        let generation = cqrs::read_models::live_generation(db).await?;
        for projection in projections::all() {
            for spec in projection.read_models() {
                let physical = cqrs::read_models::collection_name(spec.name, generation);
                ensure(db, spec, &physical).await?;
            }
        }
        cqrs::read_models::announce_change(db).await
    })
}
