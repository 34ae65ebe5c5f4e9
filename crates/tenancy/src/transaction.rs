//! Running a unit of work in a MongoDB transaction on a tenant database, retried on transient
//! errors (write conflicts between concurrent transactions, elections) with jittered backoff
//! until a deadline. Past the deadline the work is abandoned with `Abandoned` — which the API
//! answers 503 with `Retry-After` — never left to fail as an internal error or to loop forever.
//!
//! The work takes the session by value and hands it back with its result, so it can be an
//! ordinary `async move` block borrowing whatever the caller has:
//!
//! ```ignore
//! let id = transaction::run(&db, |mut session| async move {
//!     let result = insert_things(db.database(), &mut session, &input).await;
//!     (session, result)
//! }).await?;
//! ```
//!
//! Sessions come from `TenantDb::start_session`, so their ids are recorded for the fleet: if
//! this process dies inside a transaction, a survivor ends it instead of it holding documents
//! until the database's own timeout. Commits are acknowledged by a majority, journaled.

use std::future::Future;
use std::time::{Duration, Instant};

use mongodb::ClientSession;
use mongodb::error::{
    Error, ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use mongodb::options::{Acknowledgment, ReadConcern, TransactionOptions, WriteConcern};

use crate::clusters::TenantDb;
use crate::fleet::InTransaction;

/// How long a unit of work keeps retrying transient conflicts.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// The longest a commit may take on the server.
const MAX_COMMIT_TIME: Duration = Duration::from_secs(5);

/// A transaction given up after its deadline.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Abandoned {
    /// It kept conflicting with other transactions (or the database kept failing transiently).
    #[error("transaction still conflicting after {attempts} attempts in {elapsed:?}")]
    Busy { attempts: u32, elapsed: Duration },
    /// The commit's outcome stayed unknown (the server did not confirm it either way).
    #[error("transaction commit outcome unknown after {elapsed:?}")]
    CommitUnknown { elapsed: Duration },
    /// The database did not answer before the deadline (a stalled or unreachable server): the
    /// attempt was dropped, and the server ends its transaction (the driver aborts it, or it
    /// expires).
    #[error("the database did not answer within {elapsed:?}")]
    Stalled { elapsed: Duration },
    /// It never started: the tenant's earlier commands took the whole deadline.
    #[error("still waiting for the tenant's earlier commands after {elapsed:?}")]
    Queued { elapsed: Duration },
}

/// An error type that may wrap a driver error (to tell transient conflicts apart).
pub trait DriverError {
    fn driver_error(&self) -> Option<&Error>;
}

impl DriverError for Error {
    fn driver_error(&self) -> Option<&Error> {
        Some(self)
    }
}

/// MongoDB's `WriteConflict`: inside a transaction, the transaction must start again.
const WRITE_CONFLICT: i32 = 112;

/// Whether `e` is a transient transaction error (a conflict, an election): worth a retry.
pub fn is_transient<E: DriverError>(e: &E) -> bool {
    e.driver_error()
        .is_some_and(|d| d.contains_label(TRANSIENT_TRANSACTION_ERROR) || conflict_in_bulk(d))
}

/// A write conflict reported for one write of a `bulkWrite`: some servers (SecantusDB) report it
/// there, without the transient label it carries elsewhere.
fn conflict_in_bulk(e: &Error) -> bool {
    matches!(e.kind.as_ref(), ErrorKind::BulkWrite(b)
        if b.write_errors.values().any(|w| w.code == WRITE_CONFLICT))
}

pub async fn run<T, E, F, Fut>(db: &TenantDb, work: F) -> Result<T, E>
where
    F: FnMut(ClientSession) -> Fut,
    Fut: Future<Output = (ClientSession, Result<T, E>)>,
    E: From<Error> + From<Abandoned> + DriverError,
{
    run_since(db, Instant::now(), work).await
}

/// `run` with the deadline counted from `started`: time the caller spent waiting for its turn
/// is part of the request's budget.
pub async fn run_since<T, E, F, Fut>(db: &TenantDb, started: Instant, mut work: F) -> Result<T, E>
where
    F: FnMut(ClientSession) -> Fut,
    Fut: Future<Output = (ClientSession, Result<T, E>)>,
    E: From<Error> + From<Abandoned> + DriverError,
{
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        // The whole attempt runs under the deadline: the driver has no socket timeout, so an
        // operation on a stalled server would otherwise wait for as long as the server stalls.
        let remaining = DEADLINE.saturating_sub(started.elapsed());
        let attempt_once = async {
            let (session, _busy) = begin(db).await?;
            let (mut session, result) = work(session).await;
            match result {
                Ok(value) => commit(&mut session, started).await.map(|()| value),
                Err(e) => {
                    // Best effort: the server aborts it anyway when the session ends.
                    let _ = session.abort_transaction().await;
                    Err(e)
                }
            }
        };
        let Ok(outcome) = tokio::time::timeout(remaining, attempt_once).await else {
            metrics::counter!("tenantry_transactions_abandoned_total").increment(1);
            return Err(Abandoned::Stalled {
                elapsed: started.elapsed(),
            }
            .into());
        };
        match outcome {
            Err(e) if is_transient(&e) => {
                if started.elapsed() >= DEADLINE {
                    metrics::counter!("tenantry_transactions_abandoned_total").increment(1);
                    return Err(Abandoned::Busy {
                        attempts: attempt,
                        elapsed: started.elapsed(),
                    }
                    .into());
                }
                metrics::counter!("tenantry_transaction_retries_total").increment(1);
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => {
                if attempt > 1 {
                    tracing::debug!(attempt, "transaction retried");
                }
                return other;
            }
        }
    }
}

/// Runs `op` again after a transient error (a write conflict, an election) with the same
/// backoff as `run`, until `DEADLINE`: for work that must be safe to repeat, such as a
/// transaction of its own on a database that is not a tenant's (the catalog) or a write that
/// SecantusDB may also fail with a write conflict outside a transaction.
pub async fn retry<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: DriverError,
{
    let started = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        match op().await {
            Err(e) if is_transient(&e) && started.elapsed() < DEADLINE => {
                metrics::counter!("tenantry_transaction_retries_total").increment(1);
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

/// A session with a transaction started on `db`, and the mark that it is inside one (keep it
/// until the transaction ends).
pub async fn begin(db: &TenantDb) -> Result<(ClientSession, InTransaction), Error> {
    let mut session = db.start_session().await?;
    let busy = db.in_transaction(&session);
    session.start_transaction().with_options(options()).await?;
    Ok((session, busy))
}

fn options() -> TransactionOptions {
    TransactionOptions::builder()
        .read_concern(ReadConcern::snapshot())
        .write_concern(
            WriteConcern::builder()
                .w(Acknowledgment::Majority)
                .journal(true)
                .build(),
        )
        .max_commit_time(MAX_COMMIT_TIME)
        .build()
}

/// Commits, retrying while the outcome is unknown, until the deadline.
pub async fn commit<E>(session: &mut ClientSession, started: Instant) -> Result<(), E>
where
    E: From<Error> + From<Abandoned>,
{
    loop {
        match session.commit_transaction().await {
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => {
                if started.elapsed() >= DEADLINE {
                    return Err(Abandoned::CommitUnknown {
                        elapsed: started.elapsed(),
                    }
                    .into());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other.map_err(E::from),
        }
    }
}

/// Exponential backoff, capped at 25 ms, with jitter so conflicting retries spread out.
pub fn backoff(attempt: u32) -> Duration {
    let cap_micros = (250u64 << attempt.min(7)).min(25_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_micros(u64::from(nanos) % cap_micros + 100)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_is_bounded() {
        for attempt in 1..100 {
            assert!(backoff(attempt).as_micros() <= 25_100);
        }
    }
}
