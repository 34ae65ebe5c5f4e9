//! One tenant's activity on this instance as fixed intervals: the open one being counted and the
//! closed ones of the window. Intervals are aligned on the Unix clock, so two instances' samples
//! of the same tenant line up.

use std::collections::VecDeque;
use std::time::Duration;

use axum::http::StatusCode;
use mongodb::bson::DateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::latency::Latencies;

/// One interval of a tenant's activity on the instance that answered.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Sample {
    /// The interval's start (RFC 3339, UTC).
    pub at: String,
    /// Requests answered in the interval.
    pub requests: u32,
    /// Of those, answered 4xx.
    pub client_errors: u32,
    /// Of those, answered 5xx.
    pub server_errors: u32,
    /// Median latency in milliseconds (`null` without requests).
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency in milliseconds (`null` without requests).
    pub p99_ms: Option<f64>,
    /// Events not yet applied by every projection, last sampled in the interval (`null` when
    /// not sampled: only tenants whose activity was asked for in the last hour are).
    pub projection_lag_events: Option<i64>,
    /// The tenant's database operations in flight on this instance, last sampled in the
    /// interval (`null` when not sampled).
    pub budget_in_use: Option<u32>,
}

/// What an interval counts while it is open.
#[derive(Debug, Default)]
struct Open {
    index: u64,
    requests: u32,
    client_errors: u32,
    server_errors: u32,
    latencies: Latencies,
    lag: Option<i64>,
    in_use: Option<u32>,
}

impl Open {
    fn at(index: u64) -> Open {
        Open {
            index,
            ..Open::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.requests == 0 && self.lag.is_none() && self.in_use.is_none()
    }

    fn close(&self) -> Closed {
        Closed {
            index: self.index,
            requests: self.requests,
            client_errors: self.client_errors,
            server_errors: self.server_errors,
            p50_ms: self.latencies.quantile(0.5),
            p99_ms: self.latencies.quantile(0.99),
            lag: self.lag,
            in_use: self.in_use,
        }
    }
}

/// A closed interval: the histogram reduced to the two percentiles the charts draw.
#[derive(Clone, Debug)]
struct Closed {
    index: u64,
    requests: u32,
    client_errors: u32,
    server_errors: u32,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    lag: Option<i64>,
    in_use: Option<u32>,
}

impl Closed {
    fn sample(&self, interval_secs: u64) -> Sample {
        let millis = (self.index * interval_secs * 1000).min(i64::MAX as u64) as i64;
        Sample {
            at: DateTime::from_millis(millis)
                .try_to_rfc3339_string()
                .unwrap_or_default(),
            requests: self.requests,
            client_errors: self.client_errors,
            server_errors: self.server_errors,
            p50_ms: self.p50_ms.map(round_2),
            p99_ms: self.p99_ms.map(round_2),
            projection_lag_events: self.lag,
            budget_in_use: self.in_use,
        }
    }
}

fn round_2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

#[derive(Debug)]
pub struct Series {
    interval_secs: u64,
    /// Intervals in the window.
    kept: u64,
    open: Open,
    closed: VecDeque<Closed>,
    /// Requests since this instance first saw the tenant's incarnation.
    total: u64,
}

impl Series {
    pub fn new(interval_secs: u64, window_secs: u64) -> Series {
        let interval_secs = interval_secs.max(1);
        Series {
            interval_secs,
            kept: (window_secs / interval_secs).max(1),
            open: Open::default(),
            closed: VecDeque::new(),
            total: 0,
        }
    }

    /// A request answered `status` after `elapsed`, at `now_secs` (Unix time).
    pub fn record(&mut self, now_secs: u64, status: StatusCode, elapsed: Duration) {
        self.roll(now_secs);
        self.total += 1;
        let open = &mut self.open;
        open.requests = open.requests.saturating_add(1);
        if status.is_client_error() {
            open.client_errors = open.client_errors.saturating_add(1);
        } else if status.is_server_error() {
            open.server_errors = open.server_errors.saturating_add(1);
        }
        open.latencies.record(elapsed);
    }

    /// The sampled gauges at `now_secs`; the last sample of an interval is the one it keeps.
    pub fn gauge(&mut self, now_secs: u64, lag: Option<i64>, in_use: u32) {
        self.roll(now_secs);
        if lag.is_some() {
            self.open.lag = lag;
        }
        self.open.in_use = Some(in_use);
    }

    /// The window's intervals with data, oldest first; the open one last, if it has any.
    pub fn samples(&mut self, now_secs: u64) -> Vec<Sample> {
        self.roll(now_secs);
        let open = (!self.open.is_empty()).then(|| self.open.close());
        self.closed
            .iter()
            .chain(open.as_ref())
            .map(|c| c.sample(self.interval_secs))
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    fn roll(&mut self, now_secs: u64) {
        let index = now_secs / self.interval_secs;
        if index > self.open.index {
            if !self.open.is_empty() {
                self.closed.push_back(self.open.close());
            }
            self.open = Open::at(index);
        }
        while self
            .closed
            .front()
            .is_some_and(|c| c.index + self.kept <= index)
        {
            self.closed.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn requests_land_in_their_interval_and_the_open_one_is_reported() {
        let mut series = Series::new(10, 3600);
        series.record(1_000, StatusCode::OK, 3 * MS);
        series.record(1_005, StatusCode::NOT_FOUND, 3 * MS);
        series.record(1_012, StatusCode::INTERNAL_SERVER_ERROR, 3 * MS);
        let samples = series.samples(1_013);
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].at, "1970-01-01T00:16:40Z");
        assert_eq!(
            (
                samples[0].requests,
                samples[0].client_errors,
                samples[0].server_errors
            ),
            (2, 1, 0)
        );
        assert_eq!(
            (
                samples[1].requests,
                samples[1].client_errors,
                samples[1].server_errors
            ),
            (1, 0, 1)
        );
        assert!(samples[1].p50_ms.is_some());
        assert_eq!(series.total(), 3);
    }

    #[test]
    fn intervals_older_than_the_window_are_dropped() {
        let mut series = Series::new(10, 60);
        series.record(0, StatusCode::OK, MS);
        series.record(50, StatusCode::OK, MS);
        assert_eq!(series.samples(59).len(), 2);
        // At 60 s the interval of 0 s is a whole window old.
        let samples = series.samples(60);
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].at, "1970-01-01T00:00:50Z");
        assert!(series.samples(200).is_empty());
        assert_eq!(series.total(), 2, "the total outlives the window");
    }

    #[test]
    fn gauges_make_a_sample_without_requests() {
        let mut series = Series::new(10, 3600);
        series.gauge(100, Some(4), 1);
        series.gauge(105, None, 2);
        let samples = series.samples(106);
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].requests, 0);
        assert_eq!(samples[0].p99_ms, None);
        assert_eq!(samples[0].projection_lag_events, Some(4));
        assert_eq!(samples[0].budget_in_use, Some(2));
    }
}
