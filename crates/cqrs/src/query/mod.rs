//! The read side's door to read models: `Reads::read` runs a query on a `ReadDb`, after waiting
//! for `X-Min-Position` if the query has one, and holds a slot of the tenant's concurrency
//! budget while it runs. A `ReadDb` names read models by their logical name in one generation.

mod page;

use std::sync::Arc;
use std::time::Duration;

use mongodb::options::{DatabaseOptions, SelectionCriteria};
use mongodb::{Collection, Database};
use tenancy::TenancyError;
use tenancy::clusters::ClusterPools;

pub use page::{Page, PageRequest, find_page};

use crate::Envelope;
use crate::projector::wait_for_position;
use crate::read_models::{Generation, ReadModelCache, collection_name};

/// Why a query could not read.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("the read models have not reached position {0} yet")]
    ProjectionLagging(i64),
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
}

impl tenancy::moves::Relocatable for QueryError {
    fn stopped(&self) -> Option<tenancy::moves::Stopped> {
        matches!(self, QueryError::ProjectionLagging(_)).then_some(tenancy::moves::Stopped::Lagging)
    }
}

impl From<Arc<mongodb::error::Error>> for QueryError {
    fn from(e: Arc<mongodb::error::Error>) -> Self {
        QueryError::Database((*e).clone())
    }
}

/// The tenant's read models in one generation, as one query reads them. `Reads::read` holds
/// the tenant's budget slot while the query runs.
#[derive(Clone)]
pub struct ReadDb {
    db: Database,
    generation: Generation,
}

impl ReadDb {
    /// The collection behind `read_model` in the generation this query reads.
    pub fn collection<T: Send + Sync>(&self, read_model: &str) -> Collection<T> {
        self.db
            .collection(&collection_name(read_model, self.generation))
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }
}

/// The read side's shared machinery.
#[derive(Clone)]
pub struct Reads {
    pools: ClusterPools,
    projections: Arc<[&'static str]>,
    read_preference: Option<SelectionCriteria>,
    max_wait: Duration,
    generations: ReadModelCache,
}

impl Reads {
    pub fn new(
        pools: ClusterPools,
        projections: Vec<&'static str>,
        read_preference: Option<SelectionCriteria>,
        max_wait: Duration,
        generations: ReadModelCache,
    ) -> Reads {
        Reads {
            pools,
            projections: projections.into(),
            read_preference,
            max_wait,
            generations,
        }
    }

    /// Runs `query` on the read models: after waiting for `min_position` if given (then reading
    /// from the primary), otherwise with the configured read preference (possibly stale).
    ///
    /// Where the tenant's live generation is not cached, `query` runs on the likeliest one
    /// while the pointer is read, and again only if the pointer names another: a first request
    /// waits for one round trip, not two. `query` only reads, so a run on the wrong generation
    /// is simply dropped.
    pub async fn read<M, T, E, Q, F>(
        &self,
        envelope: &Envelope<M>,
        min_position: Option<i64>,
        query: Q,
    ) -> Result<T, E>
    where
        Q: Fn(ReadDb) -> F,
        F: Future<Output = Result<T, E>>,
        E: From<QueryError>,
    {
        tenancy::failpoint::hit("query.read_db");
        let slot = self
            .pools
            .tenant_db(envelope.ctx())
            .await
            .map_err(QueryError::from)?;
        if let Some(position) = min_position {
            let reached =
                wait_for_position(slot.database(), &self.projections, position, self.max_wait)
                    .await
                    .map_err(QueryError::from)?;
            let Some(generation) = reached else {
                return Err(QueryError::ProjectionLagging(position).into());
            };
            let db = slot.database().clone();
            return query(ReadDb { db, generation }).await;
        }
        let db = match &self.read_preference {
            None => slot.database().clone(),
            Some(preference) => {
                let options = DatabaseOptions::builder()
                    .selection_criteria(preference.clone())
                    .build();
                slot.client()
                    .database_with_options(slot.database().name(), options)
            }
        };
        if let Some(generation) = self.generations.cached(slot.key()).await {
            return query(ReadDb { db, generation }).await;
        }
        let guess = self.generations.likeliest();
        let (live, speculative) = futures::join!(
            self.generations.generation(slot.key(), slot.database()),
            query(ReadDb {
                db: db.clone(),
                generation: guess,
            })
        );
        let generation = live.map_err(QueryError::from)?;
        if generation == guess {
            return speculative;
        }
        query(ReadDb { db, generation }).await
    }
}
