//! A closed-loop load that runs until it is told to stop, keeping every request's start time,
//! latency, kind (read or write) and outcome, so that the run can be cut afterwards into windows
//! (before, during and after a move), into one-second buckets (the throughput dip), and around
//! an interval (the writes in flight while the server held them).
//!
//! The statistics of a window are `load::summarize`'s (exact nearest-rank percentiles).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::load::{self, Outcome, REQUEST_TIMEOUT, Stats};

/// Error descriptions kept per run, to print.
const MAX_ERROR_SAMPLES: usize = 5;
/// A write slower than this counts as a pause over the target.
pub const SLOW_WRITE_US: u32 = 1_000_000;

/// One request: when it started (µs after the load started), how long it took, what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub start_us: u64,
    pub latency_us: u32,
    pub write: bool,
    pub ok: bool,
}

impl Sample {
    fn end_us(&self) -> u64 {
        self.start_us + u64::from(self.latency_us)
    }
}

/// What a stopped load saw.
#[derive(Debug, Default)]
pub struct Timeline {
    /// In no particular order.
    pub samples: Vec<Sample>,
    /// The first few error descriptions.
    pub error_samples: Vec<String>,
}

/// A load that is running.
pub struct Running {
    stop: Arc<AtomicBool>,
    workers: tokio::task::JoinSet<Worker>,
    started: Instant,
    /// The wall clock at `started`, in milliseconds since 1970 (to place server log lines).
    pub started_unix_ms: i64,
}

#[derive(Default)]
struct Worker {
    samples: Vec<Sample>,
    error_samples: Vec<String>,
}

/// Starts `concurrency` workers sending request `seq` back to back until `Running::stop`:
/// `op(seq)` says whether it is a write and gives the request to await.
pub fn start<F, Fut>(concurrency: usize, op: F) -> Running
where
    F: Fn(u64) -> (bool, Fut) + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let op = Arc::new(op);
    let seq = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (op, seq, stop) = (Arc::clone(&op), Arc::clone(&seq), Arc::clone(&stop));
        workers.spawn(async move {
            let mut worker = Worker::default();
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                let (write, request) = op(seq.fetch_add(1, Ordering::Relaxed));
                let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
                };
                let latency = began.elapsed().as_micros();
                if let Err(e) = &outcome
                    && worker.error_samples.len() < MAX_ERROR_SAMPLES
                {
                    worker.error_samples.push(e.clone());
                }
                worker.samples.push(Sample {
                    start_us: micros(began.duration_since(started).as_micros()),
                    latency_us: u32::try_from(latency).unwrap_or(u32::MAX),
                    write,
                    ok: outcome.is_ok(),
                });
            }
            worker
        });
    }
    Running {
        stop,
        workers,
        started,
        started_unix_ms,
    }
}

fn micros(us: u128) -> u64 {
    u64::try_from(us).unwrap_or(u64::MAX)
}

impl Running {
    /// Microseconds since the load started.
    pub fn now_us(&self) -> u64 {
        micros(self.started.elapsed().as_micros())
    }

    /// Stops the workers (each finishes its request in flight) and collects what they saw.
    pub async fn stop(mut self) -> Result<Timeline> {
        self.stop.store(true, Ordering::Relaxed);
        let mut timeline = Timeline::default();
        while let Some(joined) = self.workers.join_next().await {
            let worker = joined.context("a load worker panicked")?;
            timeline.samples.extend(worker.samples);
            for e in worker.error_samples {
                if timeline.error_samples.len() < MAX_ERROR_SAMPLES {
                    timeline.error_samples.push(e);
                }
            }
        }
        Ok(timeline)
    }
}

/// The requests that started in a window of the load.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Seconds after the load started.
    pub from_s: f64,
    pub to_s: f64,
    pub requests: u64,
    /// Requests started per second of the window.
    pub rps: f64,
    /// Failed requests (any non-2xx answer or transport error), reads and writes.
    pub errors: u64,
    pub reads: Stats,
    pub writes: Stats,
    /// Writes slower than 1 s.
    pub slow_writes: u64,
}

/// The requests that started in `[from_us, to_us)`.
pub fn window(samples: &[Sample], from_us: u64, to_us: u64) -> Window {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| (from_us..to_us).contains(&s.start_us))
        .collect();
    let seconds = to_us.saturating_sub(from_us) as f64 / 1e6;
    let stats = |write: bool| {
        let of_kind: Vec<&&Sample> = inside.iter().filter(|s| s.write == write).collect();
        let errors = of_kind.iter().filter(|s| !s.ok).count() as u64;
        let latencies = of_kind.iter().map(|s| s.latency_us).collect();
        load::summarize(latencies, errors, Vec::new(), seconds)
    };
    let (reads, writes) = (stats(false), stats(true));
    Window {
        from_s: from_us as f64 / 1e6,
        to_s: to_us as f64 / 1e6,
        requests: inside.len() as u64,
        rps: if seconds > 0.0 {
            inside.len() as f64 / seconds
        } else {
            0.0
        },
        errors: reads.errors + writes.errors,
        slow_writes: inside
            .iter()
            .filter(|s| s.write && s.latency_us > SLOW_WRITE_US)
            .count() as u64,
        reads,
        writes,
    }
}

/// The lowest number of requests completed per second in any whole `bucket_us` bucket of
/// `[from_us, to_us)` (buckets counted from `from_us`); `None` when the window holds no whole
/// bucket.
pub fn lowest_rate(samples: &[Sample], from_us: u64, to_us: u64, bucket_us: u64) -> Option<f64> {
    let buckets = usize::try_from(to_us.saturating_sub(from_us) / bucket_us.max(1)).ok()?;
    if buckets == 0 {
        return None;
    }
    let mut counts = vec![0u64; buckets];
    for s in samples {
        let end = s.end_us();
        if end < from_us {
            continue;
        }
        if let Some(c) = usize::try_from((end - from_us) / bucket_us.max(1))
            .ok()
            .and_then(|i| counts.get_mut(i))
        {
            *c += 1;
        }
    }
    let lowest = counts.into_iter().min()?;
    Some(lowest as f64 / (bucket_us.max(1) as f64 / 1e6))
}

/// The writes in flight at some moment of an interval.
#[derive(Debug, Clone, Serialize)]
pub struct HeldWrites {
    pub writes: Stats,
    /// Of them, slower than 1 s.
    pub slow_writes: u64,
}

/// The writes in flight at some point of `[from_us, to_us]` (started before its end, finished
/// after its start): those a server-side hold in that interval could have delayed.
pub fn writes_across(samples: &[Sample], from_us: u64, to_us: u64) -> HeldWrites {
    let across: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.write && s.start_us <= to_us && s.end_us() >= from_us)
        .collect();
    let errors = across.iter().filter(|s| !s.ok).count() as u64;
    let slow_writes = across
        .iter()
        .filter(|s| s.latency_us > SLOW_WRITE_US)
        .count() as u64;
    let latencies = across.iter().map(|s| s.latency_us).collect();
    let seconds = to_us.saturating_sub(from_us) as f64 / 1e6;
    HeldWrites {
        writes: load::summarize(latencies, errors, Vec::new(), seconds),
        slow_writes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(start_ms: u64, latency_ms: u32, write: bool, ok: bool) -> Sample {
        Sample {
            start_us: start_ms * 1000,
            latency_us: latency_ms * 1000,
            write,
            ok,
        }
    }

    #[test]
    fn a_window_counts_what_started_in_it_by_kind() {
        let samples = [
            sample(100, 5, false, true),
            sample(900, 5, true, true),
            sample(1_000, 1_500, true, false),
            sample(1_200, 7, false, true),
            sample(1_999, 3, true, true),
            sample(2_000, 4, false, true),
        ];
        let w = window(&samples, 1_000_000, 2_000_000);
        assert_eq!((w.requests, w.errors, w.slow_writes), (3, 1, 1));
        assert_eq!(w.rps, 3.0);
        assert_eq!((w.reads.requests, w.writes.requests), (1, 2));
        assert_eq!(w.writes.max_ms, 1_500.0);
        assert_eq!(w.writes.p50_ms, 3.0);
        assert_eq!(w.reads.p99_ms, 7.0);
        assert_eq!((w.from_s, w.to_s), (1.0, 2.0));
    }

    #[test]
    fn an_empty_window_is_zero() {
        let w = window(&[sample(10, 1, true, true)], 5_000_000, 5_000_000);
        assert_eq!((w.requests, w.rps, w.writes.p99_ms), (0, 0.0, 0.0));
    }

    #[test]
    fn the_lowest_rate_is_the_emptiest_whole_bucket() {
        // Completions at 0.5 s (×3), 1.5 s (×1), 2.5 s (×2); a partial bucket at 3.0–3.4 s.
        let mut samples = vec![sample(400, 100, false, true); 3];
        samples.push(sample(1_400, 100, true, true));
        samples.extend([sample(2_000, 500, false, true); 2]);
        samples.push(sample(3_100, 100, false, true));
        assert_eq!(lowest_rate(&samples, 0, 3_400_000, 1_000_000), Some(1.0));
        assert_eq!(lowest_rate(&samples, 0, 1_000_000, 500_000), Some(0.0));
        assert_eq!(lowest_rate(&samples, 0, 900_000, 1_000_000), None);
        // A request that completed before the window does not count.
        assert_eq!(
            lowest_rate(&samples, 600_000, 1_600_000, 1_000_000),
            Some(1.0)
        );
    }

    #[test]
    fn writes_across_an_interval_are_those_in_flight_in_it() {
        let samples = [
            sample(0, 50, true, true),     // ends before
            sample(80, 400, true, true),   // spans the start
            sample(150, 20, true, true),   // inside
            sample(150, 20, false, true),  // a read
            sample(190, 900, true, false), // spans the end
            sample(250, 10, true, true),   // starts after
        ];
        let held = writes_across(&samples, 100_000, 200_000);
        assert_eq!((held.writes.requests, held.writes.errors), (3, 1));
        assert_eq!((held.writes.max_ms, held.slow_writes), (900.0, 0));
        let late = writes_across(&[sample(0, 1_200, true, true)], 1_100_000, 1_150_000);
        assert_eq!((late.writes.requests, late.slow_writes), (1, 1));
    }

    #[tokio::test]
    async fn the_load_runs_until_stopped_and_keeps_every_request() {
        let running = start(4, |n| {
            let request = async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                if n % 7 == 0 {
                    Err(format!("e{n}"))
                } else {
                    Ok(())
                }
            };
            (n % 10 == 0, request)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let until = running.now_us();
        let timeline = running.stop().await.expect("stops");
        assert!(timeline.samples.len() > 20, "{}", timeline.samples.len());
        assert!(timeline.samples.iter().any(|s| s.write));
        assert!(timeline.samples.iter().any(|s| !s.ok));
        assert!(!timeline.error_samples.is_empty());
        assert!(timeline.error_samples.len() <= MAX_ERROR_SAMPLES);
        assert!(
            timeline
                .samples
                .iter()
                .all(|s| s.start_us <= until + 50_000)
        );
    }
}
