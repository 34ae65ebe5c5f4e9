//! A latency histogram of fixed, roughly logarithmic buckets: constant memory per interval, and
//! percentiles interpolated inside the bucket they fall in.

use std::time::Duration;

/// Upper bounds of the buckets, in milliseconds; one more bucket holds everything slower.
const BOUNDS_MS: [f64; 23] = [
    0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0,
    500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0,
];

#[derive(Clone, Debug, Default)]
pub struct Latencies {
    counts: [u32; BOUNDS_MS.len() + 1],
}

impl Latencies {
    pub fn record(&mut self, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let bucket = BOUNDS_MS.partition_point(|&bound| bound < ms);
        self.counts[bucket] = self.counts[bucket].saturating_add(1);
    }

    /// The `q` quantile (0 < q ≤ 1) in milliseconds, `None` without any latency recorded.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut below = 0u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            let count = u64::from(count);
            if below + count >= rank {
                let lower = if bucket == 0 {
                    0.0
                } else {
                    BOUNDS_MS[bucket - 1]
                };
                // The last bucket is open: report its lower bound rather than invent an upper one.
                let Some(&upper) = BOUNDS_MS.get(bucket) else {
                    return Some(lower);
                };
                let within = (rank - below) as f64 / count as f64;
                return Some(lower + (upper - lower) * within);
            }
            below += count;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(ms: &[f64]) -> Latencies {
        let mut latencies = Latencies::default();
        for &m in ms {
            latencies.record(Duration::from_secs_f64(m / 1000.0));
        }
        latencies
    }

    #[test]
    fn no_latency_has_no_quantile() {
        assert_eq!(Latencies::default().quantile(0.5), None);
    }

    #[test]
    fn quantiles_fall_in_the_right_bucket() {
        // 98 fast requests (~4 ms) and 2 slow ones (~400 ms).
        let mut ms = vec![4.0; 98];
        ms.extend([400.0, 400.0]);
        let latencies = of(&ms);
        let p50 = latencies.quantile(0.5).unwrap();
        let p99 = latencies.quantile(0.99).unwrap();
        assert!((3.0..=5.0).contains(&p50), "p50 {p50}");
        assert!((300.0..=500.0).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn slower_than_every_bound_reports_the_last_bound() {
        assert_eq!(of(&[60_000.0]).quantile(0.99), Some(5000.0));
    }
}
