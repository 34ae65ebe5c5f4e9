//! Turning raw strings (file, environment) into a typed `Config`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tenancy::DbPrefix;
use tenancy::clusters::{ClusterConfig, DEFAULT_CLUSTER, PoolSettings};
use tenancy::moves::MoveSettings;
use tenancy::resolution::ResolutionPolicy;
use tenantry_auth::oidc::FetchPolicy;

use super::{
    Config, ConnectionSettings, LogFormat, OTEL_SETTINGS, ReadPreferenceSetting, SETTINGS, Secret,
};

/// A setting that cannot be used, and why. Never contains a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

pub(super) fn bad(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        message: message.into(),
    }
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Default,
    File,
    Environment,
}

/// Raw values by environment-variable name, file first, then environment (blank means unset).
pub(super) struct Raw {
    values: BTreeMap<&'static str, (String, Source)>,
    /// The file's `[[oidc_issuer]]` tables (see `oidc`).
    pub(super) issuer_tables: Vec<toml::Table>,
}

impl Raw {
    /// The file's settings, then the environment's over them.
    pub(super) fn gather(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Raw, ConfigError> {
        let mut raw = BTreeMap::new();
        let mut issuer_tables = Vec::new();
        let file = file
            .map(PathBuf::from)
            .or_else(|| env("TENANTRY_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            read_file(&path, &mut raw, &mut issuer_tables)?;
        }
        for setting in SETTINGS.iter().chain(OTEL_SETTINGS) {
            if let Some(value) = env(setting.env) {
                raw.insert(setting.env, (value, Source::Environment));
            }
        }
        Ok(Raw {
            values: raw,
            issuer_tables,
        })
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.source(name).map(|(value, _)| value)
    }

    /// A set (non-blank) value and where it came from.
    pub(super) fn source(&self, name: &str) -> Option<(&str, Source)> {
        self.values
            .get(name)
            .filter(|(v, _)| !v.trim().is_empty())
            .map(|(v, source)| (v.as_str(), *source))
    }

    pub(super) fn string(&self, name: &'static str) -> String {
        let default = SETTINGS
            .iter()
            .find(|s| s.env == name)
            .map_or("", |s| s.default);
        self.get(name).unwrap_or(default).trim().to_string()
    }

    pub(super) fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        what: &str,
    ) -> Result<T, ConfigError> {
        let raw = self.string(name);
        raw.parse()
            .map_err(|_| bad(name, format!("'{raw}' is not {what}")))
    }

    pub(super) fn list(&self, name: &'static str) -> Vec<String> {
        self.string(name)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

pub(super) fn load(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    build(&Raw::gather(file, env)?)
}

fn read_file(
    path: &Path,
    raw: &mut BTreeMap<&'static str, (String, Source)>,
    issuer_tables: &mut Vec<toml::Table>,
) -> Result<(), ConfigError> {
    let name = "TENANTRY_CONFIG";
    let text =
        std::fs::read_to_string(path).map_err(|e| bad(name, format!("{}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| bad(name, format!("{}: {e}", path.display())))?;
    for (key, value) in table {
        if key == super::oidc::ISSUER_TABLE {
            issuer_tables.extend(super::oidc::tables(path, value)?);
            continue;
        }
        let env = format!("TENANTRY_{}", key.to_ascii_uppercase());
        let setting = SETTINGS
            .iter()
            .find(|s| s.env == env)
            .ok_or_else(|| bad(name, format!("{}: unknown setting '{key}'", path.display())))?;
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        raw.insert(setting.env, (value, Source::File));
    }
    Ok(())
}

pub(super) fn build(raw: &Raw) -> Result<Config, ConfigError> {
    let listen = raw.parse("TENANTRY_LISTEN", "a socket address (host:port)")?;
    let default_uri = raw.get("TENANTRY_MONGODB_URI").ok_or_else(|| {
        bad(
            "TENANTRY_MONGODB_URI",
            "is required (or start the embedded development database: scripts/dev.sh)",
        )
    })?;
    let mut clusters = vec![cluster(
        "TENANTRY_MONGODB_URI",
        DEFAULT_CLUSTER,
        default_uri,
    )?];
    for entry in raw.list("TENANTRY_CLUSTERS") {
        let (name, uri) = entry.split_once('=').ok_or_else(|| {
            bad(
                "TENANTRY_CLUSTERS",
                "expected name=uri entries separated by commas",
            )
        })?;
        let name = name.trim();
        if clusters.iter().any(|c| c.name == name) {
            return Err(bad(
                "TENANTRY_CLUSTERS",
                format!("cluster '{name}' is defined twice"),
            ));
        }
        clusters.push(cluster("TENANTRY_CLUSTERS", name, uri.trim())?);
    }
    let db_prefix = DbPrefix::parse(&raw.string("TENANTRY_DB_PREFIX"))
        .map_err(|m| bad("TENANTRY_DB_PREFIX", m))?;
    let catalog_db = raw.string("TENANTRY_CATALOG_DB");
    if catalog_db.starts_with(db_prefix.as_str())
        || !catalog_db
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(bad(
            "TENANTRY_CATALOG_DB",
            "must use [A-Za-z0-9_] and not start with TENANTRY_DB_PREFIX",
        ));
    }
    let jwt_secret = raw
        .get("TENANTRY_JWT_SECRET")
        .map(|s| Secret::new(s.to_string()));
    if jwt_secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
        return Err(bad("TENANTRY_JWT_SECRET", "must be at least 32 bytes"));
    }
    let admin_key_sha256 = raw
        .get("TENANTRY_ADMIN_KEY_SHA256")
        .map(|s| s.trim().to_ascii_lowercase());
    if admin_key_sha256
        .as_ref()
        .is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad(
            "TENANTRY_ADMIN_KEY_SHA256",
            "must be 64 hex characters (sha256 of the key)",
        ));
    }
    let otel = super::otel::from_env(|name| raw.get(name).map(String::from))?;
    let oidc_issuers = super::oidc::issuers(raw)?;
    // Database commands become spans only when spans are exported.
    let trace_commands = otel.is_some();
    Ok(Config {
        otel,
        oidc_issuers,
        oidc_fetch: FetchPolicy {
            cooldown: Duration::from_secs(
                raw.parse("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "a number of seconds")?,
            ),
            timeout: Duration::from_secs(positive(raw, "TENANTRY_OIDC_FETCH_TIMEOUT_SECS")? as u64),
        },
        listen,
        clusters,
        catalog_db,
        db_prefix,
        resolution: resolution_policy(raw)?,
        trust_forwarded_host: raw.parse("TENANTRY_TRUST_FORWARDED_HOST", "true or false")?,
        jwt_secret,
        jwt_public_keys: raw
            .list("TENANTRY_JWT_PUBLIC_KEYS")
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        jwks_file: raw.get("TENANTRY_JWKS_FILE").map(PathBuf::from),
        jwt_issuer: raw.string("TENANTRY_JWT_ISSUER"),
        jwt_audience: raw.string("TENANTRY_JWT_AUDIENCE"),
        jwt_leeway_secs: raw.parse("TENANTRY_JWT_LEEWAY_SECS", "a number of seconds")?,
        jwt_cache_capacity: raw.parse("TENANTRY_JWT_CACHE_CAPACITY", "a whole number")?,
        admin_key_sha256,
        body_limit_bytes: positive(raw, "TENANTRY_BODY_LIMIT_BYTES")?,
        request_timeout: Duration::from_secs(positive(raw, "TENANTRY_REQUEST_TIMEOUT_SECS")? as u64),
        connections: ConnectionSettings {
            header_read_timeout: Duration::from_secs(positive(
                raw,
                "TENANTRY_HEADER_READ_TIMEOUT_SECS",
            )? as u64),
            max_connections: positive(raw, "TENANTRY_MAX_CONNECTIONS")?,
            reserved_fds: raw.parse("TENANTRY_RESERVED_FDS", "a whole number")?,
        },
        cors_origins: raw.list("TENANTRY_CORS_ORIGINS"),
        cache_ttl: Duration::from_secs(positive(raw, "TENANTRY_CACHE_TTL_SECS")? as u64),
        pools: PoolSettings {
            max_pool_size: positive(raw, "TENANTRY_MAX_POOL_SIZE")? as u32,
            tenant_budget: positive(raw, "TENANTRY_TENANT_BUDGET")? as u32,
            budget_wait: Duration::from_millis(
                raw.parse("TENANTRY_BUDGET_WAIT_MS", "a number of milliseconds")?,
            ),
            dedicated_pool_size: positive(raw, "TENANTRY_DEDICATED_POOL_SIZE")? as u32,
            dedicated_max_clients: positive(raw, "TENANTRY_DEDICATED_MAX_CLIENTS")? as u64,
            dedicated_idle: Duration::from_secs(
                positive(raw, "TENANTRY_DEDICATED_IDLE_SECS")? as u64
            ),
            trace_commands,
        },
        moves: MoveSettings {
            grace: Duration::from_secs(
                raw.parse("TENANTRY_MOVE_GRACE_SECS", "a number of seconds")?,
            ),
            lease: Duration::from_secs(positive(raw, "TENANTRY_LEASE_SECS")? as u64),
            hold: Duration::from_millis(positive(raw, "TENANTRY_MOVE_HOLD_MS")? as u64),
        },
        migration_parallelism: positive(raw, "TENANTRY_MIGRATION_PARALLELISM")?,
        activity_interval: Duration::from_secs(
            positive(raw, "TENANTRY_ACTIVITY_INTERVAL_SECS")?.min(3600) as u64,
        ),
        tenant_rate_limit: raw.parse(
            "TENANTRY_TENANT_RATE_LIMIT",
            "a number of requests per second",
        )?,
        metrics_max_tenants: raw.parse("TENANTRY_METRICS_MAX_TENANTS", "a number")?,
        projector: on_off(raw, "TENANTRY_PROJECTOR")?,
        lease: Duration::from_secs(positive(raw, "TENANTRY_LEASE_SECS")? as u64),
        projection_leases: on_off(raw, "TENANTRY_PROJECTION_LEASES")?,
        projection_wait: Duration::from_millis(positive(raw, "TENANTRY_PROJECTION_WAIT_MS")? as u64),
        query_read_preference: read_preference(raw)?,
        log_format: match raw.string("TENANTRY_LOG_FORMAT").as_str() {
            "auto" => LogFormat::Auto,
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(bad(
                    "TENANTRY_LOG_FORMAT",
                    format!("'{other}' is not json, pretty or auto"),
                ));
            }
        },
    })
}

fn read_preference(raw: &Raw) -> Result<ReadPreferenceSetting, ConfigError> {
    Ok(
        match raw.string("TENANTRY_QUERY_READ_PREFERENCE").as_str() {
            "primary" => ReadPreferenceSetting::Primary,
            "primaryPreferred" => ReadPreferenceSetting::PrimaryPreferred,
            "secondary" => ReadPreferenceSetting::Secondary,
            "secondaryPreferred" => ReadPreferenceSetting::SecondaryPreferred,
            "nearest" => ReadPreferenceSetting::Nearest,
            other => {
                return Err(bad(
                    "TENANTRY_QUERY_READ_PREFERENCE",
                    format!("'{other}' is not a read preference"),
                ));
            }
        },
    )
}

fn on_off(raw: &Raw, name: &'static str) -> Result<bool, ConfigError> {
    match raw.string(name).as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(bad(name, format!("'{other}' is not on or off"))),
    }
}

fn positive(raw: &Raw, name: &'static str) -> Result<usize, ConfigError> {
    match raw.parse::<usize>(name, "a positive whole number")? {
        0 => Err(bad(name, "must be at least 1")),
        n => Ok(n),
    }
}

fn cluster(setting: &str, name: &str, uri: &str) -> Result<ClusterConfig, ConfigError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(
            setting,
            format!("cluster name '{name}' must use [A-Za-z0-9_-]"),
        ));
    }
    if !(uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) {
        // The URI may hold a password: name the cluster, not the value.
        return Err(bad(
            setting,
            format!("cluster '{name}': not a mongodb:// or mongodb+srv:// URI"),
        ));
    }
    Ok(ClusterConfig {
        name: name.to_string(),
        uri: uri.to_string(),
    })
}

fn resolution_policy(raw: &Raw) -> Result<ResolutionPolicy, ConfigError> {
    let name = "TENANTRY_TENANT_SELECTORS";
    let selectors = raw.list(name);
    if let Some(unknown) = selectors
        .iter()
        .find(|s| !["subdomain", "custom_domain", "header"].contains(&s.as_str()))
    {
        return Err(bad(
            name,
            format!("unknown selector '{unknown}' (subdomain, custom_domain, header)"),
        ));
    }
    let mut base_domains = Vec::new();
    for domain in raw.list("TENANTRY_BASE_DOMAINS") {
        let parsed = tenancy::parse_domain(domain.trim_start_matches('.'))
            .map_err(|m| bad("TENANTRY_BASE_DOMAINS", m))?;
        base_domains.push(parsed);
    }
    let on = |s: &str| selectors.iter().any(|x| x == s);
    Ok(ResolutionPolicy {
        base_domains,
        subdomain: on("subdomain"),
        custom_domains: on("custom_domain"),
        header: on("header"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![("TENANTRY_MONGODB_URI", "mongodb://127.0.0.1:27017")];
        all.extend_from_slice(pairs);
        Config::from_pairs(all.into_iter().map(|(k, v)| (k, v.to_string())))
    }

    #[test]
    fn defaults_apply() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.db_prefix.as_str(), "t_");
        assert_eq!(c.jwt_issuer, "tenantry");
        assert_eq!(c.jwt_audience, "tenantry-api");
        assert_eq!(c.body_limit_bytes, 1 << 20);
        assert!(c.resolution.header && c.resolution.subdomain && c.resolution.custom_domains);
        assert_eq!(c.clusters.len(), 1);
        assert_eq!(
            c.connections,
            ConnectionSettings {
                header_read_timeout: Duration::from_secs(10),
                max_connections: 10_000,
                reserved_fds: 256,
            }
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let cases = [
            ("TENANTRY_LISTEN", "nowhere"),
            ("TENANTRY_DB_PREFIX", "a.b"),
            ("TENANTRY_CLUSTERS", "second"),
            ("TENANTRY_CLUSTERS", "second=http://x"),
            ("TENANTRY_ADMIN_KEY_SHA256", "abc"),
            ("TENANTRY_JWT_SECRET", "short"),
            ("TENANTRY_TENANT_SELECTORS", "cookie"),
            ("TENANTRY_BASE_DOMAINS", "bad_domain"),
            ("TENANTRY_MAX_POOL_SIZE", "0"),
            ("TENANTRY_LOG_FORMAT", "xml"),
            ("TENANTRY_PROJECTOR", "maybe"),
            ("TENANTRY_PROJECTION_LEASES", "sometimes"),
            ("TENANTRY_LEASE_SECS", "0"),
            ("TENANTRY_QUERY_READ_PREFERENCE", "fastest"),
            ("TENANTRY_HEADER_READ_TIMEOUT_SECS", "0"),
            ("TENANTRY_HEADER_READ_TIMEOUT_SECS", "soon"),
            ("TENANTRY_MAX_CONNECTIONS", "0"),
            ("TENANTRY_MAX_CONNECTIONS", "many"),
            ("TENANTRY_RESERVED_FDS", "-1"),
        ];
        for (name, value) in cases {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.setting, name, "{value}");
        }
        let missing = Config::from_pairs([]).unwrap_err();
        assert_eq!(missing.setting, "TENANTRY_MONGODB_URI");
        // Without the prefix: docker/check.py takes every `TENANTRY_*` literal for a setting.
        let misspelt = config(&[("PROJECTION_WAIT_MS", "5")]).unwrap_err();
        assert_eq!(misspelt.setting, "PROJECTION_WAIT_MS");
    }

    #[test]
    fn secrets_never_show() {
        let secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-0";
        let c = config(&[("TENANTRY_JWT_SECRET", secret)]).unwrap();
        assert!(!format!("{c:?}").contains(secret));
        let uri = "mongodb://user:hunter2@db:27017";
        let with_password = config(&[("TENANTRY_CLUSTERS", &format!("x={uri}"))]).unwrap();
        assert!(!format!("{with_password:?}").contains("hunter2"));
    }

    #[test]
    fn file_then_environment() {
        let dir = std::env::temp_dir().join(format!("tenantry-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tenantry.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\ndb_prefix = \"x_\"\nbase_domains = [\"api.example.com\"]\n").unwrap();
        let env = |name: &str| match name {
            "TENANTRY_MONGODB_URI" => Some("mongodb://h".to_string()),
            "TENANTRY_DB_PREFIX" => Some("y_".to_string()),
            _ => None,
        };
        let c = load(Some(&path), env).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.db_prefix.as_str(), "y_");
        assert_eq!(
            c.resolution.base_domains,
            vec!["api.example.com".to_string()]
        );
        std::fs::write(&path, "nonsense = 1\n").unwrap();
        assert_eq!(
            load(Some(&path), env).unwrap_err().setting,
            "TENANTRY_CONFIG"
        );
    }
}

#[cfg(test)]
mod readme {
    use super::super::{OTEL_SETTINGS, SETTINGS};

    /// The README's configuration tables document every setting, with its default.
    #[test]
    fn every_setting_is_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        for setting in SETTINGS.iter().chain(OTEL_SETTINGS) {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", setting.env)));
            let row = row.unwrap_or_else(|| {
                panic!("{} is not in the README's configuration table", setting.env)
            });
            if !setting.default.is_empty() {
                assert!(
                    row.contains(&format!("`{}`", setting.default)),
                    "README default of {} differs: {row}",
                    setting.env
                );
            }
        }
    }
}
