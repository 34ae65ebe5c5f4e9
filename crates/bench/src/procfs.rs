//! What `/proc` says about a process: resident memory and CPU time. Used for the server's RSS
//! and for the CPU split between the load generator, the server and the database during a run.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Resident set size of process `pid` (`"self"` for this one), in KiB (`VmRSS`).
pub fn rss_kib(pid: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

/// CPU time (user + system) process `pid` has used, in clock ticks.
pub fn cpu_ticks(pid: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => bail!("unexpected contents of {path}"),
    }
}

/// Busy CPU time of the whole machine (all cores: everything but idle and I/O wait), in ticks.
pub fn machine_busy_ticks() -> Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no cpu line in /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok(total.saturating_sub(idle))
}

/// Waits until processes other than `known` (and this one) use under ~10 % of a core, measured
/// over two consecutive 500 ms windows, at most `max`; returns how long it waited. Keeps a
/// compiler that happens to run on the machine out of a measurement when it is brief; longer
/// disturbances show in `CpuShare::other_pct`.
pub async fn wait_machine_quiet(known: &[u32], ticks_per_s: u64, max: Duration) -> Duration {
    const WINDOW: Duration = Duration::from_millis(500);
    let started = Instant::now();
    let sample = || -> Option<u64> {
        let mut own = cpu_ticks("self").ok()?;
        for pid in known {
            own += cpu_ticks(&pid.to_string()).ok()?;
        }
        Some(machine_busy_ticks().ok()?.saturating_sub(own))
    };
    let limit = (ticks_per_s as f64 * WINDOW.as_secs_f64() * 0.10).ceil() as u64;
    let (mut quiet, mut before) = (0, sample());
    while started.elapsed() < max && quiet < 2 {
        tokio::time::sleep(WINDOW).await;
        let now = sample();
        quiet = match (before, now) {
            (Some(a), Some(b)) if b.saturating_sub(a) <= limit => quiet + 1,
            _ => 0,
        };
        before = now;
    }
    started.elapsed()
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when unknown).
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// CPU used during a run by each process, in percent of one core (200 % = both cores here).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuShare {
    pub bench_pct: f64,
    pub server_pct: Option<f64>,
    pub database_pct: Option<f64>,
    /// The whole machine's busy time (kernel work on behalf of nobody in particular included).
    pub machine_pct: f64,
    /// Length of the measured window (warm-up included), seconds.
    pub window_s: f64,
    /// `machine_pct` minus the three processes above: other processes (e.g. a compiler running
    /// meanwhile) and kernel time not charged to a process. High values mean a disturbed run.
    pub other_pct: f64,
}

impl CpuShare {
    /// CPU microseconds per request of (bench, server, database) over `requests` requests.
    pub fn per_request_us(&self, requests: u64) -> (f64, Option<f64>, Option<f64>) {
        let us = |pct: f64| pct / 100.0 * self.window_s * 1e6 / requests.max(1) as f64;
        (
            us(self.bench_pct),
            self.server_pct.map(us),
            self.database_pct.map(us),
        )
    }
}

/// Measures `CpuShare` between `start` and `finish`.
pub struct CpuMeter {
    server: Option<String>,
    database: Option<String>,
    ticks_per_s: u64,
    started: Instant,
    before: [Option<u64>; 4],
}

impl CpuMeter {
    pub fn start(server: Option<u32>, database: Option<u32>, ticks_per_s: u64) -> CpuMeter {
        let server = server.map(|p| p.to_string());
        let database = database.map(|p| p.to_string());
        let before = [
            cpu_ticks("self").ok(),
            server.as_deref().and_then(|p| cpu_ticks(p).ok()),
            database.as_deref().and_then(|p| cpu_ticks(p).ok()),
            machine_busy_ticks().ok(),
        ];
        CpuMeter {
            server,
            database,
            ticks_per_s,
            started: Instant::now(),
            before,
        }
    }

    pub fn finish(&self) -> CpuShare {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let pct = |pid: Option<&str>, before: Option<u64>| -> Option<f64> {
            let after = cpu_ticks(pid?).ok()?;
            let ticks = after.saturating_sub(before?);
            Some(100.0 * ticks as f64 / self.ticks_per_s as f64 / seconds)
        };
        let to_pct = |ticks: u64| 100.0 * ticks as f64 / self.ticks_per_s as f64 / seconds;
        let bench_pct = pct(Some("self"), self.before[0]).unwrap_or(0.0);
        let server_pct = pct(self.server.as_deref(), self.before[1]);
        let database_pct = pct(self.database.as_deref(), self.before[2]);
        let machine_pct = match (machine_busy_ticks().ok(), self.before[3]) {
            (Some(after), Some(before)) => to_pct(after.saturating_sub(before)),
            _ => 0.0,
        };
        let known = bench_pct + server_pct.unwrap_or(0.0) + database_pct.unwrap_or(0.0);
        CpuShare {
            bench_pct,
            server_pct,
            database_pct,
            machine_pct,
            window_s: seconds,
            other_pct: (machine_pct - known).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        assert!(rss_kib("self").expect("rss") > 0);
        let _ = cpu_ticks("self").expect("ticks");
        assert!(ticks_per_second() > 0);
        let _ = machine_busy_ticks().expect("machine ticks");
    }
}
