//! Trusted OpenID Connect providers. The simple case is the environment:
//! `TENANTRY_OIDC_ISSUERS` (issuer URLs), their tokens' tenant and roles at
//! `TENANTRY_OIDC_TENANT_CLAIM` / `TENANTRY_OIDC_ROLES_CLAIM`, `aud` = `TENANTRY_JWT_AUDIENCE`.
//! Per-issuer settings go in the file, one table per provider (an issuer in both: the table
//! wins):
//!
//! ```toml
//! [[oidc_issuer]]
//! issuer = "https://login.example.com/realms/acme"
//! audience = "tenantry"                 # default: TENANTRY_JWT_AUDIENCE
//! tenant_claim = "org.id"               # default: TENANTRY_OIDC_TENANT_CLAIM
//! roles_claim = "realm_access.roles"    # default: TENANTRY_OIDC_ROLES_CLAIM
//! algorithms = ["RS256"]                # default: RS256, ES256, EdDSA
//! roles = { "tenant-admin" = "admin", "editor" = "member", "reader" = "viewer" }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use tenancy::TenantAuth;
use tenantry_auth::Role;
use tenantry_auth::oidc::{Algorithm, ClaimPath, IssuerSettings, PROVIDER_ALGORITHMS};

use super::ConfigError;
use super::load::{Raw, bad};

/// The file's key of the per-issuer tables.
pub(super) const ISSUER_TABLE: &str = "oidc_issuer";
const FILE: &str = "TENANTRY_CONFIG";

/// The `[[oidc_issuer]]` tables of the file.
pub(super) fn tables(path: &Path, value: toml::Value) -> Result<Vec<toml::Table>, ConfigError> {
    let not_tables = || {
        bad(
            FILE,
            format!(
                "{}: {ISSUER_TABLE} must be tables ([[{ISSUER_TABLE}]])",
                path.display()
            ),
        )
    };
    match value {
        toml::Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                toml::Value::Table(table) => Ok(table),
                _ => Err(not_tables()),
            })
            .collect(),
        toml::Value::Table(table) => Ok(vec![table]),
        _ => Err(not_tables()),
    }
}

/// Every trusted issuer, checked.
pub(super) fn issuers(raw: &Raw) -> Result<Vec<IssuerSettings>, ConfigError> {
    let audience = raw.string("TENANTRY_JWT_AUDIENCE");
    let tenant_claim = claim_path(raw, "TENANTRY_OIDC_TENANT_CLAIM")?;
    let roles_claim = claim_path(raw, "TENANTRY_OIDC_ROLES_CLAIM")?;
    let mut issuers: Vec<IssuerSettings> = Vec::new();
    for table in &raw.issuer_tables {
        let issuer = from_table(table, &audience, &tenant_claim, &roles_claim)?;
        if issuers.iter().any(|i| i.issuer == issuer.issuer) {
            return Err(bad(
                FILE,
                format!("{ISSUER_TABLE} {} is given twice", issuer.issuer),
            ));
        }
        issuers.push(issuer);
    }
    for url in raw.list("TENANTRY_OIDC_ISSUERS") {
        let checked = TenantAuth::parse(&url, &audience)
            .map_err(|message| bad("TENANTRY_OIDC_ISSUERS", message))?;
        if issuers.iter().any(|i| i.issuer == checked.issuer) {
            continue;
        }
        let mut issuer = IssuerSettings::new(&checked.issuer, &audience);
        issuer.tenant_claim = Some(tenant_claim.clone());
        issuer.roles_claim = roles_claim.clone();
        issuers.push(issuer);
    }
    let own = raw.string("TENANTRY_JWT_ISSUER");
    if issuers.iter().any(|i| i.issuer == own) {
        return Err(bad(
            "TENANTRY_OIDC_ISSUERS",
            format!("'{own}' is TENANTRY_JWT_ISSUER, Tenantry's own issuer"),
        ));
    }
    Ok(issuers)
}

fn claim_path(raw: &Raw, name: &'static str) -> Result<ClaimPath, ConfigError> {
    ClaimPath::parse(&raw.string(name)).map_err(|message| bad(name, message))
}

fn from_table(
    table: &toml::Table,
    audience: &str,
    tenant_claim: &ClaimPath,
    roles_claim: &ClaimPath,
) -> Result<IssuerSettings, ConfigError> {
    let fail = |message: String| bad(FILE, format!("{ISSUER_TABLE}: {message}"));
    let text = |key: &str| match table.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(fail(format!("{key} must be a string"))),
    };
    for key in table.keys() {
        if ![
            "issuer",
            "audience",
            "tenant_claim",
            "roles_claim",
            "algorithms",
            "roles",
        ]
        .contains(&key.as_str())
        {
            return Err(fail(format!("unknown key '{key}'")));
        }
    }
    let issuer = text("issuer")?.ok_or_else(|| fail("issuer is required".into()))?;
    let audience = text("audience")?.unwrap_or_else(|| audience.to_owned());
    let checked = TenantAuth::parse(&issuer, &audience).map_err(fail)?;
    let path = |key: &str, default: &ClaimPath| -> Result<ClaimPath, ConfigError> {
        match text(key)? {
            Some(path) => ClaimPath::parse(&path).map_err(|m| fail(format!("{key}: {m}"))),
            None => Ok(default.clone()),
        }
    };
    let mut settings = IssuerSettings::new(&checked.issuer, &checked.audience);
    settings.tenant_claim = Some(path("tenant_claim", tenant_claim)?);
    settings.roles_claim = path("roles_claim", roles_claim)?;
    if let Some(value) = table.get("algorithms") {
        settings.algorithms = algorithms(value).map_err(fail)?;
    }
    if let Some(value) = table.get("roles") {
        settings.role_map = role_map(value).map_err(fail)?;
    }
    Ok(settings)
}

fn algorithms(value: &toml::Value) -> Result<Vec<Algorithm>, String> {
    let names = value
        .as_array()
        .ok_or("algorithms must be a list")?
        .iter()
        .map(|v| v.as_str().ok_or("algorithms must be names"))
        .collect::<Result<Vec<&str>, _>>()?;
    let algorithms: Vec<Algorithm> = names
        .iter()
        .map(|name| {
            PROVIDER_ALGORITHMS
                .into_iter()
                .find(|alg| format!("{alg:?}") == *name)
                .ok_or_else(|| format!("algorithm '{name}' is not one of RS256, ES256, EdDSA"))
        })
        .collect::<Result<_, _>>()?;
    if algorithms.is_empty() {
        return Err("algorithms must not be empty".into());
    }
    Ok(algorithms)
}

fn role_map(value: &toml::Value) -> Result<BTreeMap<String, Role>, String> {
    value
        .as_table()
        .ok_or("roles must be a table of provider role = viewer, member or admin")?
        .iter()
        .map(|(name, role)| {
            let role = role
                .as_str()
                .and_then(|r| r.parse::<Role>().ok())
                .ok_or_else(|| format!("roles.{name} must be viewer, member or admin"))?;
            Ok((name.clone(), role))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn with_file(toml: &str, env: &[(&str, &str)]) -> Result<Config, super::ConfigError> {
        let dir = std::env::temp_dir().join(format!(
            "tenantry-oidc-{}-{}",
            std::process::id(),
            toml.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tenantry.toml");
        std::fs::write(&path, toml).unwrap();
        let mut pairs: Vec<(&str, String)> = vec![
            ("TENANTRY_MONGODB_URI", "mongodb://h".to_string()),
            ("TENANTRY_CONFIG", path.display().to_string()),
        ];
        pairs.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        Config::from_pairs(pairs)
    }

    #[test]
    fn environment_issuers_and_file_tables() {
        let config = with_file(
            r#"
[[oidc_issuer]]
issuer = "https://login.example.com/realms/acme"
audience = "account"
roles_claim = "realm_access.roles"
algorithms = ["RS256"]
roles = { "tenant-admin" = "admin", "reader" = "viewer" }
"#,
            &[
                (
                    "TENANTRY_OIDC_ISSUERS",
                    "https://acme.eu.auth0.com/, https://login.example.com/realms/acme",
                ),
                ("TENANTRY_OIDC_TENANT_CLAIM", "https://example.com/tid"),
            ],
        )
        .unwrap();
        let issuers = &config.oidc_issuers;
        assert_eq!(issuers.len(), 2);
        let keycloak = &issuers[0];
        assert_eq!(keycloak.issuer, "https://login.example.com/realms/acme");
        // Given twice (file and environment) only with the same spelling is it one issuer.
        assert_eq!(keycloak.audience, "account");
        assert_eq!(keycloak.roles_claim.as_str(), "realm_access.roles");
        assert_eq!(
            keycloak.tenant_claim.as_ref().map(|c| c.as_str()),
            Some("https://example.com/tid")
        );
        assert_eq!(keycloak.algorithms, [jsonwebtoken::Algorithm::RS256]);
        assert_eq!(keycloak.role_map.len(), 2);
        let auth0 = &issuers[1];
        assert_eq!(auth0.issuer, "https://acme.eu.auth0.com/");
        assert_eq!(auth0.audience, "tenantry-api");
        assert_eq!(auth0.roles_claim.as_str(), "roles");
    }

    #[test]
    fn what_cannot_work_is_refused() {
        for (toml, env, setting) in [
            (
                "",
                ("TENANTRY_OIDC_ISSUERS", "http://login.example.com"),
                "TENANTRY_OIDC_ISSUERS",
            ),
            (
                "",
                ("TENANTRY_OIDC_ISSUERS", "tenantry"),
                "TENANTRY_OIDC_ISSUERS",
            ),
            (
                "",
                ("TENANTRY_OIDC_TENANT_CLAIM", "a..b"),
                "TENANTRY_OIDC_TENANT_CLAIM",
            ),
            (
                "[[oidc_issuer]]\naudience = \"a\"\n",
                ("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "30"),
                "TENANTRY_CONFIG",
            ),
            (
                "[[oidc_issuer]]\nissuer = \"https://a.example\"\nalgorithms = [\"HS256\"]\n",
                ("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "30"),
                "TENANTRY_CONFIG",
            ),
            (
                "[[oidc_issuer]]\nissuer = \"https://a.example\"\nroles = { x = \"platform-admin\" }\n",
                ("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "30"),
                "TENANTRY_CONFIG",
            ),
            (
                "[[oidc_issuer]]\nissuer = \"https://a.example\"\ncolour = \"red\"\n",
                ("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "30"),
                "TENANTRY_CONFIG",
            ),
            (
                "oidc_issuer = 1\n",
                ("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "30"),
                "TENANTRY_CONFIG",
            ),
        ] {
            let error = with_file(toml, &[env]).unwrap_err();
            assert_eq!(error.setting, setting, "{toml} {env:?}: {error}");
        }
    }
}
