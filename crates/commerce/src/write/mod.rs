//! The write side: commands that change products and orders.
//!
//! Every command runs in one MongoDB transaction that changes the write model, appends its events
//! to the tenant's outbox and (for creating commands with an `Idempotency-Key`) records the
//! response — all or nothing. After commit the projector is nudged.
//!
//! To add a command: define the message (`impl Message`, `impl Command`) next to its siblings,
//! implement `Handler<YourCommand> for CommerceWrites` using `self.commit(...)`, and call it from
//! a route with `state.commands.dispatch(envelope)`.

mod idempotency;
mod orders;
mod products;

use std::future::Future;

use cqrs::outbox::{self, NewEvent};
use cqrs::projector::Projector;
use cqrs::{Envelope, transaction};
use mongodb::ClientSession;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tenancy::clusters::{ClusterPools, TenantDb};

pub use idempotency::IdempotencyKey;
pub use orders::{CancelOrder, FulfilOrder, NewOrderLine, PlaceOrder};
pub use products::{CreateProduct, DeleteProduct, UpdateProduct};

use crate::error::{CommerceError, Result};

/// What a command did: its result and the position of the last event it appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed<T> {
    pub value: T,
    pub position: i64,
    /// True when this is the recorded response of an earlier request with the same key.
    pub replayed: bool,
}

/// The command handlers.
#[derive(Clone)]
pub struct CommerceWrites {
    pools: ClusterPools,
    projector: Projector,
}

impl CommerceWrites {
    pub fn new(pools: ClusterPools, projector: Projector) -> CommerceWrites {
        CommerceWrites { pools, projector }
    }

    async fn db<M>(&self, envelope: &Envelope<M>) -> Result<TenantDb> {
        Ok(self.pools.tenant_db(envelope.ctx()).await?)
    }

    /// Runs `work` (write-model changes returning the result and its events) in a transaction:
    /// claim the idempotency key, `work`, append the events, record the response.
    /// `work` borrows only (it is `Copy`), so each retry of the transaction runs it afresh.
    async fn commit<M, T, F, Fut>(
        &self,
        envelope: &Envelope<M>,
        db: &TenantDb,
        key: Option<&IdempotencyKey>,
        work: F,
    ) -> Result<Committed<T>>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(ClientSession) -> Fut + Copy,
        Fut: Future<Output = (ClientSession, Result<(T, Vec<NewEvent>)>)>,
    {
        let database = db.database();
        let result = transaction::run(db.client(), |mut session| {
            let claimed = async move {
                if let Some(key) = key
                    && let Err(e) = idempotency::claim(database, &mut session, key).await
                {
                    return (session, Err(e));
                }
                (session, Ok(()))
            };
            async move {
                let (session, claimed) = claimed.await;
                let (session, changed) = match claimed {
                    Ok(()) => work(session).await,
                    Err(e) => (session, Err(e)),
                };
                let mut session = session;
                let committed = async {
                    let (value, events) = changed?;
                    let position =
                        outbox::append(database, &mut session, envelope, &events).await?;
                    if let Some(key) = key {
                        idempotency::complete(database, &mut session, key, &value, position)
                            .await?;
                    }
                    Ok(Committed {
                        value,
                        position,
                        replayed: false,
                    })
                }
                .await;
                (session, committed)
            }
        })
        .await;
        match result {
            Ok(committed) => {
                self.projector.nudge(envelope.ctx().tenant());
                Ok(committed)
            }
            Err(CommerceError::IdempotencyRace) => {
                idempotency::replay_after_race(database, key).await
            }
            Err(e) => Err(e),
        }
    }
}

/// `If-Match` check shared by every update: `Err` when the client's version is not current.
fn check_version(expected: Option<i64>, current: i64) -> Result<()> {
    match expected {
        Some(v) if v != current => Err(CommerceError::VersionMismatch { current }),
        _ => Ok(()),
    }
}
