//! The load loop and its statistics.
//!
//! `run` starts `concurrency` workers that send requests back to back (closed loop) for a warm-up
//! and then a measured window. Each request gets a sequence number from a shared counter (the
//! scenarios map it round-robin onto tenants and products). Every worker keeps the latency of its
//! measured requests in microseconds; the merged, sorted samples give exact percentiles (no
//! histogram buckets). Both the time and the number of samples per worker are bounded.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

/// What one request came to: `Ok`, or a description of the failure (status and body, or the
/// transport/driver error).
pub type Outcome = std::result::Result<(), String>;

/// Samples kept per worker at most (≈ 4 MB each); a worker stops early when it has this many.
const MAX_SAMPLES_PER_WORKER: usize = 1_000_000;
/// Error descriptions kept per run, to print.
const MAX_ERROR_SAMPLES: usize = 5;
/// The longest a single request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How a scenario is run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LoadSpec {
    pub concurrency: usize,
    #[serde(serialize_with = "secs")]
    pub warmup: Duration,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Requests completed in the measured window.
    pub requests: u64,
    /// Failed requests, warm-up included (any non-2xx answer or transport/driver error).
    pub errors: u64,
    /// Requests completed, warm-up included.
    pub completed_total: u64,
    pub elapsed_s: f64,
    pub rps: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first few error descriptions.
    pub error_samples: Vec<String>,
}

struct WorkerResult {
    latencies_us: Vec<u32>,
    completed: u64,
    errors: u64,
    error_samples: Vec<String>,
    last_finish: Option<Instant>,
}

/// Runs `op(seq)` from `spec.concurrency` workers for the warm-up and then the measured window.
pub async fn run<F, Fut>(spec: LoadSpec, op: F) -> Result<Stats>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let op = Arc::new(op);
    let seq = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let stop_at = measure_from + spec.duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..spec.concurrency.max(1) {
        let (op, seq) = (Arc::clone(&op), Arc::clone(&seq));
        workers.spawn(async move {
            let mut result = WorkerResult {
                latencies_us: Vec::with_capacity(4096),
                completed: 0,
                errors: 0,
                error_samples: Vec::new(),
                last_finish: None,
            };
            loop {
                let began = Instant::now();
                if began >= stop_at || result.latencies_us.len() >= MAX_SAMPLES_PER_WORKER {
                    break;
                }
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, op(n)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
                };
                let finished = Instant::now();
                result.completed += 1;
                if let Err(e) = outcome {
                    result.errors += 1;
                    if result.error_samples.len() < MAX_ERROR_SAMPLES {
                        result.error_samples.push(e);
                    }
                }
                if began >= measure_from {
                    let us = finished.duration_since(began).as_micros();
                    result
                        .latencies_us
                        .push(u32::try_from(us).unwrap_or(u32::MAX));
                    result.last_finish = Some(finished);
                }
            }
            result
        });
    }
    let mut all = Vec::new();
    let (mut errors, mut error_samples, mut last_finish) = (0, Vec::new(), measure_from);
    let mut completed = 0;
    while let Some(joined) = workers.join_next().await {
        let worker = joined.context("a load worker panicked")?;
        all.extend_from_slice(&worker.latencies_us);
        errors += worker.errors;
        completed += worker.completed;
        for e in worker.error_samples {
            if error_samples.len() < MAX_ERROR_SAMPLES {
                error_samples.push(e);
            }
        }
        if let Some(t) = worker.last_finish {
            last_finish = last_finish.max(t);
        }
    }
    let elapsed = last_finish.duration_since(measure_from).as_secs_f64();
    let mut stats = summarize(all, errors, error_samples, elapsed);
    stats.completed_total = completed;
    Ok(stats)
}

/// Percentiles (nearest rank) and throughput of `latencies_us` measured over `elapsed_s`.
pub fn summarize(
    mut latencies_us: Vec<u32>,
    errors: u64,
    error_samples: Vec<String>,
    elapsed_s: f64,
) -> Stats {
    latencies_us.sort_unstable();
    let n = latencies_us.len();
    let ms = |us: u32| f64::from(us) / 1000.0;
    let rank = |p: f64| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let idx = ((p / 100.0) * n as f64).ceil() as usize;
        ms(latencies_us[idx.clamp(1, n) - 1])
    };
    let sum: u64 = latencies_us.iter().map(|&us| u64::from(us)).sum();
    Stats {
        requests: n as u64,
        errors,
        completed_total: n as u64,
        elapsed_s,
        rps: if elapsed_s > 0.0 {
            n as f64 / elapsed_s
        } else {
            0.0
        },
        mean_ms: if n == 0 {
            0.0
        } else {
            sum as f64 / n as f64 / 1000.0
        },
        p50_ms: rank(50.0),
        p90_ms: rank(90.0),
        p99_ms: rank(99.0),
        max_ms: latencies_us.last().map_or(0.0, |&us| ms(us)),
        error_samples,
    }
}

/// The median of `values` (0 when empty).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        let stats = summarize(samples, 0, Vec::new(), 2.0);
        assert_eq!(stats.requests, 100);
        assert_eq!(stats.rps, 50.0);
        assert_eq!(stats.p50_ms, 50.0);
        assert_eq!(stats.p90_ms, 90.0);
        assert_eq!(stats.p99_ms, 99.0);
        assert_eq!(stats.max_ms, 100.0);
        assert_eq!(stats.mean_ms, 50.5);
    }

    #[test]
    fn empty_runs_are_zero() {
        let stats = summarize(Vec::new(), 3, Vec::new(), 0.0);
        assert_eq!((stats.requests, stats.errors, stats.rps), (0, 3, 0.0));
        assert_eq!(stats.p99_ms, 0.0);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[tokio::test]
    async fn run_is_bounded_in_time_and_counts_errors() {
        let spec = LoadSpec {
            concurrency: 4,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(100),
        };
        let stats = run(spec, |n| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if n % 10 == 0 {
                Err(format!("failure {n}"))
            } else {
                Ok(())
            }
        })
        .await
        .expect("runs");
        assert!(stats.requests > 10, "{stats:?}");
        assert!(stats.errors > 0 && stats.error_samples.len() <= MAX_ERROR_SAMPLES);
        assert!(stats.elapsed_s < 1.0);
    }
}
