//! Where a claim sits in an identity provider's token: a dotted path (`realm_access.roles`).
//!
//! A key may itself contain dots (`https://example.com/tid`, Auth0's namespaced claims), so a
//! path needs no escaping: at each level the longest run of segments that is a key of the
//! object there is taken first. `https://example.com/tid` is found as one key;
//! `realm_access.roles` as `roles` inside `realm_access` (there is no key `realm_access.roles`).

use serde_json::Value;

/// A dotted claim path; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(String);

impl ClaimPath {
    /// A non-empty path without empty segments.
    pub fn parse(path: &str) -> Result<ClaimPath, String> {
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!("{path:?} is not a claim path (dotted keys)"));
        }
        Ok(ClaimPath(path.to_owned()))
    }

    /// A path of one key (no dots to split).
    pub(crate) fn key(key: &'static str) -> ClaimPath {
        ClaimPath(key.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value at this path in `claims`, if any.
    pub fn find<'a>(&self, claims: &'a Value) -> Option<&'a Value> {
        let segments: Vec<&str> = self.0.split('.').collect();
        find(claims, &segments)
    }
}

fn find<'a>(value: &'a Value, segments: &[&str]) -> Option<&'a Value> {
    if segments.is_empty() {
        return Some(value);
    }
    let object = value.as_object()?;
    (1..=segments.len()).rev().find_map(|taken| {
        let key = segments[..taken].join(".");
        object
            .get(&key)
            .and_then(|inner| find(inner, &segments[taken..]))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(path: &str, claims: &Value) -> Option<Value> {
        ClaimPath::parse(path).unwrap().find(claims).cloned()
    }

    #[test]
    fn plain_nested_and_dotted_keys() {
        let claims = json!({
            "tid": "acme",
            "realm_access": {"roles": ["admin"]},
            "https://example.com/tid": "globex",
            "https://example.com/claims": {"org.id": "initech"},
            "a": {"b.c": {"d": 1}},
        });
        assert_eq!(at("tid", &claims), Some(json!("acme")));
        assert_eq!(at("realm_access.roles", &claims), Some(json!(["admin"])));
        assert_eq!(
            at("https://example.com/tid", &claims),
            Some(json!("globex"))
        );
        assert_eq!(
            at("https://example.com/claims.org.id", &claims),
            Some(json!("initech"))
        );
        assert_eq!(at("a.b.c.d", &claims), Some(json!(1)));
        assert_eq!(at("realm_access.missing", &claims), None);
        assert_eq!(at("tid.deeper", &claims), None);
    }

    #[test]
    fn empty_segments_are_refused() {
        for bad in ["", "  ", ".tid", "tid.", "a..b"] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
