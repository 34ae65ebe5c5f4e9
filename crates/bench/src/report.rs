//! The results of a run: the JSON document (`tenantry-bench.json`), the Markdown tables
//! (`tenantry-bench.md`, also printed), and the verdicts on the targets of docs/BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::dbstat::DbWork;
use crate::layers::LayerRow;
use crate::load::{LoadSpec, Stats};
use crate::procfs::CpuShare;
use crate::provision::Batch;
use crate::scale::ScaleResult;
use crate::scenarios::Scenario;

/// The targets of the benchmark (docs/BENCHMARKS.md).
const MIN_THROUGHPUT_RATIO: f64 = 0.7;
const MAX_P99_RATIO: f64 = 2.0;
const MAX_RSS_PER_TENANT_KIB: f64 = 4.0;
/// A first request may cost one catalog round trip more; measured medians get 50 % slack.
const MAX_EXTRA_ROUND_TRIPS: f64 = 1.5;
/// Pool size changes within this are noise, not growth.
const CONNECTION_SLACK: i64 = 2;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mib: u64,
    pub kernel: String,
    pub open_files_limit: String,
}

impl Machine {
    pub fn read() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let limits = read("/proc/self/limits");
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mem_kib: u64 = field(&meminfo, "MemTotal")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0);
        let open_files = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .map(|l| {
                let v: Vec<&str> = l.split_whitespace().collect();
                format!(
                    "{} (hard {})",
                    v.get(3).unwrap_or(&"?"),
                    v.get(4).unwrap_or(&"?")
                )
            })
            .unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field(&cpuinfo, "model name"),
            mem_total_mib: mem_kib / 1024,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            open_files_limit: open_files,
        }
    }
}

/// One side of a run: latency statistics, CPU split, database work.
pub struct Side {
    pub stats: Stats,
    pub cpu: CpuShare,
    pub db: Option<DbWork>,
}

/// One scenario at one tenant count, on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub tenants: usize,
    pub scenario: Scenario,
    pub scenario_name: &'static str,
    pub tenantry: Stats,
    pub tenantry_cpu: CpuShare,
    pub tenantry_db: Option<DbWork>,
    pub baseline: Option<Stats>,
    pub baseline_cpu: Option<CpuShare>,
    pub baseline_db: Option<DbWork>,
    /// Tenantry req/s ÷ baseline req/s.
    pub throughput_ratio: Option<f64>,
    /// Tenantry p99 ÷ baseline p99.
    pub p99_ratio: Option<f64>,
}

impl RunResult {
    pub fn new(
        tenants: usize,
        scenario: Scenario,
        tenantry: Side,
        baseline: Option<Side>,
    ) -> RunResult {
        let ratio = |a: f64, b: f64| if b > 0.0 { Some(a / b) } else { None };
        let (t, tenantry_cpu, tenantry_db) = (tenantry.stats, tenantry.cpu, tenantry.db);
        let throughput_ratio = baseline.as_ref().and_then(|b| ratio(t.rps, b.stats.rps));
        let p99_ratio = baseline
            .as_ref()
            .and_then(|b| ratio(t.p99_ms, b.stats.p99_ms));
        let (baseline, baseline_cpu, baseline_db) = match baseline {
            Some(b) => (Some(b.stats), Some(b.cpu), b.db),
            None => (None, None, None),
        };
        RunResult {
            tenants,
            scenario,
            scenario_name: scenario.name(),
            tenantry: t,
            tenantry_cpu,
            tenantry_db,
            baseline,
            baseline_cpu,
            baseline_db,
            throughput_ratio,
            p99_ratio,
        }
    }

    pub fn errors(&self) -> u64 {
        self.tenantry.errors + self.baseline.as_ref().map_or(0, |b| b.errors)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    /// `None`: not measured in this run.
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub started_utc: String,
    pub wall_seconds: f64,
    pub machine: Machine,
    pub database: String,
    pub database_version: Option<String>,
    pub load: LoadSpec,
    pub products_per_tenant: usize,
    pub tenant_counts: Vec<usize>,
    /// Non-default server settings of this run (secrets excluded).
    pub server_settings: Vec<(String, String)>,
    pub batches: Vec<Batch>,
    pub runs: Vec<RunResult>,
    pub layers: Vec<LayerRow>,
    pub scale: Option<ScaleResult>,
    /// Projection throughput with 1 and N instances.
    pub projection: Vec<crate::fleet::ProjectionRun>,
    /// Export and import of one tenant.
    pub transfer: Option<crate::transfer::TransferRun>,
    /// One tenant moved to another cluster under load.
    pub moves: Option<crate::moves::MoveRun>,
    pub targets: Vec<Target>,
    /// Failed requests in every scenario and scale step (must be 0).
    pub total_errors: u64,
    pub notes: Vec<String>,
}

impl Report {
    /// Errors of the scenarios and of the scale phase's requests.
    pub fn count_errors(
        runs: &[RunResult],
        layers: &[LayerRow],
        scale: Option<&ScaleResult>,
    ) -> u64 {
        let scenarios: u64 = runs.iter().map(RunResult::errors).sum::<u64>()
            + layers.iter().map(|l| l.stats.errors).sum::<u64>();
        let scale = scale.map_or(0, |s| {
            s.points.iter().map(|p| p.touch_errors).sum::<u64>()
                + s.first_request.as_ref().map_or(0, |f| f.errors)
        });
        scenarios + scale
    }

    /// Writes `tenantry-bench.json` and `tenantry-bench.md` into `dir`; returns the Markdown.
    pub fn write(&self, dir: &Path) -> Result<String> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = serde_json::to_string_pretty(self).context("encoding the results")?;
        let json_path = dir.join("tenantry-bench.json");
        std::fs::write(&json_path, json)
            .with_context(|| format!("writing {}", json_path.display()))?;
        let markdown = self.markdown();
        let md_path = dir.join("tenantry-bench.md");
        std::fs::write(&md_path, &markdown)
            .with_context(|| format!("writing {}", md_path.display()))?;
        Ok(markdown)
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(
            md,
            "## Tenantry benchmark ({} mode, {})\n\n\
             Machine: {} × {}, {} MiB RAM, Linux {}, open files {}. Database: {}{}.\n\
             Load: concurrency {}, {:.1} s warm-up + {:.1} s measured per run; \
             {} products per tenant. Wall time {:.0} s.\n",
            self.mode,
            self.started_utc,
            m.nproc,
            m.cpu_model,
            m.mem_total_mib,
            m.kernel,
            m.open_files_limit,
            self.database,
            self.database_version
                .as_deref()
                .map(|v| format!(" (reports version {v})"))
                .unwrap_or_default(),
            self.load.concurrency,
            self.load.warmup.as_secs_f64(),
            self.load.duration.as_secs_f64(),
            self.products_per_tenant,
            self.wall_seconds,
        );
        self.headline(&mut md);
        self.runs_table(&mut md);
        self.layers_table(&mut md);
        self.batches_table(&mut md);
        if let Some(scale) = &self.scale {
            scale_tables(&mut md, scale);
        }
        self.targets_table(&mut md);
        if !self.notes.is_empty() {
            md.push_str("Notes:\n\n");
            for note in &self.notes {
                let _ = writeln!(md, "- {note}");
            }
            md.push('\n');
        }
        let _ = writeln!(md, "Errors in all scenarios: **{}**.", self.total_errors);
        md
    }

    fn headline(&self, md: &mut String) {
        md.push_str("### Headline: Tenantry ÷ raw driver\n\n");
        md.push_str(
            "| Tenants | Scenario | Throughput ratio | p99 ratio |\n|---:|---|---:|---:|\n",
        );
        for r in &self.runs {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                r.tenants,
                r.scenario_name,
                ratio(r.throughput_ratio),
                ratio(r.p99_ratio)
            );
        }
        md.push('\n');
    }

    fn runs_table(&self, md: &mut String) {
        md.push_str("### Scenarios\n\n");
        md.push_str(
            "| Tenants | Scenario | Side | req/s | p50 ms | p90 ms | p99 ms | max ms | errors \
             | CPU % bench / server / db / other | DB round trips per request |\n\
             |---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n",
        );
        for r in &self.runs {
            let mut row = |side: &str, s: &Stats, cpu: &CpuShare, db: &Option<DbWork>| {
                let trips = db
                    .as_ref()
                    .map_or("–".to_string(), |d| format!("{:.2}", d.round_trips));
                let _ = writeln!(
                    md,
                    "| {} | {} | {side} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {trips} |",
                    r.tenants,
                    r.scenario_name,
                    s.rps,
                    s.p50_ms,
                    s.p90_ms,
                    s.p99_ms,
                    s.max_ms,
                    s.errors,
                    cpu_cell(cpu)
                );
            };
            row("Tenantry", &r.tenantry, &r.tenantry_cpu, &r.tenantry_db);
            if let (Some(b), Some(c)) = (&r.baseline, &r.baseline_cpu) {
                row("driver", b, c, &r.baseline_db);
            }
        }
        md.push('\n');
        let failing: Vec<&RunResult> = self.runs.iter().filter(|r| r.errors() > 0).collect();
        for r in failing {
            let _ = writeln!(
                md,
                "Errors of {} at {} tenants:",
                r.scenario_name, r.tenants
            );
            for e in r
                .tenantry
                .error_samples
                .iter()
                .chain(r.baseline.iter().flat_map(|b| b.error_samples.iter()))
            {
                let _ = writeln!(md, "- `{}`", e.replace('`', "'"));
            }
            md.push('\n');
        }
    }

    fn layers_table(&self, md: &mut String) {
        if self.layers.is_empty() {
            return;
        }
        let tenants = self.tenant_counts.last().copied().unwrap_or(0);
        let _ = writeln!(
            md,
            "### Layer breakdown of a point read ({tenants} tenants)\n\n\
             | Layer | Concurrency | req/s | p50 ms | p99 ms | CPU µs/request bench / server / db \
             | other CPU % | DB round trips | errors |\n|---|---:|---:|---:|---:|---|---:|---:|---:|"
        );
        let us = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
        for row in &self.layers {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.3} | {:.2} | {:.0} / {} / {} | {:.0} | {} | {} |",
                row.layer,
                row.concurrency,
                row.stats.rps,
                row.stats.p50_ms,
                row.stats.p99_ms,
                row.bench_cpu_us,
                us(row.server_cpu_us),
                us(row.database_cpu_us),
                row.cpu.other_pct,
                row.db_round_trips
                    .map_or("–".to_string(), |r| format!("{r:.2}")),
                row.stats.errors
            );
        }
        md.push('\n');
    }

    fn batches_table(&self, md: &mut String) {
        if !self.projection.is_empty() {
            md.push_str(
                "### Projection throughput (events written with no projector running, then projected by N fresh instances)\n\n\
                 | Instances | Tenants | Events | Seconds | Events/s | DB ops/event | DB round trips/event |\n\
                 |---:|---:|---:|---:|---:|---:|---:|\n",
            );
            for r in &self.projection {
                md.push_str(&format!(
                    "| {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} |\n",
                    r.instances,
                    r.tenants,
                    r.events,
                    r.seconds,
                    r.events_per_second,
                    r.ops_per_event,
                    r.round_trips_per_event
                ));
            }
            md.push('\n');
        }
        if let Some(t) = &self.transfer {
            md.push_str(
                "### Export and import (one tenant, written through the API; the import includes its read-model rebuild)\n\n\
                 | Orders | Documents | MiB | Export s | Export documents/s | Import s | Import documents/s | of which load s | of which rebuild s |\n\
                 |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            );
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} |\n",
                t.orders,
                t.documents,
                t.bytes as f64 / 1_048_576.0,
                t.export_seconds,
                t.export_documents_per_second,
                t.import_seconds,
                t.import_documents_per_second,
                t.load_seconds,
                t.rebuild_seconds
            );
        }
        if let Some(m) = &self.moves {
            crate::moves::markdown::section(md, m);
        }
        md.push_str("### Provisioning and seeding\n\n");
        md.push_str(
            "| What | Count | Concurrency | Seconds | Per second | Retries |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        for b in &self.batches {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} | {:.1} | {} |",
                b.what, b.count, b.concurrency, b.seconds, b.per_second, b.retries
            );
        }
        md.push('\n');
    }

    fn targets_table(&self, md: &mut String) {
        md.push_str("### Targets\n\n| Target | Measured | Met |\n|---|---|---|\n");
        for t in &self.targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            let _ = writeln!(md, "| {} | {} | {met} |", t.target, t.measured);
        }
        md.push('\n');
    }
}

fn scale_tables(md: &mut String, scale: &ScaleResult) {
    let _ = write!(
        md,
        "### Scale (fresh server, `TENANTRY_PROJECTOR=off`: the request path alone; \
         `TENANTRY_MAX_POOL_SIZE={}`, touched at concurrency {})\n\n",
        crate::scale::SCALE_MAX_POOL_SIZE,
        crate::scale::TOUCH_CONCURRENCY
    );
    md.push_str(
        "| Tenants touched | RSS MiB | Δ RSS vs first step KiB | DB connections (serverStatus) \
         | Tenantry pool open | Pool created total | Touch s | Touch errors |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let first = scale
        .points
        .first()
        .map_or(scale.idle.rss_kib, |p| p.rss_kib);
    for p in std::iter::once(&scale.idle).chain(&scale.points) {
        let _ = writeln!(
            md,
            "| {} | {:.1} | {} | {} | {} | {} | {:.1} | {} |",
            p.touched,
            p.rss_kib as f64 / 1024.0,
            p.rss_kib as i64 - first as i64,
            opt(p.server_connections),
            opt(p.pool_open),
            opt(p.pool_created_total),
            p.touch_seconds,
            p.touch_errors
        );
    }
    md.push('\n');
    if let Some(g) = scale.rss_growth_per_tenant_kib {
        let _ = writeln!(md, "RSS growth per touched tenant: **{g:.2} KiB**.\n");
    }
    if let Some(f) = &scale.first_request {
        let _ = writeln!(
            md,
            "First request of an uncached tenant (median of {}): **{:.3} ms**; the same request \
             cached: **{:.3} ms**; difference {:.3} ms = {:.2} catalog round trips \
             (catalog `find_one` by `_id` from the benchmark: {:.3} ms).\n",
            f.samples,
            f.uncached_median_ms,
            f.cached_median_ms,
            f.delta_ms,
            f.extra_round_trips,
            f.catalog_round_trip_median_ms
        );
    }
    if let Some(s) = &scale.projector_sweep {
        let _ = writeln!(
            md,
            "Projector start-up sweep (a fresh server with the projector on catches up every \
             tenant once): idle after {:.1} s; RSS {:.1} MiB, {:.2} KiB per tenant more than the \
             projector-off server's idle RSS; DB connections (serverStatus) {}, Tenantry pool {}.\n",
            s.settle_s,
            s.after.rss_kib as f64 / 1024.0,
            s.rss_per_tenant_kib,
            opt(s.after.server_connections),
            opt(s.after.pool_open)
        );
    }
    let m = &scale.migrations;
    let _ = writeln!(
        md,
        "`POST /admin/migrations` over {} tenants (all already at the latest version: this is the \
         per-tenant ledger check): {:.2} s, {:.2} ms per tenant, {} failed.\n",
        m.tenants, m.seconds, m.per_tenant_ms, m.failed
    );
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("–".to_string(), |r| format!("{r:.2}×"))
}

fn opt(v: Option<i64>) -> String {
    v.map_or("–".to_string(), |v| v.to_string())
}

fn cpu_cell(c: &CpuShare) -> String {
    let p = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
    format!(
        "{:.0} / {} / {} / {:.0}",
        c.bench_pct,
        p(c.server_pct),
        p(c.database_pct),
        c.other_pct
    )
}

/// Verdicts on the benchmark's targets (docs/BENCHMARKS.md) from this run's numbers.
pub fn targets(
    runs: &[RunResult],
    scale: Option<&ScaleResult>,
    concurrency: usize,
    max_pool_size: i64,
    total_errors: u64,
) -> Vec<Target> {
    let mut out = Vec::new();
    let point = runs
        .iter()
        .filter(|r| r.scenario == Scenario::PointRead)
        .max_by_key(|r| r.tenants);
    let at = |r: &RunResult| {
        let mut s = format!("at {} tenants, concurrency {concurrency}", r.tenants);
        if r.tenants < 10_000 {
            s.push_str(" (the target names 10,000)");
        }
        s
    };
    out.push(
        match point.and_then(|r| r.throughput_ratio.map(|x| (r, x))) {
            Some((r, x)) => Target {
                target: "Point read throughput ≥ 0.7 × driver".into(),
                measured: format!(
                    "{x:.2}× ({:.0} vs {:.0} req/s) {}",
                    r.tenantry.rps,
                    r.baseline.as_ref().map_or(0.0, |b| b.rps),
                    at(r)
                ),
                met: Some(x >= MIN_THROUGHPUT_RATIO),
            },
            None => not_measured("Point read throughput ≥ 0.7 × driver"),
        },
    );
    out.push(match point.and_then(|r| r.p99_ratio.map(|x| (r, x))) {
        Some((r, x)) => Target {
            target: "Point read p99 ≤ 2 × driver".into(),
            measured: format!(
                "{x:.2}× ({:.2} vs {:.2} ms) {}",
                r.tenantry.p99_ms,
                r.baseline.as_ref().map_or(0.0, |b| b.p99_ms),
                at(r)
            ),
            met: Some(x <= MAX_P99_RATIO),
        },
        None => not_measured("Point read p99 ≤ 2 × driver"),
    });
    out.extend(scale_targets(scale, max_pool_size));
    out.push(Target {
        target: "Zero errors in every scenario".into(),
        measured: format!("{total_errors} failed requests"),
        met: Some(total_errors == 0),
    });
    out
}

fn scale_targets(scale: Option<&ScaleResult>, max_pool_size: i64) -> Vec<Target> {
    let names = [
        "Connections flat from 10 to 10,000 touched tenants, bounded by configuration",
        "RSS growth ≤ 4 KiB per touched tenant",
        "Uncached first request ≤ cached + one catalog round trip",
    ];
    let Some(scale) = scale else {
        return names.iter().map(|n| not_measured(n)).collect();
    };
    let mut out = Vec::new();
    let (first, last) = (scale.points.first(), scale.points.last());
    out.push(match (first, last) {
        (Some(a), Some(b)) if b.touched > a.touched => {
            let pools: Vec<i64> = scale.points.iter().filter_map(|p| p.pool_open).collect();
            let peak = pools.iter().copied().max().unwrap_or(0);
            let grew = b.pool_open.unwrap_or(0) - a.pool_open.unwrap_or(0);
            Target {
                target: names[0].into(),
                measured: format!(
                    "Tenantry pool {} → {} open ({} → {} tenants; configured max {max_pool_size}); \
                     serverStatus {} → {}",
                    opt(a.pool_open),
                    opt(b.pool_open),
                    a.touched,
                    b.touched,
                    opt(a.server_connections),
                    opt(b.server_connections)
                ),
                met: Some(!pools.is_empty() && grew <= CONNECTION_SLACK && peak <= max_pool_size),
            }
        }
        _ => not_measured(names[0]),
    });
    out.push(match (scale.rss_growth_per_tenant_kib, first, last) {
        (Some(g), Some(a), Some(b)) => Target {
            target: names[1].into(),
            measured: format!(
                "{g:.2} KiB per tenant ({:.1} → {:.1} MiB, {} → {} tenants)",
                a.rss_kib as f64 / 1024.0,
                b.rss_kib as f64 / 1024.0,
                a.touched,
                b.touched
            ),
            met: Some(g <= MAX_RSS_PER_TENANT_KIB),
        },
        _ => not_measured(names[1]),
    });
    out.push(match &scale.first_request {
        Some(f) if f.samples > 0 => Target {
            target: names[2].into(),
            measured: format!(
                "+{:.3} ms = {:.2} round trips of {:.3} ms (medians of {}; ≤ {MAX_EXTRA_ROUND_TRIPS} counts as one)",
                f.delta_ms, f.extra_round_trips, f.catalog_round_trip_median_ms, f.samples
            ),
            met: Some(f.extra_round_trips <= MAX_EXTRA_ROUND_TRIPS),
        },
        _ => not_measured(names[2]),
    });
    out
}

fn not_measured(name: &str) -> Target {
    Target {
        target: name.into(),
        measured: "not measured in this run".into(),
        met: None,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (civil-from-days, proleptic Gregorian).
pub fn utc(unix: u64) -> String {
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_764_115_200 + 3_661), "2025-11-26T01:01:01Z");
    }
}
