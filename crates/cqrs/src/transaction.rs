//! Running a unit of work in a MongoDB transaction, retried on transient errors (write
//! conflicts between concurrent commands, elections) with jittered backoff until a deadline.
//!
//! The work takes the session by value and hands it back with its result, so it can be an
//! ordinary `async move` block borrowing whatever the caller has:
//!
//! ```ignore
//! let id = transaction::run(&client, |mut session| async move {
//!     let result = insert_things(&db, &mut session, &input).await;
//!     (session, result)
//! }).await?;
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use mongodb::error::{Error, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::{Acknowledgment, ReadConcern, TransactionOptions, WriteConcern};
use mongodb::{Client, ClientSession};

/// How long a unit of work keeps retrying transient conflicts.
const DEADLINE: Duration = Duration::from_secs(10);

/// An error type that may wrap a driver error (to tell transient conflicts apart).
pub trait DriverError {
    fn driver_error(&self) -> Option<&Error>;
}

impl DriverError for Error {
    fn driver_error(&self) -> Option<&Error> {
        Some(self)
    }
}

fn is_transient<E: DriverError>(e: &E) -> bool {
    e.driver_error()
        .is_some_and(|d| d.contains_label(TRANSIENT_TRANSACTION_ERROR))
}

pub async fn run<T, E, F, Fut>(client: &Client, mut work: F) -> Result<T, E>
where
    F: FnMut(ClientSession) -> Fut,
    Fut: Future<Output = (ClientSession, Result<T, E>)>,
    E: From<Error> + DriverError,
{
    let started = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let mut session = client.start_session().await?;
        session.start_transaction().with_options(options()).await?;
        let (mut session, result) = work(session).await;
        let outcome = match result {
            Ok(value) => commit(&mut session).await.map(|()| value).map_err(E::from),
            Err(e) => {
                // Best effort: the server aborts it anyway when the session ends.
                let _ = session.abort_transaction().await;
                Err(e)
            }
        };
        match outcome {
            Err(e) if is_transient(&e) && started.elapsed() < DEADLINE => {
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

fn options() -> TransactionOptions {
    TransactionOptions::builder()
        .read_concern(ReadConcern::snapshot())
        .write_concern(WriteConcern::builder().w(Acknowledgment::Majority).build())
        .build()
}

async fn commit(session: &mut ClientSession) -> Result<(), Error> {
    loop {
        match session.commit_transaction().await {
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => continue,
            other => return other,
        }
    }
}

/// Exponential backoff, capped at 25 ms, with jitter so conflicting retries spread out.
fn backoff(attempt: u32) -> Duration {
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
