//! The ordered list of tenant-database migrations. To add one: append a `Migration` with the next
//! version and an `apply` function that is safe to run twice (create-if-missing).

use futures::future::BoxFuture;
use mongodb::bson::doc;
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

/// One schema step of a tenant database.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub apply: for<'a> fn(&'a Database) -> BoxFuture<'a, mongodb::error::Result<()>>,
}

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "write_model_and_outbox",
        apply: |db| Box::pin(m0001(db)),
    },
    Migration {
        version: 2,
        name: "read_models",
        apply: |db| Box::pin(m0002(db)),
    },
];

/// The schema version a fully migrated tenant has.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// MongoDB's "namespace exists" error code.
const NAMESPACE_EXISTS: i32 = 48;

async fn create_collection(db: &Database, name: &str) -> mongodb::error::Result<()> {
    match db.create_collection(name).await {
        Err(e) if matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == NAMESPACE_EXISTS) => {
            Ok(())
        }
        other => other,
    }
}

fn index(keys: mongodb::bson::Document, unique: bool) -> IndexModel {
    let options = IndexOptions::builder().unique(unique).build();
    IndexModel::builder().keys(keys).options(options).build()
}

/// The write model (products, orders), the outbox of domain events (`_id` = position), its
/// counter, and idempotency records (expired after 48 h; API.md promises at least 24 h).
async fn m0001(db: &Database) -> mongodb::error::Result<()> {
    for name in [
        "products",
        "orders",
        "outbox",
        "_counters",
        "idempotency_keys",
    ] {
        create_collection(db, name).await?;
    }
    let products = db.collection::<mongodb::bson::Document>("products");
    products.create_index(index(doc! {"sku": 1}, true)).await?;
    let keys = db.collection::<mongodb::bson::Document>("idempotency_keys");
    let ttl = IndexOptions::builder()
        .expire_after(std::time::Duration::from_secs(48 * 3600))
        .build();
    keys.create_index(
        IndexModel::builder()
            .keys(doc! {"created_at": 1})
            .options(ttl)
            .build(),
    )
    .await?;
    Ok(())
}

/// Read models (one collection per view), projection checkpoints and dead letters. Every list
/// filter and sort of the query side has an index here.
async fn m0002(db: &Database) -> mongodb::error::Result<()> {
    let views = [
        "product_list",
        "order_list",
        "sales_daily",
        "product_sales",
        "_projections",
        "_dead_letters",
    ];
    for name in views {
        create_collection(db, name).await?;
    }
    let indexes: [(&str, mongodb::bson::Document); 6] = [
        ("product_list", doc! {"name_lower": 1, "_id": 1}),
        ("product_list", doc! {"sku_lower": 1, "_id": 1}),
        ("product_list", doc! {"price_cents": 1, "_id": 1}),
        ("order_list", doc! {"status": 1, "_id": 1}),
        ("order_list", doc! {"customer_id": 1, "status": 1, "_id": 1}),
        ("product_sales", doc! {"units_sold": -1, "_id": 1}),
    ];
    for (collection, keys) in indexes {
        db.collection::<mongodb::bson::Document>(collection)
            .create_index(index(keys, false))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_strictly_increasing_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
        assert_eq!(latest_version() as usize, MIGRATIONS.len());
    }
}
