//! The tenant-resolution policy of docs/API.md, as pure functions: which selectors name which tenant,
//! and whether the bearer token may act for it. The HTTP layer gathers the inputs (headers, host,
//! verified claims, custom-domain lookup) and turns the outcome into a `TenantContext`.

use crate::{InvalidTenantId, TenantId};

/// Which selectors are enabled, and the base domains for subdomain selection.
#[derive(Debug, Clone)]
pub struct ResolutionPolicy {
    /// Lowercase base domains without a leading dot, e.g. `api.example.com`.
    pub base_domains: Vec<String>,
    pub subdomain: bool,
    pub custom_domains: bool,
    pub header: bool,
}

impl Default for ResolutionPolicy {
    fn default() -> Self {
        ResolutionPolicy {
            base_domains: Vec::new(),
            subdomain: true,
            custom_domains: true,
            header: true,
        }
    }
}

/// What the request's host says about the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSelector {
    /// The host names no tenant (the bare base domain, an IP address, `localhost`, ...).
    None,
    /// The label(s) left of a base domain: a tenant id candidate, not yet validated.
    Subdomain(String),
    /// A host outside every base domain: possibly a tenant's custom domain.
    CustomDomain(String),
}

/// The tenants a verified token authorises.
#[derive(Debug, Clone, Copy)]
pub struct TokenTenants<'a> {
    pub tid: Option<&'a str>,
    pub tenants: &'a [String],
}

impl TokenTenants<'_> {
    fn authorises(&self, id: &TenantId) -> bool {
        self.tid == Some(id.as_str()) || self.tenants.iter().any(|t| t == id.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolutionError {
    #[error("invalid tenant id: {0}")]
    InvalidTenantId(#[from] InvalidTenantId),
    #[error("the subdomain, custom domain and X-Tenant-ID name different tenants")]
    Conflict,
    #[error("the token does not authorise this tenant")]
    Mismatch,
    #[error("no tenant could be determined for this request")]
    Required,
}

impl ResolutionPolicy {
    /// Classifies a `Host` value (port and trailing dot ignored, case folded).
    pub fn classify_host(&self, host: &str) -> HostSelector {
        let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() || !host.contains('.') {
            return HostSelector::None;
        }
        for base in &self.base_domains {
            if host == *base {
                return HostSelector::None;
            }
            if let Some(label) = host
                .strip_suffix(base.as_str())
                .and_then(|h| h.strip_suffix('.'))
            {
                return if self.subdomain {
                    HostSelector::Subdomain(label.to_string())
                } else {
                    HostSelector::None
                };
            }
        }
        if self.custom_domains {
            HostSelector::CustomDomain(host)
        } else {
            HostSelector::None
        }
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: `[::1]:8080`
        return host
            .split(']')
            .next()
            .map_or(host, |h| h.trim_start_matches('['));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Decides the tenant of a request from its explicit selectors (host-derived and header, already
/// parsed) and the token. Implements every rule of docs/API.md "Tenant resolution".
pub fn decide(
    host: Option<TenantId>,
    header: Option<TenantId>,
    token: TokenTenants<'_>,
) -> Result<TenantId, ResolutionError> {
    let explicit = match (host, header) {
        (Some(a), Some(b)) if a != b => return Err(ResolutionError::Conflict),
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    match explicit {
        Some(id) if token.authorises(&id) => Ok(id),
        Some(_) => Err(ResolutionError::Mismatch),
        None => match token.tid {
            Some(tid) => Ok(TenantId::parse(tid)?),
            None => Err(ResolutionError::Required),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    fn policy() -> ResolutionPolicy {
        ResolutionPolicy {
            base_domains: vec!["api.example.com".into()],
            ..Default::default()
        }
    }

    #[test]
    fn hosts_are_classified() {
        let p = policy();
        let sub = |s: &str| HostSelector::Subdomain(s.to_string());
        assert_eq!(p.classify_host("acme.api.example.com"), sub("acme"));
        assert_eq!(p.classify_host("ACME.api.example.com:8080"), sub("acme"));
        assert_eq!(p.classify_host("acme.api.example.com."), sub("acme"));
        assert_eq!(p.classify_host("api.example.com"), HostSelector::None);
        assert_eq!(p.classify_host("127.0.0.1:8080"), HostSelector::None);
        assert_eq!(p.classify_host("[::1]:8080"), HostSelector::None);
        assert_eq!(p.classify_host("localhost:8080"), HostSelector::None);
        assert_eq!(
            p.classify_host("shop.acme.com"),
            HostSelector::CustomDomain("shop.acme.com".into())
        );
        assert_eq!(
            p.classify_host("evilapi.example.com"),
            HostSelector::CustomDomain("evilapi.example.com".into())
        );
        let off = ResolutionPolicy {
            subdomain: false,
            custom_domains: false,
            ..policy()
        };
        assert_eq!(
            off.classify_host("acme.api.example.com"),
            HostSelector::None
        );
        assert_eq!(off.classify_host("shop.acme.com"), HostSelector::None);
    }

    #[test]
    fn the_token_decides_when_nothing_else_does() {
        let tok = TokenTenants {
            tid: Some("acme"),
            tenants: &[],
        };
        assert_eq!(decide(None, None, tok), Ok(id("acme")));
        let none = TokenTenants {
            tid: None,
            tenants: &[],
        };
        assert_eq!(decide(None, None, none), Err(ResolutionError::Required));
    }

    #[test]
    fn explicit_selectors_must_agree_and_be_authorised() {
        let list = vec!["beta".to_string()];
        let tok = TokenTenants {
            tid: Some("acme"),
            tenants: &list,
        };
        assert_eq!(
            decide(Some(id("acme")), Some(id("beta")), tok),
            Err(ResolutionError::Conflict)
        );
        assert_eq!(
            decide(Some(id("acme")), Some(id("acme")), tok),
            Ok(id("acme"))
        );
        assert_eq!(decide(None, Some(id("beta")), tok), Ok(id("beta")));
        assert_eq!(
            decide(Some(id("gamma")), None, tok),
            Err(ResolutionError::Mismatch)
        );
        let none = TokenTenants {
            tid: None,
            tenants: &[],
        };
        assert_eq!(
            decide(None, Some(id("acme")), none),
            Err(ResolutionError::Mismatch)
        );
    }
}
