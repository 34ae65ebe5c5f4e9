//! Configuration: a TOML file and `TENANTRY_*` environment variables (the environment wins),
//! plus the standard `OTEL_*` variables of trace export (environment only), parsed once at start. A bad setting stops the process with a message naming it; secrets are
//! wrapped so that they never reach a log.

mod effective;
mod load;
mod oidc;
mod otel;
mod secret;
mod settings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tenancy::DbPrefix;
use tenancy::clusters::{ClusterConfig, PoolSettings};
use tenancy::moves::MoveSettings;
use tenancy::resolution::ResolutionPolicy;

pub use effective::{Effective, effective};
pub use load::{ConfigError, Source};
pub use otel::{OTEL_SETTINGS, OtelSettings, Root, Sampling};
pub use secret::Secret;
pub use settings::{SETTINGS, Setting, key_setting};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

/// Where queries without `X-Min-Position` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPreferenceSetting {
    Primary,
    PrimaryPreferred,
    Secondary,
    SecondaryPreferred,
    Nearest,
}

impl ReadPreferenceSetting {
    pub fn criteria(self) -> Option<mongodb::options::SelectionCriteria> {
        use mongodb::options::{ReadPreference, ReadPreferenceOptions, SelectionCriteria};
        let options = Some(ReadPreferenceOptions::default());
        let preference = match self {
            ReadPreferenceSetting::Primary => return None,
            ReadPreferenceSetting::PrimaryPreferred => ReadPreference::PrimaryPreferred { options },
            ReadPreferenceSetting::Secondary => ReadPreference::Secondary { options },
            ReadPreferenceSetting::SecondaryPreferred => {
                ReadPreference::SecondaryPreferred { options }
            }
            ReadPreferenceSetting::Nearest => ReadPreference::Nearest { options },
        };
        Some(SelectionCriteria::ReadPreference(preference))
    }
}

/// The HTTP edge: how long a connection may take to send a request head, and how many may be
/// open (see `crate::server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Also the idle keep-alive timeout: hyper runs the same timer while it waits for the next
    /// request head on a kept-alive connection.
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    /// File descriptors the connection cap leaves free (`RLIMIT_NOFILE` − this at most).
    pub reserved_fds: usize,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The default cluster first, then the extra ones.
    pub clusters: Vec<ClusterConfig>,
    pub catalog_db: String,
    pub db_prefix: DbPrefix,
    pub resolution: ResolutionPolicy,
    pub trust_forwarded_host: bool,
    pub jwt_secret: Option<Secret>,
    pub jwt_public_keys: Vec<PathBuf>,
    pub jwks_file: Option<PathBuf>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_leeway_secs: u64,
    pub jwt_cache_capacity: u64,
    pub admin_key_sha256: Option<String>,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub connections: ConnectionSettings,
    pub cors_origins: Vec<String>,
    pub cache_ttl: Duration,
    pub pools: PoolSettings,
    pub moves: MoveSettings,
    pub migration_parallelism: usize,
    /// Interval of the per-tenant activity samples (the console's charts).
    pub activity_interval: Duration,
    pub tenant_rate_limit: u32,
    pub metrics_max_tenants: usize,
    pub projector: bool,
    pub lease: Duration,
    pub projection_leases: bool,
    pub projection_wait: Duration,
    pub query_read_preference: ReadPreferenceSetting,
    pub log_format: LogFormat,
    /// Trace export (`OTEL_*` variables); `None`: off.
    pub otel: Option<OtelSettings>,
    /// Trusted OpenID Connect providers (`TENANTRY_OIDC_*` and the file's `[[oidc_issuer]]`).
    pub oidc_issuers: Vec<tenantry_auth::oidc::IssuerSettings>,
    pub oidc_fetch: tenantry_auth::oidc::FetchPolicy,
}

impl Config {
    /// Reads the file named by `file` (or `TENANTRY_CONFIG`), then the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        load::load(file, |name| std::env::var(name).ok())
    }

    /// Builds a configuration from explicit values (tests, tools): `name` → value, like env.
    /// A name that is no setting is an error (a misspelt one would otherwise do nothing).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<&str, String> = pairs.into_iter().collect();
        let known = |name: &str| SETTINGS.iter().chain(OTEL_SETTINGS).any(|s| s.env == name);
        if let Some(unknown) = map.keys().find(|name| !known(name)) {
            return Err(ConfigError {
                setting: (*unknown).to_string(),
                message: "is not a setting (see `tenantry config`)".to_string(),
            });
        }
        load::load(None, |name| map.get(name).cloned())
    }
}

/// An environment of `pairs` (tests of the loaders).
#[cfg(test)]
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let env: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| env.get(name).cloned()
}
