//! The effective configuration, for `tenantry config`: every setting's value and where it came
//! from, with secrets masked (the JWT secret hidden, passwords cut out of database URIs).

use std::path::Path;

use serde::Serialize;

use super::load::{ConfigError, Raw, Source, build};
use super::{OTEL_SETTINGS, SETTINGS};

/// One setting as the process would use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub name: &'static str,
    /// Masked where secret; the default when unset.
    pub value: String,
    pub source: Source,
}

/// Settings whose whole value is secret.
const SECRET: &[&str] = &[
    "TENANTRY_JWT_SECRET",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
];
/// Settings holding database URIs, which may carry a password.
const URIS: &[&str] = &["TENANTRY_MONGODB_URI", "TENANTRY_CLUSTERS"];

/// Every setting, in the order of [`SETTINGS`] then [`OTEL_SETTINGS`]; fails like `Config::load` on an invalid one.
pub fn effective(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Effective>, ConfigError> {
    let raw = Raw::gather(file, env)?;
    build(&raw)?;
    Ok(SETTINGS
        .iter()
        .chain(OTEL_SETTINGS)
        .map(|setting| match raw.source(setting.env) {
            Some((value, source)) => Effective {
                name: setting.env,
                value: masked(setting.env, value),
                source,
            },
            None => Effective {
                name: setting.env,
                value: setting.default.to_string(),
                source: Source::Default,
            },
        })
        .collect())
}

fn masked(name: &str, value: &str) -> String {
    if SECRET.contains(&name) {
        "(set, hidden)".to_string()
    } else if URIS.contains(&name) {
        without_passwords(value)
    } else {
        value.to_string()
    }
}

/// `mongodb://user:pass@host` → `mongodb://user:***@host`, for every URI in a list.
fn without_passwords(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(scheme_end) = rest.find("://") {
        let (before, after) = rest.split_at(scheme_end + 3);
        out.push_str(before);
        let authority_end = after.find(['/', ',', '?']).unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let credentials = &authority[..at];
                let user = credentials.split(':').next().unwrap_or_default();
                if credentials.contains(':') {
                    out.push_str(user);
                    out.push_str(":***");
                } else {
                    out.push_str(credentials);
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::super::env_of;
    use super::*;

    fn effective_of(pairs: &[(&str, &str)]) -> Result<Vec<Effective>, ConfigError> {
        effective(None, env_of(pairs))
    }

    fn find<'a>(all: &'a [Effective], name: &str) -> &'a Effective {
        all.iter().find(|e| e.name == name).unwrap()
    }

    #[test]
    fn values_name_their_source_and_secrets_are_masked() {
        let all = effective_of(&[
            (
                "TENANTRY_MONGODB_URI",
                "mongodb://app:hunter2@db:27017/?replicaSet=rs0",
            ),
            (
                "TENANTRY_CLUSTERS",
                "eu=mongodb://eu:pw2@eu-db/,us=mongodb://us-db/",
            ),
            (
                "TENANTRY_JWT_SECRET",
                "0123456789abcdef0123456789abcdef-secret",
            ),
            ("TENANTRY_LISTEN", "0.0.0.0:9000"),
            ("TENANTRY_DB_PREFIX", "  "),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=otel-key-42"),
        ])
        .unwrap();
        assert_eq!(all.len(), SETTINGS.len() + OTEL_SETTINGS.len());
        let text = format!("{all:?}");
        for secret in ["hunter2", "pw2", "0123456789abcdef", "otel-key-42"] {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
        let uri = find(&all, "TENANTRY_MONGODB_URI");
        assert_eq!(uri.value, "mongodb://app:***@db:27017/?replicaSet=rs0");
        assert_eq!(uri.source, Source::Environment);
        assert_eq!(
            find(&all, "TENANTRY_CLUSTERS").value,
            "eu=mongodb://eu:***@eu-db/,us=mongodb://us-db/"
        );
        assert_eq!(find(&all, "TENANTRY_JWT_SECRET").value, "(set, hidden)");
        assert_eq!(
            find(&all, "OTEL_EXPORTER_OTLP_HEADERS").value,
            "(set, hidden)"
        );
        let endpoint = find(&all, "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert_eq!(endpoint.value, "http://collector:4318");
        assert_eq!(endpoint.source, Source::Environment);
        assert_eq!(find(&all, "TENANTRY_LISTEN").value, "0.0.0.0:9000");
        // Blank is unset: the default applies.
        let prefix = find(&all, "TENANTRY_DB_PREFIX");
        assert_eq!(
            (prefix.value.as_str(), prefix.source),
            ("t_", Source::Default)
        );
    }

    #[test]
    fn an_invalid_setting_fails_as_the_server_would() {
        let error = effective_of(&[
            ("TENANTRY_MONGODB_URI", "mongodb://db/"),
            ("TENANTRY_LISTEN", "nowhere"),
        ])
        .unwrap_err();
        assert_eq!(error.setting, "TENANTRY_LISTEN");
    }
}
