//! The commerce domain's collections, as the `commerce` migrations component: the write model
//! (`products`, `orders`) and the read models its projections declare. The CQRS library's own
//! collections come from `cqrs::schema`, before this component.

use futures::future::BoxFuture;
use mongodb::Database;
use tenancy::migrations::{CollectionSpec, Component, IndexSpec, Migration, ensure, ensure_all};

use crate::projections;
use crate::write::{ORDERS, PRODUCTS};

pub static WRITE_MODEL: &[CollectionSpec] = &[
    CollectionSpec {
        name: PRODUCTS,
        indexes: &[IndexSpec::unique(&[("sku", 1)])],
    },
    CollectionSpec {
        name: ORDERS,
        indexes: &[],
    },
];

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
