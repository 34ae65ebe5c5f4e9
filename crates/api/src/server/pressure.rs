//! Connection pressure, as the accept loop sees it: evictions, refusals and accept errors,
//! counted in metrics and logged at most once per interval (an attack makes thousands a second;
//! the log gets one line with the count). Also the backoff after an accept error such as
//! `EMFILE`, so the loop never spins on a listener that cannot accept.

use std::time::{Duration, Instant};

const LOG_INTERVAL: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Counts one kind of event and says when it is time to log how many happened.
#[derive(Debug)]
struct Throttle {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl Throttle {
    const fn new() -> Throttle {
        Throttle {
            last_logged: None,
            unlogged: 0,
        }
    }

    /// Counts an event; returns how many to report when a log line is due.
    fn note(&mut self) -> Option<u64> {
        self.unlogged += 1;
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= LOG_INTERVAL);
        due.then(|| {
            self.last_logged = Some(Instant::now());
            std::mem::take(&mut self.unlogged)
        })
    }
}

/// Owned by the accept loop (a single task: no locking).
#[derive(Debug)]
pub struct Pressure {
    limit: usize,
    evictions: Throttle,
    refusals: Throttle,
    accept_errors: Throttle,
    backoff: Duration,
}

impl Pressure {
    pub fn new(limit: usize) -> Pressure {
        metrics::gauge!("tenantry_connections_limit").set(limit as f64);
        Pressure {
            limit,
            evictions: Throttle::new(),
            refusals: Throttle::new(),
            accept_errors: Throttle::new(),
            backoff: FIRST_BACKOFF,
        }
    }

    pub fn evicted(&mut self) {
        metrics::counter!("tenantry_connections_evicted_total").increment(1);
        if let Some(count) = self.evictions.note() {
            tracing::warn!(
                evicted = count,
                limit = self.limit,
                "connection limit reached: closed the longest-idle connections to admit new ones"
            );
        }
    }

    pub fn refused(&mut self) {
        metrics::counter!("tenantry_connections_refused_total").increment(1);
        if let Some(count) = self.refusals.note() {
            tracing::warn!(
                refused = count,
                limit = self.limit,
                "connection limit reached with every connection busy: refused new connections with 503"
            );
        }
    }

    /// An accept error that is not about one client (e.g. `EMFILE`): how long to pause.
    pub fn accept_failed(&mut self, error: &std::io::Error) -> Duration {
        metrics::counter!("tenantry_connections_accept_errors_total").increment(1);
        if let Some(count) = self.accept_errors.note() {
            tracing::error!(%error, errors = count, "cannot accept connections; backing off");
        }
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        pause
    }

    pub fn accepted(&mut self) {
        self.backoff = FIRST_BACKOFF;
    }
}

/// An accept error caused by one client going away, not by the server: accept the next one.
pub fn is_client_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_logs_once_and_counts_the_rest() {
        let mut throttle = Throttle::new();
        assert_eq!(throttle.note(), Some(1));
        assert_eq!(throttle.note(), None);
        assert_eq!(throttle.note(), None);
        throttle.last_logged = Instant::now().checked_sub(LOG_INTERVAL);
        assert_eq!(throttle.note(), Some(3));
    }

    #[test]
    fn accept_errors_back_off_up_to_a_second_and_reset() {
        let mut pressure = Pressure::new(8);
        let emfile = std::io::Error::from_raw_os_error(24);
        let pauses: Vec<Duration> = (0..10).map(|_| pressure.accept_failed(&emfile)).collect();
        assert_eq!(pauses[0], FIRST_BACKOFF);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(pauses[9], MAX_BACKOFF);
        pressure.accepted();
        assert_eq!(pressure.accept_failed(&emfile), FIRST_BACKOFF);
    }
}
