//! Export and import throughput: one tenant with `orders` orders (written through the API), its
//! export read whole (`GET /admin/tenants/{id}/export`), then imported into a new tenant
//! (`POST /admin/tenants/{id}/import`, which also rebuilds the read models from the imported
//! outbox). Reported: documents and bytes, and documents per second each way.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::api::Api;
use crate::fleet::{suffix, write_events};
use crate::server::{Server, ServerConfig};

/// How long an import (and its rebuild) may take.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(1800);

/// One export and import of the same tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TransferRun {
    pub orders: usize,
    pub documents: u64,
    pub bytes: u64,
    pub export_seconds: f64,
    pub export_documents_per_second: f64,
    /// The import with its read-model rebuild.
    pub import_seconds: f64,
    pub import_documents_per_second: f64,
    /// Of the import, loading the documents and rebuilding the read models (the server's
    /// figures).
    pub load_seconds: f64,
    pub rebuild_seconds: f64,
}

/// What to run.
pub struct TransferSpec<'a> {
    pub config: &'a ServerConfig,
    pub out: &'a Path,
    pub orders: usize,
}

pub async fn run(spec: &TransferSpec<'_>) -> Result<TransferRun> {
    let mut config = spec.config.clone();
    config.catalog_db = format!("{}_transfer", spec.config.catalog_db);
    let server = Server::start(&config, &spec.out.join("server-transfer.log")).await?;
    let api = Api::new(&server.base_url, &config.admin_key, &config.jwt_secret)?;
    let prefix = format!("tx-{}", suffix(&config.catalog_db));
    let shops = write_events(&api, &prefix, 1, spec.orders).await?;
    let source = &shops.first().context("no tenant was written")?.id;

    let started = Instant::now();
    let export = api
        .admin_request(Method::GET, &format!("/admin/tenants/{source}/export"))
        .send()
        .await
        .context("GET export")?;
    if export.status() != StatusCode::OK {
        bail!("GET export: {}", export.status());
    }
    let stream = export.bytes().await.context("reading the export")?;
    let export_seconds = started.elapsed().as_secs_f64();
    let documents = stream.iter().filter(|b| **b == b'\n').count() as u64;

    let target = format!("{prefix}-copy");
    api.create_tenant(&target).await?;
    let started = Instant::now();
    let import = api
        .admin_request(Method::POST, &format!("/admin/tenants/{target}/import"))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .timeout(IMPORT_TIMEOUT)
        .body(stream.clone())
        .send()
        .await
        .context("POST import")?;
    let status = import.status();
    let answer = import.text().await.unwrap_or_default();
    if status != StatusCode::OK {
        bail!("POST import: {status} {answer}");
    }
    let import_seconds = started.elapsed().as_secs_f64();
    let report: serde_json::Value =
        serde_json::from_str(&answer).context("the import's report is not JSON")?;
    let seconds = |field: &str| report[field].as_f64().unwrap_or(0.0) / 1000.0;
    server.stop().await?;
    Ok(TransferRun {
        orders: spec.orders,
        documents,
        bytes: stream.len() as u64,
        export_seconds,
        export_documents_per_second: documents as f64 / export_seconds.max(1e-9),
        import_seconds,
        import_documents_per_second: documents as f64 / import_seconds.max(1e-9),
        load_seconds: seconds("load_ms"),
        rebuild_seconds: seconds("rebuild_ms"),
    })
}
