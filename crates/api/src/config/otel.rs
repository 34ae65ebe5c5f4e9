//! OpenTelemetry trace export, configured by the standard `OTEL_*` environment variables (the
//! OpenTelemetry specification's names and meanings, so a platform's usual settings work as they
//! are). Off unless an OTLP endpoint is set. Only OTLP over HTTP with protobuf is spoken; any
//! other protocol, exporter or sampler is refused at start, naming the variable, rather than
//! silently exporting nothing.

use std::time::Duration;

use super::{ConfigError, Secret, Setting};

/// The `OTEL_*` variables Tenantry reads; the README's tracing table is checked against it.
#[rustfmt::skip]
pub const OTEL_SETTINGS: &[Setting] = &[
    Setting { env: "OTEL_EXPORTER_OTLP_ENDPOINT", default: "", meaning: "Base `http://` URL of an OTLP/HTTP collector (`http://collector:4318`); traces go to `<base>/v1/traces`. Unset (and no traces endpoint): no export." },
    Setting { env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default: "", meaning: "Full URL for traces, used as is (wins over the base URL)." },
    Setting { env: "OTEL_EXPORTER_OTLP_PROTOCOL", default: "http/protobuf", meaning: "Only `http/protobuf` is spoken; anything else stops the start." },
    Setting { env: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", default: "", meaning: "The same, for traces only (wins)." },
    Setting { env: "OTEL_EXPORTER_OTLP_HEADERS", default: "", meaning: "Headers of the export requests, `key=value,key=value`, values URL-encoded (API keys: never logged, masked by `tenantry config`)." },
    Setting { env: "OTEL_EXPORTER_OTLP_TRACES_HEADERS", default: "", meaning: "The same, for traces only (wins)." },
    Setting { env: "OTEL_EXPORTER_OTLP_TIMEOUT", default: "10000", meaning: "Milliseconds an export request may take." },
    Setting { env: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", default: "", meaning: "The same, for traces only (wins)." },
    Setting { env: "OTEL_SERVICE_NAME", default: "tenantry", meaning: "`service.name` of the spans." },
    Setting { env: "OTEL_RESOURCE_ATTRIBUTES", default: "", meaning: "More resource attributes, `key=value,key=value` (`deployment.environment.name=prod`)." },
    Setting { env: "OTEL_TRACES_SAMPLER", default: "parentbased_always_on", meaning: "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`." },
    Setting { env: "OTEL_TRACES_SAMPLER_ARG", default: "1.0", meaning: "The ratio of the `traceidratio` samplers (0 to 1)." },
    Setting { env: "OTEL_TRACES_EXPORTER", default: "otlp", meaning: "`otlp`, or `none` to turn export off." },
    Setting { env: "OTEL_SDK_DISABLED", default: "false", meaning: "`true` turns export off whatever else is set." },
];

/// Which traces are recorded (the specification's `OTEL_TRACES_SAMPLER` values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    /// Follow the caller's `traceparent` decision; roots decided by the inner sampler.
    ParentBased(Root),
}

/// The root decision of a parent-based sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Root {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

/// Where and how traces are exported.
#[derive(Debug, Clone)]
pub struct OtelSettings {
    /// The full URL spans are posted to.
    pub traces_endpoint: String,
    /// Extra request headers (typically an API key: kept as secrets).
    pub headers: Vec<(String, Secret)>,
    pub timeout: Duration,
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES`, besides `service.name` and `service.version`.
    pub resource: Vec<(String, String)>,
    pub sampling: Sampling,
}

fn bad(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        message: message.into(),
    }
}

/// The trace export settings, or `None` when export is off. Blank values count as unset.
pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Option<OtelSettings>, ConfigError> {
    let get = |name: &str| {
        env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // A signal-specific variable wins over the general one.
    let either = |general: &'static str, traces: &'static str| {
        get(traces)
            .map(|v| (traces, v))
            .or_else(|| get(general).map(|v| (general, v)))
    };
    match get("OTEL_SDK_DISABLED")
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        None => {}
        Some(v) if v == "false" => {}
        Some(v) if v == "true" => return Ok(None),
        Some(v) => {
            return Err(bad(
                "OTEL_SDK_DISABLED",
                format!("'{v}' is not true or false"),
            ));
        }
    }
    match get("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(bad(
                "OTEL_TRACES_EXPORTER",
                format!("'{other}' is not supported (otlp or none)"),
            ));
        }
    }
    let traces_endpoint = match (
        get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        get("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(url), _) => checked_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)?,
        (None, Some(base)) => {
            let base = checked_url("OTEL_EXPORTER_OTLP_ENDPOINT", base)?;
            format!("{}/v1/traces", base.trim_end_matches('/'))
        }
        (None, None) => return Ok(None),
    };
    if let Some((name, protocol)) = either(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ) && protocol != "http/protobuf"
    {
        return Err(bad(
            name,
            format!("'{protocol}' is not supported: Tenantry exports OTLP as http/protobuf"),
        ));
    }
    let headers = match either(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ) {
        Some((name, list)) => headers(name, &list)?,
        None => Vec::new(),
    };
    let timeout = match either(
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    ) {
        Some((name, ms)) => match ms.parse::<u64>() {
            Ok(ms) if ms > 0 => Duration::from_millis(ms),
            _ => {
                return Err(bad(
                    name,
                    format!("'{ms}' is not a positive number of milliseconds"),
                ));
            }
        },
        None => Duration::from_secs(10),
    };
    Ok(Some(OtelSettings {
        traces_endpoint,
        headers,
        timeout,
        service_name: get("OTEL_SERVICE_NAME").unwrap_or_else(|| "tenantry".to_string()),
        resource: match get("OTEL_RESOURCE_ATTRIBUTES") {
            Some(list) => pairs("OTEL_RESOURCE_ATTRIBUTES", &list)?,
            None => Vec::new(),
        },
        sampling: sampling(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?,
    }))
}

/// An `http://` URL with a host (the exporter would fail on anything else later, and quietly).
/// The exporter speaks plain HTTP to a collector beside the instance (an agent or sidecar, which
/// forwards over TLS); no TLS stack is linked for it.
fn checked_url(name: &str, url: String) -> Result<String, ConfigError> {
    if url.starts_with("https://") {
        return Err(bad(
            name,
            "https is not supported: export to a collector beside the instance over http://",
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad(name, "must be an http:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad(name, "names no host"));
    }
    Ok(url)
}

/// `key=value,key=value`, values percent-decoded (the specification's W3C baggage format).
fn pairs(name: &str, list: &str) -> Result<Vec<(String, String)>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (key, value) = entry
                .split_once('=')
                .ok_or_else(|| bad(name, "expected key=value entries separated by commas"))?;
            let key = key.trim();
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .map_err(|_| bad(name, format!("the value of '{key}' is not UTF-8")))?;
            if key.is_empty() {
                return Err(bad(name, "an entry has no key"));
            }
            Ok((key.to_string(), value.into_owned()))
        })
        .collect()
}

/// Export request headers: valid HTTP names and values, the values kept secret.
fn headers(name: &str, list: &str) -> Result<Vec<(String, Secret)>, ConfigError> {
    pairs(name, list)?
        .into_iter()
        .map(|(key, value)| {
            if http::HeaderName::from_bytes(key.as_bytes()).is_err()
                || http::HeaderValue::from_str(&value).is_err()
            {
                return Err(bad(name, format!("'{key}' is not a valid header")));
            }
            Ok((key, Secret::new(value)))
        })
        .collect()
}

fn sampling(sampler: Option<String>, arg: Option<String>) -> Result<Sampling, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match arg.as_deref() {
            None => Ok(1.0),
            Some(raw) => match raw.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(bad(
                    "OTEL_TRACES_SAMPLER_ARG",
                    format!("'{raw}' is not a ratio from 0 to 1"),
                )),
            },
        }
    };
    Ok(match sampler.as_deref() {
        None | Some("parentbased_always_on") => Sampling::ParentBased(Root::AlwaysOn),
        Some("parentbased_always_off") => Sampling::ParentBased(Root::AlwaysOff),
        Some("parentbased_traceidratio") => Sampling::ParentBased(Root::Ratio(ratio()?)),
        Some("always_on") => Sampling::AlwaysOn,
        Some("always_off") => Sampling::AlwaysOff,
        Some("traceidratio") => Sampling::Ratio(ratio()?),
        Some(other) => {
            return Err(bad(
                "OTEL_TRACES_SAMPLER",
                format!("'{other}' is not a supported sampler"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::env_of;
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<OtelSettings>, ConfigError> {
        from_env(env_of(pairs))
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        settings(pairs).unwrap_err().setting
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert!(settings(&[]).unwrap().is_none());
        assert!(settings(&[("OTEL_SERVICE_NAME", "x")]).unwrap().is_none());
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert!(settings(&[endpoint]).unwrap().is_some());
        assert!(
            settings(&[endpoint, ("OTEL_SDK_DISABLED", "true")])
                .unwrap()
                .is_none()
        );
        assert!(
            settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn endpoints_defaults_and_the_signal_specific_variables() {
        let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .unwrap()
            .unwrap();
        assert_eq!(s.traces_endpoint, "http://collector:4318/v1/traces");
        assert_eq!(s.service_name, "tenantry");
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.sampling, Sampling::ParentBased(Root::AlwaysOn));
        assert!(s.headers.is_empty());
        let s = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces.example.com/in",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "250"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-general=1"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "x-api-key=a%3Db , x-team=core",
            ),
            ("OTEL_SERVICE_NAME", "api-eu"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=prod,region=eu%2Dwest",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.traces_endpoint, "http://traces.example.com/in");
        assert_eq!(s.timeout, Duration::from_millis(250));
        let headers: Vec<(&str, &str)> = s
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(headers, [("x-api-key", "a=b"), ("x-team", "core")]);
        assert_eq!(s.service_name, "api-eu");
        assert_eq!(
            s.resource,
            [
                (
                    "deployment.environment.name".to_string(),
                    "prod".to_string()
                ),
                ("region".to_string(), "eu-west".to_string())
            ]
        );
        assert_eq!(s.sampling, Sampling::ParentBased(Root::Ratio(0.25)));
        assert!(!format!("{s:?}").contains("a=b"), "a header value is shown");
    }

    #[test]
    fn what_cannot_work_is_refused_naming_the_variable() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let refused: &[(&[(&str, &str)], &str)] = &[
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http:///v1/traces")],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ),
            (
                &[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                &[
                    endpoint,
                    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
                ],
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            ),
            (
                &[endpoint, ("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
                "OTEL_EXPORTER_OTLP_HEADERS",
            ),
            (
                &[endpoint, ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=1")],
                "OTEL_EXPORTER_OTLP_HEADERS",
            ),
            (
                &[endpoint, ("OTEL_RESOURCE_ATTRIBUTES", "=x")],
                "OTEL_RESOURCE_ATTRIBUTES",
            ),
            (
                &[endpoint, ("OTEL_EXPORTER_OTLP_TIMEOUT", "0")],
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ),
            (
                &[endpoint, ("OTEL_TRACES_SAMPLER", "jaeger_remote")],
                "OTEL_TRACES_SAMPLER",
            ),
            (
                &[
                    endpoint,
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "2"),
                ],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                &[endpoint, ("OTEL_TRACES_EXPORTER", "zipkin")],
                "OTEL_TRACES_EXPORTER",
            ),
            (
                &[endpoint, ("OTEL_SDK_DISABLED", "maybe")],
                "OTEL_SDK_DISABLED",
            ),
        ];
        for (pairs, variable) in refused {
            assert_eq!(error_of(pairs), *variable, "{pairs:?}");
        }
    }
}
