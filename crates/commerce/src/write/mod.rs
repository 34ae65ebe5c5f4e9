//! The write side: commands that change products and orders.
//!
//! Every command's work runs in `UnitOfWork::commit` (the `cqrs` crate): one MongoDB
//! transaction that claims the `Idempotency-Key`, changes the write model, appends the events
//! to the tenant's outbox and records the response — all or nothing — then nudges the
//! projector.
//!
//! To add a command: define the message (`impl Message`, `impl Command`) next to its siblings,
//! implement `Handler<YourCommand> for CommerceWrites` with one `self.unit.commit(...)` whose
//! work returns `Changes::of(value, events)` (typed `CommerceEvent`s), and call it from a route with
//! `state.commands.dispatch(envelope)`.

mod orders;
mod products;

use cqrs::Envelope;
use cqrs::command::UnitOfWork;
use tenancy::clusters::{ClusterPools, TenantDb};

pub use cqrs::command::{Committed, IdempotencyKey};
pub use orders::{CancelOrder, FulfilOrder, NewOrderLine, PlaceOrder};
pub use products::{CreateProduct, DeleteProduct, UpdateProduct};

use crate::error::Result;

pub(crate) const PRODUCTS: &str = "products";
pub(crate) const ORDERS: &str = "orders";

/// The command handlers.
#[derive(Clone)]
pub struct CommerceWrites {
    pools: ClusterPools,
    pub(crate) unit: UnitOfWork,
}

impl CommerceWrites {
    pub fn new(pools: ClusterPools, unit: UnitOfWork) -> CommerceWrites {
        CommerceWrites { pools, unit }
    }

    pub(crate) async fn db<M>(&self, envelope: &Envelope<M>) -> Result<TenantDb> {
        Ok(self.pools.tenant_db(envelope.ctx()).await?)
    }
}
