//! `AppState`: what every handler may use, built once by `Application::build`.
//!
//! Axum clones the state for every request and every `from_fn_with_state` layer, so `AppState`
//! is one `Arc` around the `Services`: a clone is a reference-count increment.

use std::sync::Arc;

use commerce::read::CommerceReads;
use commerce::write::CommerceWrites;
use cqrs::projector::Projector;
use cqrs::{CommandBus, QueryBus};
use tenancy::catalog::CatalogCache;
use tenancy::clusters::ClusterPools;
use tenancy::fleet::Fleet;
use tenancy::lifecycle::Provisioner;
use tenantry_auth::oidc::OidcVerifier;
use tenantry_auth::{AdminKey, JwtVerifier, TokenMinter};

use crate::activity::Activity;
use crate::config::Config;

/// A shared handle on the services; dereferences to them (`state.config`, `state.queries`, ...).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub config: Arc<Config>,
    pub catalog: CatalogCache,
    pub pools: ClusterPools,
    pub provisioner: Provisioner,
    pub mover: tenancy::moves::Mover,
    pub fleet: Fleet,
    /// Tenantry's own tokens (and the only ones `/admin` accepts).
    pub verifier: JwtVerifier,
    /// Tokens of OpenID Connect providers: trusted issuers and tenants' own.
    pub oidc: OidcVerifier,
    pub admin_key: Option<Arc<AdminKey>>,
    pub minter: Option<Arc<TokenMinter>>,
    /// Each tenant's last hour on this instance (requests, latency, gauges).
    pub activity: Activity,
    pub rate_limits: tenancy::rate_limit::TenantRateLimits,
    pub commands: CommandBus<CommerceWrites>,
    pub queries: QueryBus<CommerceReads>,
    pub projector: Projector,
    pub metrics: crate::prometheus::Metrics,
}
