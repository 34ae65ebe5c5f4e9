//! `Application`: builds everything from a `Config` (clients, catalog, caches, keys, router) and
//! serves it. Used by `tenantry serve` and by the integration tests alike.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use commerce::projections;
use commerce::read::CommerceReads;
use commerce::write::CommerceWrites;
use cqrs::command::UnitOfWork;
use cqrs::projector::Projector;
use cqrs::query::Reads;
use cqrs::read_models::ReadModelCache;
use cqrs::{CommandBus, QueryBus};
use tenancy::catalog::spawn_invalidation_watch;
use tenancy::clusters::RejectionObserver;
use tenancy::lifecycle::{Provisioner, spawn_deletion_sweeper};
use tenancy::moves::{Relocation, spawn_move_sweeper};
use tenancy::rate_limit::TenantRateLimits;
use tenancy::task::AbortOnDrop;
use tenantry_auth::oidc::{OidcVerifier, TraceHeaders};
use tenantry_auth::{AdminKey, JwtSettings, JwtVerifier, TokenMinter};
use tokio::net::TcpListener;

use crate::activity::{Activity, spawn_sampler};
use crate::config::Config;
use crate::http::ErrorChain;
use crate::platform::Platform;
use crate::prometheus::{DispatchMetrics, Metrics};
use crate::routes;
use crate::server;
use crate::state::{AppState, Services};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    _background: Vec<AbortOnDrop>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let state = build_state(config).await?;
        let mut background = vec![
            spawn_invalidation_watch(state.catalog.clone()),
            AbortOnDrop::spawn(prepare_catalog(state.provisioner.clone())),
            state.fleet.spawn(),
            spawn_deletion_sweeper(state.provisioner.clone(), state.config.lease / 2),
            spawn_move_sweeper(state.mover.clone(), state.config.lease / 2),
            spawn_sampler(
                state.activity.clone(),
                state.catalog.clone(),
                state.pools.clone(),
                state.projector.projection_names(),
            ),
        ];
        if state.config.projector {
            background.extend(state.projector.spawn());
        }
        let listener = server::bind(state.config.listen)
            .with_context(|| format!("TENANTRY_LISTEN: cannot bind {}", state.config.listen))?;
        Ok(Application {
            listener,
            state,
            _background: background,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains in-flight requests (see `crate::server`),
    /// hands the fleet leases back and stops the background tasks.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = routes::router(self.state.clone());
        let settings = self.state.config.connections;
        let result = server::serve(self.listener, router, settings, shutdown).await;
        drop(self._background);
        self.state.fleet.leave().await;
        result
    }
}

/// Creates the catalog's indexes and finishes interrupted deletions, retrying while the catalog
/// cluster is unreachable (the server starts anyway; `/readyz` says when it is usable).
async fn prepare_catalog(provisioner: Provisioner) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = async {
            provisioner.catalog().store().ensure_indexes().await?;
            provisioner.resume_deletions().await
        };
        match attempt.await {
            Ok(0) => return,
            Ok(n) => return tracing::info!(tenants = n, "finished interrupted tenant deletions"),
            Err(e) => tracing::warn!(error = %ErrorChain(&e), "catalog not ready; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let platform = Platform::connect(&config)
        .await
        .context("TENANTRY_MONGODB_URI / TENANTRY_CLUSTERS: cannot configure the MongoDB clients")?
        .with_fleet(&config);
    let Platform {
        pools,
        catalog,
        provisioner,
        mover,
        fleet,
        ..
    } = platform;
    let fleet = fleet.context("the server joins the fleet")?;
    let verifier = JwtVerifier::new(&JwtSettings {
        hs256_secret: config.jwt_secret.as_ref().map(|s| s.expose().to_string()),
        public_key_paths: config.jwt_public_keys.clone(),
        jwks_file: config.jwks_file.clone(),
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        leeway_secs: config.jwt_leeway_secs,
        cache_capacity: config.jwt_cache_capacity,
    })
    .map_err(named_setting)?;
    let admin_key = config
        .admin_key_sha256
        .as_deref()
        .map(AdminKey::from_sha256_hex)
        .transpose()
        .map_err(named_setting)?
        .map(Arc::new);
    let minter = config.jwt_secret.as_ref().map(|s| {
        Arc::new(TokenMinter::new(
            s.expose(),
            &config.jwt_issuer,
            &config.jwt_audience,
        ))
    });
    let oidc = OidcVerifier::start(
        config.oidc_issuers.clone(),
        config.oidc_fetch,
        config.jwt_leeway_secs,
        config.jwt_cache_capacity,
        config
            .otel
            .is_some()
            .then(|| Arc::new(crate::telemetry::trace_headers) as TraceHeaders),
    );
    if !verifier.has_keys() && config.oidc_issuers.is_empty() {
        tracing::warn!(
            "no JWT keys configured: every /v1 request will be refused (set TENANTRY_JWT_SECRET or TENANTRY_JWT_PUBLIC_KEYS)"
        );
    }
    if admin_key.is_none() {
        tracing::warn!(
            "no admin key configured: /admin accepts platform-admin tokens only (set TENANTRY_ADMIN_KEY_SHA256)"
        );
    }
    let metrics = Metrics::new(config.metrics_max_tenants);
    let labels = metrics.clone();
    pools.budgets().on_rejection(RejectionObserver(Box::new(move |tenant| {
        metrics::counter!("tenantry_tenant_budget_rejections_total", "tenant" => labels.tenant_label(tenant)).increment(1);
    })));
    let rate_limits = TenantRateLimits::new(config.tenant_rate_limit);
    // With the projector on, its feed drops a pointer when a rebuild switches it.
    let generations = ReadModelCache::new(if config.projector {
        cqrs::read_models::POINTER_TTL_WATCHED
    } else {
        cqrs::read_models::POINTER_TTL_UNWATCHED
    });
    let projector = Projector::new(
        pools.clone(),
        catalog.clone(),
        config.db_prefix.clone(),
        projections::all(),
        fleet.ownership().clone(),
        generations.clone(),
    );
    let writes = CommerceWrites::new(pools.clone(), UnitOfWork::new(projector.clone()));
    let reads = CommerceReads::new(Reads::new(
        pools.clone(),
        projector.projection_names(),
        config.query_read_preference.criteria(),
        config.projection_wait,
        generations,
    ));
    let activity_interval = config.activity_interval;
    Ok(AppState::new(Services {
        commands: CommandBus::new(Arc::new(writes), vec![Arc::new(DispatchMetrics)])
            .relocating(Relocation::new(catalog.clone(), config.moves.hold)),
        queries: QueryBus::new(Arc::new(reads), vec![Arc::new(DispatchMetrics)])
            .relocating(Relocation::new(catalog.clone(), config.moves.hold)),
        metrics,
        projector,
        config: Arc::new(config),
        catalog,
        pools,
        provisioner,
        mover,
        fleet,
        verifier,
        oidc,
        admin_key,
        minter,
        activity: Activity::new(activity_interval),
        rate_limits,
    }))
}

/// A key-configuration error, naming the `TENANTRY_*` setting at fault.
fn named_setting(e: tenantry_auth::KeyError) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: {}",
        crate::config::key_setting(e.setting()),
        e.message()
    )
}
