//! `tenantry tenants export ID` and `tenantry tenants import ID`: a tenant's data as NDJSON
//! (Extended JSON v2) on standard output, and back from standard input, as
//! `GET /admin/tenants/{id}/export` and `POST /admin/tenants/{id}/import` do. The data goes to
//! stdout, so every note goes to stderr.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cqrs::projector::rebuild_read_models;
use tenancy::TenantId;
use tenantry_api::Config;
use tenantry_api::http::ProblemCode;
use tenantry_api::platform::Platform;
use tenantry_api::transfer::{self, ImportError, ImportReport};
use tokio::sync::mpsc;

use super::error::CliCode;
use super::output::Output;
use super::{CliError, tenant_id};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Tenant id.
    #[arg(value_name = "ID", value_parser = tenant_id)]
    id: TenantId,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Tenant id: a tenant with no data yet (create it first).
    #[arg(value_name = "ID", value_parser = tenant_id)]
    id: TenantId,
    /// Read from this file instead of standard input.
    #[arg(long, short, value_name = "FILE")]
    input: Option<PathBuf>,
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn io_error(context: &'static str) -> impl FnOnce(std::io::Error) -> CliError {
    move |e| CliError::failed(CliCode::Io, e).context(context)
}

/// The tenant, its database and where its data is.
struct Opened {
    tenant: tenancy::Tenant,
    db: tenancy::clusters::TenantDb,
    sources: Vec<transfer::Source>,
}

async fn open(id: &TenantId, config: &Config) -> Result<Opened, CliError> {
    let platform = Platform::connect(config).await?;
    let tenant = platform.store().require(id).await?;
    let db = platform.pools.maintenance_db(&tenant).await?;
    let sources = transfer::data_sources(db.database(), &commerce::projections::all())
        .await
        .map_err(|e| CliError::failed(CliCode::DatabaseError, e))?;
    Ok(Opened {
        tenant,
        db,
        sources,
    })
}

pub async fn export(args: ExportArgs, config: &Config) -> Result<(), CliError> {
    let Opened {
        tenant,
        db,
        sources,
    } = open(&args.id, config).await?;
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).map_err(io_error("cannot create the output file"))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::new(sink);
    let (lines, mut received) = mpsc::channel(256);
    let database = db.database().clone();
    let reading = tokio::spawn(async move { transfer::export(&database, &sources, lines).await });
    while let Some(line) = received.recv().await {
        let line = line.map_err(io_error("the export failed"))?;
        sink.write_all(&line)
            .map_err(io_error("cannot write the export"))?;
    }
    sink.flush().map_err(io_error("cannot write the export"))?;
    let sent = reading
        .await
        .map_err(|e| CliError::failed(ProblemCode::Internal, e))?
        .map_err(|e| CliError::failed(CliCode::DatabaseError, e).context("the export failed"))?;
    note(&format!(
        "exported {sent} documents of tenant {}",
        tenant.id
    ));
    Ok(())
}

pub async fn import(args: ImportArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let Opened {
        tenant,
        db,
        sources,
    } = open(&args.id, config).await?;
    let source: Box<dyn BufRead + Send> = match &args.input {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(io_error("cannot open the input file"))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    // Read on a thread of its own (blocking reads), a bounded channel apart.
    let (send, mut received) = mpsc::channel(256);
    std::thread::spawn(move || {
        for line in source.lines() {
            if send.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let lines = futures::stream::poll_fn(move |cx| received.poll_recv(cx));
    note(&format!("importing into tenant {}", tenant.id));
    let started = Instant::now();
    let imported = transfer::import(db.database(), &sources, lines)
        .await
        .map_err(import_error)?;
    let loaded = started.elapsed();
    let rebuilt = rebuild_read_models(&db, &commerce::projections::all()).await?;
    let report = ImportReport::new(&tenant.id, imported, rebuilt.generation, loaded, started);
    if out.json {
        return out.json(&report);
    }
    let total: u64 = report.imported.documents.values().sum();
    out.line(&format!(
        "imported {total} documents into tenant {} (events up to {}) in {} ms; read models rebuilt (generation {}) in {} ms",
        tenant.id, report.imported.last_position, report.load_ms, report.generation, report.rebuild_ms
    ))
}

fn import_error(e: ImportError) -> CliError {
    match e {
        ImportError::NotEmpty => CliError::invalid(ProblemCode::TenantNotEmpty, e),
        ImportError::InProgress | ImportError::TakenOver => {
            CliError::failed(ProblemCode::ImportInProgress, e)
        }
        ImportError::Line { .. } | ImportError::Gaps { .. } => {
            CliError::invalid(ProblemCode::ValidationFailed, e)
        }
        ImportError::Read(_) => CliError::failed(CliCode::Io, e),
        ImportError::Database(_) => CliError::failed(CliCode::DatabaseError, e),
    }
}
