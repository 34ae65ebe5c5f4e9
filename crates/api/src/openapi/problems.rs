//! The error responses of the document, from the problem-code catalogue: a set names its codes,
//! and each status it can answer is documented with those codes and their titles, so the
//! document lists exactly the codes the catalogue gives each status.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::http::ProblemCode;

/// One response per status of `codes`, each a `Problem` document naming its codes.
fn responses(codes: &[ProblemCode]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<ProblemCode>> = BTreeMap::new();
    for code in codes {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(*code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let named: Vec<String> = codes
                .iter()
                .map(|c| format!("`{}` ({})", c.as_str(), c.title()))
                .collect();
            let problem = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            let response = ResponseBuilder::new()
                .description(named.join(", "))
                .content("application/problem+json", problem)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

macro_rules! problem_responses {
    ($($(#[$meta:meta])* $name:ident: [$($code:ident),* $(,)?];)*) => {$(
        $(#[$meta])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                responses(&[$(ProblemCode::$code),*])
            }
        }
    )*};
}

problem_responses! {
    /// Errors any `/v1` route may answer (`unauthorized` with `WWW-Authenticate: Bearer`;
    /// `rate_limited` and the 503s with `Retry-After`; `internal` is a bug, logged with the
    /// request id it answers with).
    TenantErrors: [
        ValidationFailed, InvalidTenantId, TenantConflict, TenantRequired, MalformedRequest,
        Unauthorized, TokenRevoked, Forbidden, TenantMismatch, TenantSuspended, NotFound,
        TenantNotFound, RateLimited, Internal, TenantUnavailable, Unavailable, ProjectionLagging,
    ];
    /// Errors any `/admin` route may answer.
    AdminErrors: [
        ValidationFailed, InvalidTenantId, MalformedRequest, Unauthorized, Forbidden,
        TenantNotFound, Internal, TenantUnavailable,
    ];
    /// Errors of routes with a JSON body.
    BodyErrors: [PayloadTooLarge, UnsupportedMediaType];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_documents_each_status_of_its_codes_with_their_names() {
        let documented = TenantErrors::responses();
        let statuses: Vec<&str> = documented.keys().map(String::as_str).collect();
        assert_eq!(statuses, ["400", "401", "403", "404", "429", "500", "503"]);
        let RefOr::T(lagging) = &documented["503"] else {
            panic!("inline response expected");
        };
        assert!(lagging.description.contains("`projection_lagging`"));
        assert!(!lagging.description.contains("`rate_limited`"));
    }
}
