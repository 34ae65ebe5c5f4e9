//! Every configuration setting: its environment variable, default and meaning. The TOML file uses
//! the same names, lowercase and without the `TENANTRY_` prefix (`listen = "0.0.0.0:8080"`).
//! The README's configuration table is checked against this list by a test.

pub struct Setting {
    pub env: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn s(env: &'static str, default: &'static str, meaning: &'static str) -> Setting {
    Setting {
        env,
        default,
        meaning,
    }
}

/// The setting behind a key-configuration error of `tenantry-auth`, by name.
pub fn key_setting(setting: tenantry_auth::KeySetting) -> &'static str {
    use tenantry_auth::KeySetting as K;
    match setting {
        K::Hs256Secret => "TENANTRY_JWT_SECRET",
        K::PublicKeys => "TENANTRY_JWT_PUBLIC_KEYS",
        K::JwksFile => "TENANTRY_JWKS_FILE",
        K::Issuer => "TENANTRY_JWT_ISSUER",
        K::Audience => "TENANTRY_JWT_AUDIENCE",
        K::AdminKeySha256 => "TENANTRY_ADMIN_KEY_SHA256",
    }
}

#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    s("TENANTRY_CONFIG", "", "Path of a TOML config file (environment variables win over it)."),
    s("TENANTRY_LISTEN", "127.0.0.1:8080", "Address the HTTP server binds."),
    s("TENANTRY_MONGODB_URI", "", "Catalog cluster and default tenant cluster (required)."),
    s("TENANTRY_CLUSTERS", "", "Extra clusters for tenant placement: `name=uri,name=uri`."),
    s("TENANTRY_CATALOG_DB", "tenantry_catalog", "Database of the tenant catalog."),
    s("TENANTRY_DB_PREFIX", "t_", "Prefix of tenant database names (`t_<id>`)."),
    s("TENANTRY_BASE_DOMAINS", "", "Comma list of base domains for subdomain selection (`api.example.com`)."),
    s("TENANTRY_TENANT_SELECTORS", "subdomain,custom_domain,header", "Enabled explicit selectors (the JWT claim is always on)."),
    s("TENANTRY_TRUST_FORWARDED_HOST", "false", "Use `X-Forwarded-Host` instead of `Host` (only behind a trusted proxy)."),
    s("TENANTRY_JWT_SECRET", "", "HS256 secret: verifies tokens and signs `/admin/tenants/{id}/tokens`."),
    s("TENANTRY_JWT_PUBLIC_KEYS", "", "Comma list of PEM public-key files (RS256, ES256, EdDSA)."),
    s("TENANTRY_JWKS_FILE", "", "A JWKS document on disk (keys selected by `kid`)."),
    s("TENANTRY_JWT_ISSUER", "tenantry", "Required `iss` of tokens."),
    s("TENANTRY_JWT_AUDIENCE", "tenantry-api", "Required `aud` of tokens."),
    s("TENANTRY_JWT_LEEWAY_SECS", "30", "Clock leeway for `exp`/`nbf`."),
    s("TENANTRY_JWT_CACHE_CAPACITY", "10000", "Verified tokens remembered (by SHA-256; `exp` rechecked on each use); 0: verify every time."),
    s("TENANTRY_OIDC_ISSUERS", "", "Comma list of trusted OpenID Connect issuer URLs (keys from their discovery documents; `aud` must be `TENANTRY_JWT_AUDIENCE`; per-issuer settings: `[[oidc_issuer]]` in the file)."),
    s("TENANTRY_OIDC_TENANT_CLAIM", "tid", "Claim path naming the tenant in tokens of `TENANTRY_OIDC_ISSUERS` (dotted: `org.id`, `https://example.com/tid`)."),
    s("TENANTRY_OIDC_ROLES_CLAIM", "roles", "Claim path of the roles in tokens of `TENANTRY_OIDC_ISSUERS` (`realm_access.roles`)."),
    s("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "30", "Least time between two fetches of a provider's keys caused by tokens naming an unknown `kid`."),
    s("TENANTRY_OIDC_FETCH_TIMEOUT_SECS", "5", "How long fetching a provider's discovery document or keys may take."),
    s("TENANTRY_ADMIN_KEY_SHA256", "", "Hex SHA-256 of the platform admin API key."),
    s("TENANTRY_BODY_LIMIT_BYTES", "1048576", "Largest accepted request body (413 beyond)."),
    s("TENANTRY_REQUEST_TIMEOUT_SECS", "30", "Requests running longer are answered 503."),
    s("TENANTRY_HEADER_READ_TIMEOUT_SECS", "10", "A connection must send a complete request head within this time, also while idle between keep-alive requests; then it is closed."),
    s("TENANTRY_MAX_CONNECTIONS", "10000", "Client connections open at once (at most RLIMIT_NOFILE minus `TENANTRY_RESERVED_FDS`); at the cap the oldest idle one is closed, or the new one refused with 503."),
    s("TENANTRY_RESERVED_FDS", "256", "File descriptors kept out of the connection cap: MongoDB pools, files, refusals."),
    s("TENANTRY_CORS_ORIGINS", "", "Comma list of allowed CORS origins, or `*`; empty: CORS off."),
    s("TENANTRY_CACHE_TTL_SECS", "30", "Lifetime of cached tenant records (changes invalidate at once)."),
    s("TENANTRY_MAX_POOL_SIZE", "64", "Connections per server of each cluster's shared pool."),
    s("TENANTRY_TENANT_BUDGET", "16", "Concurrent database operations per tenant (overridable per tenant)."),
    s("TENANTRY_TENANT_RATE_LIMIT", "0", "Requests per second per tenant (0: unlimited); a tenant's `limits.requests_per_second` overrides it."),
    s("TENANTRY_BUDGET_WAIT_MS", "500", "How long a request waits for its tenant's budget before 503."),
    s("TENANTRY_DEDICATED_POOL_SIZE", "4", "Connections per server of a dedicated tenant's pool."),
    s("TENANTRY_DEDICATED_MAX_CLIENTS", "64", "Dedicated clients kept open at most (LRU beyond)."),
    s("TENANTRY_DEDICATED_IDLE_SECS", "300", "A dedicated client unused this long is closed."),
    s("TENANTRY_LEASE_SECS", "10", "Lease time of the fleet: a stopped or dead instance's projections and jobs are taken over within it."),
    s("TENANTRY_PROJECTION_LEASES", "on", "Share projection work between instances by leases (`on`/`off`; off: every instance projects every tenant, still exactly once)."),
    s("TENANTRY_PROJECTOR", "on", "Run the projector in this process (`on`/`off`; off: queries only see what another instance projects)."),
    s("TENANTRY_PROJECTION_WAIT_MS", "2000", "How long a query with `X-Min-Position` waits for the projections (then 503)."),
    s("TENANTRY_QUERY_READ_PREFERENCE", "primary", "Read preference of queries without `X-Min-Position`: `primary`, `primaryPreferred`, `secondary`, `secondaryPreferred`, `nearest`."),
    s("TENANTRY_MOVE_GRACE_SECS", "3600", "How long a moved tenant's source database is kept (fenced) before it is dropped."),
    s("TENANTRY_MOVE_HOLD_MS", "5000", "How long a command waits for a move's cut-over before 503 (the writes of a moving tenant wait, they do not fail)."),
    s("TENANTRY_MIGRATION_PARALLELISM", "8", "Tenants migrated at once by `POST /admin/migrations`."),
    s("TENANTRY_ACTIVITY_INTERVAL_SECS", "30", "Interval of the per-tenant activity samples behind the console's charts (an hour of them is kept in memory, per instance)."),
    s("TENANTRY_METRICS_MAX_TENANTS", "100", "Tenants that get their own `tenant` label in metrics; the rest are `other`."),
    s("TENANTRY_LOG_FORMAT", "auto", "`json`, `pretty`, or `auto` (pretty on a terminal, JSON otherwise)."),
];

#[cfg(test)]
mod tests {
    use tenantry_auth::KeySetting;

    use super::{SETTINGS, key_setting};

    #[test]
    fn key_errors_name_real_settings() {
        for setting in [
            KeySetting::Hs256Secret,
            KeySetting::PublicKeys,
            KeySetting::JwksFile,
            KeySetting::Issuer,
            KeySetting::Audience,
            KeySetting::AdminKeySha256,
        ] {
            let name = key_setting(setting);
            assert!(SETTINGS.iter().any(|s| s.env == name), "{setting}: {name}");
        }
    }
}
