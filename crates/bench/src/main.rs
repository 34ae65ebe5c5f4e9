//! `tenantry-bench`: what Tenantry costs per request over talking to MongoDB directly, and what
//! happens to it at ten thousand tenants (docs/BENCHMARKS.md). Normally run by `scripts/bench.sh`.
//!
//! 1. Starts a release `tenantry serve` (a child process on 127.0.0.1) against `MONGODB_URI`, or
//!    the embedded database (`testkit::mongodb_uri`) when unset.
//! 2. For each tenant count (1, 100, 10,000; quick: 1, 20): provisions the tenants still missing
//!    through `POST /admin/tenants` and seeds them with products, then runs every scenario
//!    against Tenantry over HTTP and the same operations with the driver (`baseline`).
//! 3. Restarts the server and takes the scale figures (`scale`); then, each on a server of its
//!    own, projection throughput (`fleet`), export/import (`transfer`) and a tenant moved to a
//!    second cluster under load (`moves`).
//! 4. Writes `tenantry-bench.json` and `tenantry-bench.md` to `--out`, prints the Markdown, and
//!    exits non-zero if any request failed (never because of a timing).

mod api;
mod baseline;
mod dbstat;
mod fleet;
mod layers;
mod load;
mod meter;
mod moves;
mod par;
mod procfs;
mod provision;
mod report;
mod scale;
mod scenarios;
mod server;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::api::{Api, BenchTenant};
use crate::baseline::DbTargets;
use crate::load::LoadSpec;
use crate::meter::Meters;
use crate::report::{Machine, Report, RunResult};
use crate::scenarios::{HttpTargets, Scenario};
use crate::server::{Server, ServerConfig};

/// The same allocator as `tenantry`, so the driver baseline is not handicapped by glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tenantry's default `TENANTRY_MAX_POOL_SIZE`; the baseline's client gets the same pool.
const DEFAULT_MAX_POOL_SIZE: u32 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "tenantry-bench",
    about = "Benchmark Tenantry against the raw MongoDB driver"
)]
struct Args {
    /// Smoke mode for CI: 1 and 20 tenants, 3 s runs, small scale steps (< 2 minutes).
    #[arg(long)]
    quick: bool,
    /// Where the JSON and Markdown results and the server logs go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// The `tenantry` binary (default: next to this one).
    #[arg(long)]
    tenantry_bin: Option<PathBuf>,
    /// Tenant counts to run the scenarios at [full: 1,100,10000; quick: 1,20].
    #[arg(long, value_delimiter = ',')]
    tenants: Option<Vec<usize>>,
    /// Scenarios to run [all].
    #[arg(long, value_delimiter = ',', value_enum)]
    scenarios: Option<Vec<Scenario>>,
    /// Concurrent requests of every run.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds per run [full: 10; quick: 3].
    #[arg(long)]
    duration: Option<f64>,
    /// Warm-up seconds before each measurement [full: 2; quick: 0.5].
    #[arg(long)]
    warmup: Option<f64>,
    /// Products seeded per tenant [full: 20; quick: 20].
    #[arg(long)]
    products: Option<usize>,
    /// Tenants touched before each scale reading [full: 10,1000,10000; quick: 2,10,20].
    #[arg(long, value_delimiter = ',')]
    scale_steps: Option<Vec<usize>>,
    /// Tenants sampled for first-request latency [full: 200; quick: 5].
    #[arg(long)]
    first_request_samples: Option<usize>,
    /// Concurrent `POST /admin/tenants`.
    #[arg(long, default_value_t = 16)]
    provision_concurrency: usize,
    /// Tenants seeded at once (each tenant's products one after another).
    #[arg(long, default_value_t = 16)]
    seed_concurrency: usize,
    /// Skip the driver baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Skip the scale phase.
    #[arg(long)]
    no_scale: bool,
    /// Instance counts of the projection-throughput phase [1,3].
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    projection_instances: Vec<usize>,
    /// Skip the projection-throughput phase.
    #[arg(long)]
    no_projection: bool,
    /// Orders of the export/import phase's tenant [50,000; quick: 500].
    #[arg(long)]
    transfer_orders: Option<usize>,
    /// Skip the export/import phase.
    #[arg(long)]
    no_transfer: bool,
    /// Documents of the tenant moved under load [100,000; quick: 2,000].
    #[arg(long)]
    move_docs: Option<u64>,
    /// The second cluster of the move phase (a MongoDB URI); default: an embedded database the
    /// phase starts (skipped when there is no `tenantry-devdb` binary).
    #[arg(long)]
    move_target_uri: Option<String>,
    /// Skip the move phase.
    #[arg(long)]
    no_move: bool,
    /// Run the layer breakdown of a point read at the largest tenant count (default in full mode).
    #[arg(long, conflicts_with = "no_layers")]
    layers: bool,
    /// Skip the layer breakdown.
    #[arg(long)]
    no_layers: bool,
    /// Extra server environment, `NAME=value` (repeatable), e.g. `TENANTRY_TENANT_BUDGET=32`.
    #[arg(long = "server-env", value_parser = parse_pair)]
    server_env: Vec<(String, String)>,
    /// PID of the database server, to report its CPU use (scripts/bench.sh passes it).
    #[arg(long, env = "BENCH_DB_PID")]
    db_pid: Option<u32>,
}

fn parse_pair(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected NAME=value, got {raw}"))
}

/// What a run does, from the mode and the overrides.
struct Plan {
    mode: &'static str,
    counts: Vec<usize>,
    scenarios: Vec<Scenario>,
    load: LoadSpec,
    products: usize,
    scale_steps: Vec<usize>,
    first_request_samples: usize,
    layers: bool,
    /// How long to wait, before each run, for other processes on the machine to go quiet.
    machine_wait: Duration,
}

impl Plan {
    fn from(args: &Args) -> Result<Plan> {
        let quick = args.quick;
        let pick = |v: Option<f64>, full: f64, quick_v: f64| {
            v.unwrap_or(if quick { quick_v } else { full })
        };
        let mut counts = args.tenants.clone().unwrap_or(if quick {
            vec![1, 20]
        } else {
            vec![1, 100, 10_000]
        });
        counts.sort_unstable();
        counts.dedup();
        if counts.is_empty() || counts[0] == 0 || counts[counts.len() - 1] > 99_999 {
            bail!("tenant counts must be from 1 to 99,999");
        }
        let mut scale_steps = args.scale_steps.clone().unwrap_or(if quick {
            vec![2, 10, 20]
        } else {
            vec![10, 1_000, 10_000]
        });
        scale_steps.sort_unstable();
        scale_steps.dedup();
        if scale_steps.last().is_some_and(|&s| s > 99_999) {
            bail!("scale steps must be at most 99,999");
        }
        let products = args.products.unwrap_or(20);
        if !(1..=1_000).contains(&products) {
            bail!("--products must be from 1 to 1000");
        }
        let (duration, warmup) = (pick(args.duration, 10.0, 3.0), pick(args.warmup, 2.0, 0.5));
        if !(0.1..=3_600.0).contains(&duration) || !(0.0..=600.0).contains(&warmup) {
            bail!("--duration must be 0.1..3600 s and --warmup 0..600 s");
        }
        Ok(Plan {
            mode: if quick { "quick" } else { "full" },
            counts,
            scenarios: args.scenarios.clone().unwrap_or(Scenario::ALL.to_vec()),
            load: LoadSpec {
                concurrency: args.concurrency.clamp(1, 4096),
                warmup: Duration::from_secs_f64(warmup),
                duration: Duration::from_secs_f64(duration),
            },
            products,
            scale_steps,
            first_request_samples: args.first_request_samples.unwrap_or(if quick {
                5
            } else {
                200
            }),
            layers: args.layers || (!quick && !args.no_layers),
            machine_wait: Duration::from_secs(if quick { 2 } else { 60 }),
        })
    }

    fn max_tenants(&self, scale: bool) -> usize {
        let counts = self.counts.last().copied().unwrap_or(1);
        let steps = if scale {
            self.scale_steps.last().copied().unwrap_or(0)
        } else {
            0
        };
        counts.max(steps)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tenantry-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) if report.total_errors == 0 => ExitCode::SUCCESS,
        Ok(report) => {
            eprintln!(
                "tenantry-bench: {} requests failed (see the tables above)",
                report.total_errors
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tenantry-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn progress(started: Instant, message: &str) {
    eprintln!("[{:>6.1}s] {message}", started.elapsed().as_secs_f64());
}

async fn run(args: Args) -> Result<Report> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let plan = Plan::from(&args)?;
    let (uri, database) = match std::env::var("MONGODB_URI") {
        Ok(uri) if !uri.trim().is_empty() => (uri, "MONGODB_URI".to_string()),
        _ => (
            testkit::try_mongodb_uri().map_err(anyhow::Error::msg)?,
            "embedded SecantusDB (tenantry-devdb, temporary store)".to_string(),
        ),
    };
    let binary = match &args.tenantry_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("locating this executable")?
            .with_file_name("tenantry"),
    };
    if !binary.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p tenantry-api --bin tenantry`",
            binary.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let run_id = server::random_hex(4)?;
    let mut config = ServerConfig::new(binary, uri.clone(), &run_id)?;
    config.extra_env = args.server_env.clone();
    let max_pool_size = args
        .server_env
        .iter()
        .find(|(k, _)| k == "TENANTRY_MAX_POOL_SIZE")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_POOL_SIZE);

    let db = baseline::client(&uri, max_pool_size).await?;
    baseline::ping(&db).await?;
    let status_db = baseline::client(&uri, 1).await?;
    let database_version = database_version(&status_db).await;
    let ticks = procfs::ticks_per_second();

    progress(
        started,
        &format!("starting tenantry ({})", config.binary.display()),
    );
    let server = Server::start(&config, &args.out.join("server-scenarios.log")).await?;
    let api = Api::new(&server.base_url, &config.admin_key, &config.jwt_secret)?;

    let mut tenants: Vec<BenchTenant> = Vec::new();
    let (mut batches, mut runs, mut layer_rows) = (Vec::new(), Vec::new(), Vec::new());
    let scale_max = plan.max_tenants(!args.no_scale);
    for &count in &plan.counts.clone() {
        grow(
            &api,
            &run_id,
            &plan,
            &args,
            &mut tenants,
            count,
            &mut batches,
            started,
        )
        .await?;
        let http = HttpTargets::new(&api, &tenants[..count]);
        let direct = DbTargets::new(&db, &tenants[..count]);
        for &scenario in &plan.scenarios {
            if !scenario.runs_at(count, plan.counts[0]) {
                continue;
            }
            meter::settle(&server, args.db_pid, ticks, plan.machine_wait).await?;
            let primed_errors = http.prime(plan.load.concurrency).await?;
            meter::server_quiet(&server).await?;
            let meters = Meters::start(&status_db, server.pid, args.db_pid, ticks).await;
            let mut stats = http.run(scenario, plan.load).await?;
            stats.errors += primed_errors;
            let t = meters.finish(&status_db, stats).await;
            let b = if args.no_baseline || !scenario.has_baseline() {
                None
            } else {
                meter::settle(&server, args.db_pid, ticks, plan.machine_wait).await?;
                let meters = Meters::start(&status_db, server.pid, args.db_pid, ticks).await;
                let stats = direct.run(scenario, plan.load).await?;
                Some(meters.finish(&status_db, stats).await)
            };
            let result = RunResult::new(count, scenario, t, b);
            progress(started, &summary(&result));
            runs.push(result);
        }
        if plan.layers && Some(&count) == plan.counts.last() {
            progress(started, "layer breakdown of a point read");
            layer_rows = layers::run(layers::LayerInput {
                server: &server,
                http: &http,
                direct: &direct,
                status_db: &status_db,
                db_pid: args.db_pid,
                ticks,
                spec: plan.load,
                machine_wait: plan.machine_wait,
            })
            .await?;
        }
    }
    if scale_max > tenants.len() {
        grow(
            &api,
            &run_id,
            &plan,
            &args,
            &mut tenants,
            scale_max,
            &mut batches,
            started,
        )
        .await?;
    }
    server.stop().await?;
    db.shutdown().await;

    let scale = if args.no_scale {
        None
    } else {
        Some(scale_phase(&config, &args, &plan, &status_db, &tenants, started).await?)
    };

    let projection = if args.no_projection {
        Vec::new()
    } else {
        progress(started, "projection throughput with 1 and more instances");
        let (tenants, orders) = if args.quick { (4, 25) } else { (20, 200) };
        let runs = fleet::run(&fleet::ProjectionSpec {
            config: &config,
            out: &args.out,
            status_db: &status_db,
            tenants,
            orders_per_tenant: orders,
            instance_counts: &args.projection_instances,
        })
        .await?;
        for r in &runs {
            progress(
                started,
                &format!(
                    "projection, {} instance(s): {} events in {:.2} s, {:.0} events/s, {:.1} db ops/event",
                    r.instances, r.events, r.seconds, r.events_per_second, r.ops_per_event
                ),
            );
        }
        runs
    };

    let transfer = if args.no_transfer {
        None
    } else {
        let orders = args
            .transfer_orders
            .unwrap_or(if args.quick { 500 } else { 50_000 });
        progress(
            started,
            &format!("export and import of a tenant with {orders} orders"),
        );
        let run = transfer::run(&transfer::TransferSpec {
            config: &config,
            out: &args.out,
            orders,
        })
        .await?;
        progress(
            started,
            &format!(
                "export: {} documents ({:.1} MiB) in {:.2} s, {:.0} documents/s; import with rebuild: {:.2} s, {:.0} documents/s (load {:.2} s, rebuild {:.2} s)",
                run.documents,
                run.bytes as f64 / 1_048_576.0,
                run.export_seconds,
                run.export_documents_per_second,
                run.import_seconds,
                run.import_documents_per_second,
                run.load_seconds,
                run.rebuild_seconds
            ),
        );
        Some(run)
    };

    let (moved, move_skipped) = if args.no_move {
        (None, None)
    } else {
        move_phase(&config, &args, &plan, &status_db, started).await?
    };

    let total_errors = Report::count_errors(&runs, &layer_rows, scale.as_ref())
        + moved.as_ref().map_or(0, moves::MoveRun::failures);
    let runs_for_notes = runs.clone();
    let mut targets = report::targets(
        &runs,
        scale.as_ref(),
        plan.load.concurrency,
        i64::from(scale::SCALE_MAX_POOL_SIZE),
        total_errors,
    );
    targets.push(moves::markdown::target(moved.as_ref()));
    let mut notes = notes(&plan, &runs_for_notes);
    notes.extend(move_skipped);
    let report = Report {
        mode: plan.mode,
        started_utc: report::utc(started_unix),
        wall_seconds: started.elapsed().as_secs_f64(),
        machine: Machine::read(),
        database,
        database_version,
        load: plan.load,
        products_per_tenant: plan.products,
        tenant_counts: plan.counts.clone(),
        server_settings: config.extra_env.clone(),
        batches,
        runs,
        layers: layer_rows,
        scale,
        projection,
        transfer,
        moves: moved,
        targets,
        total_errors,
        notes,
    };
    let markdown = report.write(&args.out)?;
    println!("{markdown}");
    progress(
        started,
        &format!(
            "results in {}",
            args.out.join("tenantry-bench.{json,md}").display()
        ),
    );
    Ok(report)
}

/// The move phase (`moves`): its result, or why it was skipped.
async fn move_phase(
    config: &ServerConfig,
    args: &Args,
    plan: &Plan,
    status_db: &mongodb::Client,
    started: Instant,
) -> Result<(Option<moves::MoveRun>, Option<String>)> {
    let quick = args.quick;
    let documents = args
        .move_docs
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    progress(
        started,
        &format!(
            "moving a tenant of {documents} documents under load (concurrency {})",
            plan.load.concurrency
        ),
    );
    let phase = moves::run(&moves::MoveSpec {
        config,
        out: &args.out,
        status_db,
        documents,
        concurrency: plan.load.concurrency,
        warmup: plan.load.warmup,
        before: Duration::from_secs(if quick { 2 } else { 5 }),
        after: Duration::from_secs(if quick { 1 } else { 3 }),
        target_uri: args.move_target_uri.clone(),
        started,
        db_pid: args.db_pid,
        ticks: procfs::ticks_per_second(),
        machine_wait: plan.machine_wait,
    })
    .await?;
    let run = match phase {
        moves::Phase::Skipped(why) => {
            progress(started, &why);
            return Ok((None, Some(why)));
        }
        moves::Phase::Ran(run) => *run,
    };
    let (d, w) = (&run.during, &run.during.writes);
    progress(
        started,
        &format!(
            "move {}: {} documents in {:.2} s ({:.0} documents/s), write pause {} ms; during: \
             {:.0} req/s (before {:.0}, dip {:.1} %), writes p50 {:.1} p99 {:.1} max {:.1} ms, \
             {} over 1 s; {} failed requests",
            run.state,
            run.documents_copied,
            run.move_seconds,
            run.documents_per_second,
            run.write_pause_ms
                .map_or("–".to_string(), |v| v.to_string()),
            d.rps,
            run.before.rps,
            run.dip_pct,
            w.p50_ms,
            w.p99_ms,
            w.max_ms,
            d.slow_writes,
            run.errors
        ),
    );
    for e in &run.error_samples {
        progress(started, &format!("    error: {e}"));
    }
    Ok((Some(run), None))
}

/// The scale figures: a fresh projector-off server (request path), then a fresh projector-on
/// one (its start-up sweep).
async fn scale_phase(
    config: &ServerConfig,
    args: &Args,
    plan: &Plan,
    status_db: &mongodb::Client,
    tenants: &[BenchTenant],
    started: Instant,
) -> Result<scale::ScaleResult> {
    progress(started, "scale: fresh server, projector off");
    let mut off = config.clone();
    off.extra_env
        .push(("TENANTRY_PROJECTOR".to_string(), "off".to_string()));
    off.extra_env.push((
        "TENANTRY_MAX_POOL_SIZE".to_string(),
        scale::SCALE_MAX_POOL_SIZE.to_string(),
    ));
    let server = Server::start(&off, &args.out.join("server-scale.log")).await?;
    let api = Api::new(&server.base_url, &config.admin_key, &config.jwt_secret)?;
    let mut result = scale::run(scale::ScaleInput {
        server: &server,
        api: &api,
        db: status_db,
        catalog_db: &config.catalog_db,
        tenants,
        steps: &plan.scale_steps,
        first_request_samples: plan.first_request_samples,
    })
    .await?;
    server.stop().await?;
    progress(
        started,
        "scale: fresh server, projector on (start-up sweep)",
    );
    let server = Server::start(config, &args.out.join("server-sweep.log")).await?;
    let api = Api::new(&server.base_url, &config.admin_key, &config.jwt_secret)?;
    let sweep = scale::sweep(&server, &api, status_db, tenants, result.idle.rss_kib).await?;
    server.stop().await?;
    result.projector_sweep = Some(sweep);
    Ok(result)
}

/// Provisions and seeds tenants until there are `count`, recording both batches.
#[allow(clippy::too_many_arguments)]
async fn grow(
    api: &Api,
    run_id: &str,
    plan: &Plan,
    args: &Args,
    tenants: &mut Vec<BenchTenant>,
    count: usize,
    batches: &mut Vec<provision::Batch>,
    started: Instant,
) -> Result<()> {
    if count <= tenants.len() {
        return Ok(());
    }
    let from = tenants.len();
    let (made, batch) =
        provision::provision(api, run_id, from, count, args.provision_concurrency).await?;
    progress(
        started,
        &format!(
            "{}: {:.1} s, {:.1}/s",
            batch.what, batch.seconds, batch.per_second
        ),
    );
    batches.push(batch);
    let (seeded, batch) = provision::seed(api, made, plan.products, args.seed_concurrency).await?;
    progress(
        started,
        &format!(
            "{}: {:.1} s, {:.1}/s",
            batch.what, batch.seconds, batch.per_second
        ),
    );
    batches.push(batch);
    tenants.extend(seeded);
    Ok(())
}

fn summary(r: &RunResult) -> String {
    let side = |s: &load::Stats| {
        format!(
            "{:.0} req/s p50 {:.2} p99 {:.2} max {:.1} ms, {} errors",
            s.rps, s.p50_ms, s.p99_ms, s.max_ms, s.errors
        )
    };
    let mut line = format!(
        "{} tenants, {}: tenantry {}",
        r.tenants,
        r.scenario_name,
        side(&r.tenantry)
    );
    if let Some(b) = &r.baseline {
        line.push_str(&format!("; driver {}", side(b)));
    }
    for e in r.tenantry.error_samples.iter().take(3) {
        line.push_str(&format!("\n    error: {e}"));
    }
    line
}

async fn database_version(db: &mongodb::Client) -> Option<String> {
    let info = db
        .database("admin")
        .run_command(mongodb::bson::doc! {"buildInfo": 1})
        .await
        .ok()?;
    info.get_str("version").ok().map(String::from)
}

/// CPU of other processes above this (percent of a core) marks a run as disturbed.
const DISTURBED_PCT: f64 = 20.0;

fn notes(plan: &Plan, runs: &[RunResult]) -> Vec<String> {
    let disturbed: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            let t = (r.tenantry_cpu.other_pct > DISTURBED_PCT)
                .then(|| format!("{} at {} tenants (Tenantry)", r.scenario_name, r.tenants));
            let b = r
                .baseline_cpu
                .filter(|c| c.other_pct > DISTURBED_PCT)
                .map(|_| format!("{} at {} tenants (driver)", r.scenario_name, r.tenants));
            [t, b].into_iter().flatten()
        })
        .collect();
    let mut notes = Vec::new();
    if !disturbed.is_empty() {
        notes.push(format!(
            "**Disturbed runs** (other processes used > {DISTURBED_PCT:.0} % of a core meanwhile; \
             see the CPU column): {}.",
            disturbed.join(", ")
        ));
    }
    notes.extend([
        "Everything runs on one machine: the load generator, Tenantry and the database share the \
         same cores (see the CPU column), so ratios include that contention."
            .to_string(),
        "Driver baseline: point read = find_one by _id on product_list; list = find on \
         product_list sorted by _id, limit 21; order = one transaction (conditional stock $inc \
         on products, insert into orders, $inc of a _counters document, two events into \
         bench_outbox), retried like cqrs::transaction. Tenantry's order is the same transaction \
         (a burst on one tenant commits in groups), and its projector then updates four read \
         models, which the baseline does not."
            .to_string(),
        format!(
            "Requests are spread round-robin over the tenants of a run, and over the {} products \
             of each tenant; every request carries its own tenant's HS256 token.",
            plan.products
        ),
        "Before each Tenantry run every tenant gets one point read (priming), so the catalog \
         cache (TTL 30 s) holds every tenant during the measurement: the scenarios measure the \
         cached request path; the cost of an uncached tenant is in the scale section, and the \
         DB round trips column shows any cache misses (one extra round trip each)."
            .to_string(),
    ]);
    notes
}
