//! Product commands: create, update (`If-Match`), delete.

use cqrs::{Command, Envelope, Handler, Invalid, Message};
use mongodb::bson::{DateTime, doc};
use mongodb::options::ReturnDocument;

use cqrs::command::{Changes, Committed, IdempotencyKey, check_version};

use super::{CommerceWrites, PRODUCTS};
use crate::error::{CommerceError, Result};
use crate::events::{CommerceEvent, Deleted};
use crate::model::{Product, ProductView, new_id};
use crate::validate::Checks;
use tenancy::is_duplicate_key;

/// `POST /v1/products`
#[derive(Debug, Clone)]
pub struct CreateProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
    pub idempotency: Option<IdempotencyKey>,
}

impl Message for CreateProduct {
    const NAME: &'static str = "create_product";
    type Output = Committed<ProductView>;

    fn validate(&self) -> Result<(), Vec<Invalid>> {
        Checks::default()
            .sku(&self.sku)
            .name("name", &self.name)
            .price(self.price_cents)
            .stock(self.stock)
            .finish()
    }
}
impl Command for CreateProduct {}

impl Handler<CreateProduct> for CommerceWrites {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<CreateProduct>) -> Result<Committed<ProductView>> {
        let command = envelope.message();
        let db = self.db(envelope).await?;
        let now = DateTime::now();
        let product = &Product {
            id: new_id(),
            sku: command.sku.clone(),
            name: command.name.trim().to_string(),
            price_cents: command.price_cents,
            stock: command.stock,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let products = &db.collection::<Product>(PRODUCTS);
        self.unit
            .commit(
                envelope,
                &db,
                command.idempotency.as_ref(),
                |mut session| async move {
                    let result = async {
                        match products.insert_one(product).session(&mut session).await {
                            Err(e) if is_duplicate_key(&e) => {
                                return Err(CommerceError::SkuTaken(product.sku.clone()));
                            }
                            other => other?,
                        };
                        Ok(Changes::of(
                            ProductView::from(product),
                            [CommerceEvent::ProductCreated(product.clone())],
                        )?)
                    }
                    .await;
                    (session, result)
                },
            )
            .await
    }
}

/// `PATCH /v1/products/{id}`: any of name, price, stock.
#[derive(Debug, Clone, Default)]
pub struct UpdateProduct {
    pub id: String,
    pub name: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i64>,
    pub expected_version: Option<i64>,
}

impl Message for UpdateProduct {
    const NAME: &'static str = "update_product";
    type Output = Committed<ProductView>;

    fn validate(&self) -> Result<(), Vec<Invalid>> {
        let mut checks = Checks::default();
        let any = self.name.is_some() || self.price_cents.is_some() || self.stock.is_some();
        checks.check(any, "$", "give at least one of name, price_cents, stock");
        if let Some(name) = &self.name {
            checks.name("name", name);
        }
        if let Some(price) = self.price_cents {
            checks.price(price);
        }
        if let Some(stock) = self.stock {
            checks.stock(stock);
        }
        checks.finish()
    }
}
impl Command for UpdateProduct {}

impl Handler<UpdateProduct> for CommerceWrites {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<UpdateProduct>) -> Result<Committed<ProductView>> {
        let command = envelope.message();
        let db = self.db(envelope).await?;
        let mut set = doc! {"updated_at": DateTime::now()};
        if let Some(name) = &command.name {
            set.insert("name", name.trim());
        }
        if let Some(price) = command.price_cents {
            set.insert("price_cents", price);
        }
        if let Some(stock) = command.stock {
            set.insert("stock", stock);
        }
        let (set, products) = (&set, &db.collection::<Product>(PRODUCTS));
        self.unit
            .commit(envelope, &db, None, |mut session| async move {
                let result = async {
                    let current = find(products, &mut session, &command.id).await?;
                    check_version(command.expected_version, current.version)?;
                    let updated = products
                        .find_one_and_update(
                            doc! {"_id": &command.id, "version": current.version},
                            doc! {"$set": set.clone(), "$inc": {"version": 1}},
                        )
                        .return_document(ReturnDocument::After)
                        .session(&mut session)
                        .await?
                        .ok_or(CommerceError::NotFound("product"))?;
                    let view = ProductView::from(&updated);
                    Ok(Changes::of(view, [CommerceEvent::ProductUpdated(updated)])?)
                }
                .await;
                (session, result)
            })
            .await
    }
}

/// `DELETE /v1/products/{id}` (admin).
#[derive(Debug, Clone)]
pub struct DeleteProduct {
    pub id: String,
    pub expected_version: Option<i64>,
}

impl Message for DeleteProduct {
    const NAME: &'static str = "delete_product";
    type Output = Committed<()>;
}
impl Command for DeleteProduct {}

impl Handler<DeleteProduct> for CommerceWrites {
    type Error = CommerceError;

    async fn handle(&self, envelope: &Envelope<DeleteProduct>) -> Result<Committed<()>> {
        let command = envelope.message();
        let db = self.db(envelope).await?;
        let products = &db.collection::<Product>(PRODUCTS);
        self.unit
            .commit(envelope, &db, None, |mut session| async move {
                let result = async {
                    let current = find(products, &mut session, &command.id).await?;
                    check_version(command.expected_version, current.version)?;
                    products
                        .delete_one(doc! {"_id": &command.id})
                        .session(&mut session)
                        .await?;
                    let deleted = Deleted {
                        id: command.id.clone(),
                    };
                    Ok(Changes::of((), [CommerceEvent::ProductDeleted(deleted)])?)
                }
                .await;
                (session, result)
            })
            .await
    }
}

async fn find(
    products: &mongodb::Collection<Product>,
    session: &mut mongodb::ClientSession,
    id: &str,
) -> Result<Product> {
    products
        .find_one(doc! {"_id": id})
        .session(session)
        .await?
        .ok_or(CommerceError::NotFound("product"))
}
