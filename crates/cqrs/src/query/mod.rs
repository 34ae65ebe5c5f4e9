//! The read side's door to read models: `Reads::read_db` gives a `ReadDb` for one query, after
//! waiting for `X-Min-Position` if the query has one. The handle holds a slot of the tenant's
//! concurrency budget for as long as it lives (a query cannot drop the slot and keep reading)
//! and names read models by their logical name, resolving the live generation.

mod page;

use std::sync::Arc;
use std::time::Duration;

use mongodb::options::{DatabaseOptions, SelectionCriteria};
use mongodb::{Collection, Database};
use tenancy::TenancyError;
use tenancy::clusters::{ClusterPools, TenantDb};

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

/// One query's handle on the tenant's read models.
pub struct ReadDb {
    _slot: TenantDb,
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

    /// The read models for a query: after waiting for `min_position` if given (then reading
    /// from the primary), otherwise with the configured read preference (possibly stale).
    pub async fn read_db<M>(
        &self,
        envelope: &Envelope<M>,
        min_position: Option<i64>,
    ) -> Result<ReadDb, QueryError> {
        tenancy::failpoint::hit("query.read_db");
        let slot = self.pools.tenant_db(envelope.ctx()).await?;
        let (db, generation) = match min_position {
            Some(position) => {
                let reached =
                    wait_for_position(slot.database(), &self.projections, position, self.max_wait)
                        .await?;
                let Some(generation) = reached else {
                    return Err(QueryError::ProjectionLagging(position));
                };
                (slot.database().clone(), generation)
            }
            None => {
                let generation = self
                    .generations
                    .generation(slot.key(), slot.database())
                    .await?;
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
                (db, generation)
            }
        };
        Ok(ReadDb {
            _slot: slot,
            db,
            generation,
        })
    }
}
