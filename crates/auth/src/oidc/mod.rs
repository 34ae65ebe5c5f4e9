//! Tokens of OpenID Connect providers: the issuers configured as trusted (their claims mapped
//! by [`IssuerSettings`]) and tenants' own issuers (whose tokens act for that tenant only).
//! Keys come from each provider's discovery document and are kept current by
//! `remote_keys`; a provider that is down costs nothing while its last good keys suffice.

mod claim_path;
mod fetch;
mod issuer;
mod remote_keys;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::sync::Cache;

pub use claim_path::ClaimPath;
pub use fetch::{FetchError, TraceHeaders};
pub use issuer::{IssuerSettings, PROVIDER_ALGORITHMS};
pub use jsonwebtoken::Algorithm;
pub use remote_keys::{FetchPolicy, KeySetStatus};

use crate::verified::VerifiedTokens;
use crate::verifier::{accepted_algorithm, decode, parse_header, validation};
use crate::{Claims, TokenError};
use remote_keys::RemoteKeys;

/// Tenants' own issuers whose keys are kept at most (least recently used beyond).
const TENANT_ISSUERS_KEPT: u64 = 1_000;
/// A tenant issuer's keys unused this long are dropped (fetched again on the next token).
const TENANT_ISSUER_IDLE: Duration = Duration::from_secs(3_600);

/// Verifies provider tokens. Cheap to clone.
#[derive(Clone)]
pub struct OidcVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    trusted: HashMap<String, Trusted>,
    tenant_keys: Cache<String, Arc<RemoteKeys>>,
    policy: FetchPolicy,
    trace: Option<TraceHeaders>,
    leeway_secs: u64,
    verified: Option<VerifiedTokens>,
}

struct Trusted {
    settings: IssuerSettings,
    keys: Arc<RemoteKeys>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut issuers: Vec<&String> = self.inner.trusted.keys().collect();
        issuers.sort();
        f.debug_struct("OidcVerifier")
            .field("trusted", &issuers)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// Trusts `issuers` and starts refreshing their keys in the background (a first fetch at
    /// once; a provider that is down does not stop the start). Every fetch carries the headers
    /// `trace` gives (trace propagation). Must run inside a Tokio runtime; the refresh tasks end
    /// when the last clone is dropped.
    pub fn start(
        issuers: Vec<IssuerSettings>,
        policy: FetchPolicy,
        leeway_secs: u64,
        cache_capacity: u64,
        trace: Option<TraceHeaders>,
    ) -> OidcVerifier {
        let trusted: HashMap<String, Trusted> = issuers
            .into_iter()
            .map(|settings| {
                let keys = Arc::new(RemoteKeys::new(&settings.issuer, policy, trace.clone()));
                (settings.issuer.clone(), Trusted { settings, keys })
            })
            .collect();
        for trusted in trusted.values() {
            tokio::spawn(keep_fresh(Arc::downgrade(&trusted.keys)));
        }
        OidcVerifier {
            inner: Arc::new(Inner {
                trusted,
                tenant_keys: Cache::builder()
                    .max_capacity(TENANT_ISSUERS_KEPT)
                    .time_to_idle(TENANT_ISSUER_IDLE)
                    .build(),
                policy,
                trace,
                leeway_secs,
                verified: VerifiedTokens::new(cache_capacity, leeway_secs),
            }),
        }
    }

    /// The `iss` a token claims, read without verifying anything (to choose how to verify it).
    pub fn issuer_of(token: &str) -> Result<String, TokenError> {
        let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        #[derive(serde::Deserialize)]
        struct Iss {
            iss: String,
        }
        let iss: Iss =
            serde_json::from_slice(&json).map_err(|_| TokenError::MissingClaim("iss"))?;
        Ok(iss.iss)
    }

    pub fn trusts(&self, issuer: &str) -> bool {
        self.inner.trusted.contains_key(issuer)
    }

    /// Verifies a token of a trusted issuer (`iss` chooses which) and maps its claims.
    pub async fn verify_trusted(&self, token: &str) -> Result<Claims, TokenError> {
        let issuer = Self::issuer_of(token)?;
        let trusted = self
            .inner
            .trusted
            .get(&issuer)
            .ok_or(TokenError::BadIssuer)?;
        let cache_key = VerifiedTokens::key(token);
        if let Some(hit) = self.inner.verified.as_ref().and_then(|v| v.get(&cache_key)) {
            return hit;
        }
        let claims = self
            .verify_with(token, &trusted.settings, &trusted.keys, None)
            .await?;
        if let Some(verified) = &self.inner.verified {
            verified.insert(cache_key, &claims);
        }
        Ok(claims)
    }

    /// Verifies a token of `tenant`'s own issuer: its claims act for that tenant only.
    pub async fn verify_for_tenant(
        &self,
        token: &str,
        tenant: &str,
        settings: &IssuerSettings,
    ) -> Result<Claims, TokenError> {
        let keys = self
            .inner
            .tenant_keys
            .get_with_by_ref(&settings.issuer, || {
                Arc::new(RemoteKeys::new(
                    &settings.issuer,
                    self.inner.policy,
                    self.inner.trace.clone(),
                ))
            });
        if keys.refresh_due_in().is_zero() {
            if keys.keys().is_empty() {
                keys.refresh().await;
            } else {
                // The keys in hand serve this token; a slow provider delays no request.
                let keys = Arc::clone(&keys);
                tokio::spawn(async move { keys.refresh().await });
            }
        }
        self.verify_with(token, settings, &keys, Some(tenant)).await
    }

    /// How current each trusted issuer's keys are.
    pub fn key_sets(&self) -> Vec<KeySetStatus> {
        let mut statuses: Vec<KeySetStatus> = self
            .inner
            .trusted
            .values()
            .map(|t| t.keys.status())
            .collect();
        statuses.sort_by(|a, b| a.issuer.cmp(&b.issuer));
        statuses
    }

    async fn verify_with(
        &self,
        token: &str,
        settings: &IssuerSettings,
        keys: &RemoteKeys,
        bound_tenant: Option<&str>,
    ) -> Result<Claims, TokenError> {
        let header = parse_header(token)?;
        let alg = accepted_algorithm(&header.alg)?;
        if !settings.algorithms.contains(&alg) {
            return Err(TokenError::UnsupportedAlgorithm(header.alg));
        }
        let validation = validation(
            alg,
            &settings.issuer,
            &settings.audience,
            self.inner.leeway_secs,
        );
        let payload = match decode(token, &keys.keys(), &header, alg, &validation) {
            // The provider may have rotated its keys since the last fetch.
            Err(TokenError::UnknownKey) if keys.refresh_for_unknown_kid().await => {
                decode(token, &keys.keys(), &header, alg, &validation)?
            }
            other => other?,
        };
        settings.claims(&payload, bound_tenant)
    }
}

/// Refreshes one provider's keys when due, until the verifier is dropped.
async fn keep_fresh(keys: Weak<RemoteKeys>) {
    loop {
        let Some(strong) = keys.upgrade() else {
            return;
        };
        let due = strong.refresh_due_in();
        drop(strong);
        tokio::time::sleep(due).await;
        let Some(strong) = keys.upgrade() else {
            return;
        };
        strong.refresh().await;
    }
}
