//! One provider's signing keys, fetched from where its discovery document points
//! (`<issuer>/.well-known/openid-configuration` → `jwks_uri`) and kept current:
//!
//! - refreshed in the background, as often as the JWKS's `Cache-Control: max-age` says within
//!   [`MIN_REFRESH`, `MAX_REFRESH`] (every [`DEFAULT_REFRESH`] without one);
//! - fetched again when a token names a `kid` the set lacks (the provider rotated its keys), at
//!   most once per cooldown, so tokens with made-up `kid`s cannot flood the provider;
//! - one fetch at a time (callers that need one wait for the one running, then use its result);
//! - the last good set kept while the provider is unreachable or answers nonsense.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

use super::fetch::{self, FetchError, TraceHeaders};
use crate::keys::{self, VerifyingKey};

pub(crate) const MIN_REFRESH: Duration = Duration::from_secs(60);
pub(crate) const MAX_REFRESH: Duration = Duration::from_secs(24 * 3600);
pub(crate) const DEFAULT_REFRESH: Duration = Duration::from_secs(600);
/// After a failed fetch, the background refresh tries again this soon.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// How fetching behaves (the same for every provider).
#[derive(Debug, Clone, Copy)]
pub struct FetchPolicy {
    /// The least time between two fetches caused by unknown `kid`s.
    pub cooldown: Duration,
    /// How long one document may take.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            cooldown: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
        }
    }
}

/// How current a provider's key set is (for readiness and metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySetStatus {
    pub issuer: String,
    pub keys: usize,
    /// Since the last successful fetch; `None`: never fetched.
    pub age: Option<Duration>,
    /// The last fetch failed: why (the last good keys are still used).
    pub last_error: Option<String>,
}

pub(crate) struct RemoteKeys {
    issuer: String,
    policy: FetchPolicy,
    trace: Option<TraceHeaders>,
    state: Mutex<State>,
    /// Held while fetching: single flight.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    keys: Arc<Vec<VerifyingKey>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    refresh_in: Option<Duration>,
    last_error: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl RemoteKeys {
    pub(crate) fn new(
        issuer: &str,
        policy: FetchPolicy,
        trace: Option<TraceHeaders>,
    ) -> RemoteKeys {
        RemoteKeys {
            issuer: issuer.to_owned(),
            policy,
            trace,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys as last fetched (empty before the first success).
    pub(crate) fn keys(&self) -> Arc<Vec<VerifyingKey>> {
        Arc::clone(&self.state().keys)
    }

    pub(crate) fn status(&self) -> KeySetStatus {
        let state = self.state();
        KeySetStatus {
            issuer: self.issuer.clone(),
            keys: state.keys.len(),
            age: state.fetched_at.map(|at| at.elapsed()),
            last_error: state.last_error.clone(),
        }
    }

    /// When the background refresh should fetch next.
    pub(crate) fn refresh_due_in(&self) -> Duration {
        let state = self.state();
        let wait = state.refresh_in.unwrap_or(DEFAULT_REFRESH);
        match (state.last_error.is_some(), state.attempted_at) {
            (true, Some(at)) => RETRY_AFTER_FAILURE.saturating_sub(at.elapsed()),
            (false, Some(at)) => wait.saturating_sub(at.elapsed()),
            (_, None) => Duration::ZERO,
        }
    }

    /// Fetches now (or waits for the fetch already running and takes its result).
    pub(crate) async fn refresh(&self) {
        let started = Instant::now();
        let _fetching = self.fetching.lock().await;
        if self.state().attempted_at.is_some_and(|at| at >= started) {
            return;
        }
        self.fetch_locked().await;
    }

    /// A token named a `kid` the set lacks: fetches again unless one was tried within the
    /// cooldown. Whether the set may have changed.
    pub(crate) async fn refresh_for_unknown_kid(&self) -> bool {
        let started = Instant::now();
        let _fetching = self.fetching.lock().await;
        match self.state().attempted_at {
            // Another caller fetched while this one waited: its result is the answer.
            Some(at) if at >= started => return true,
            Some(at) if at.elapsed() < self.policy.cooldown => return false,
            _ => {}
        }
        self.fetch_locked().await;
        true
    }

    async fn fetch_locked(&self) {
        let result = self.fetch().await;
        let mut state = self.state();
        state.attempted_at = Some(Instant::now());
        match result {
            Ok((keys, max_age)) => {
                state.keys = Arc::new(keys);
                state.fetched_at = state.attempted_at;
                state.refresh_in = max_age.map(|age| age.clamp(MIN_REFRESH, MAX_REFRESH));
                state.last_error = None;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, keys = state.keys.len(),
                    "identity provider keys not refreshed; the last good keys stay in use");
                state.last_error = Some(e.0);
            }
        }
    }

    async fn fetch(&self) -> Result<(Vec<VerifyingKey>, Option<Duration>), FetchError> {
        let timeout = self.policy.timeout;
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let trace = self.trace.as_ref();
        let fetched = fetch::get(&fetch::checked_url(&discovery_url)?, timeout, trace).await?;
        let discovery: Discovery = serde_json::from_slice(&fetched.body)
            .map_err(|_| FetchError(format!("{discovery_url}: not a discovery document")))?;
        // OpenID Connect Discovery: the document's issuer is the configured one, exactly.
        if discovery.issuer != self.issuer {
            return Err(FetchError(format!(
                "{discovery_url}: names another issuer ({})",
                discovery.issuer
            )));
        }
        let jwks_url = fetch::checked_url(&discovery.jwks_uri)?;
        let fetched = fetch::get(&jwks_url, timeout, trace).await?;
        let set: JwkSet = serde_json::from_slice(&fetched.body)
            .map_err(|_| FetchError(format!("{jwks_url}: not a JWKS document")))?;
        let (keys, left_out) = keys::published_keys(&set, &self.issuer);
        if !left_out.is_empty() {
            tracing::debug!(issuer = %self.issuer, ?left_out, "provider keys left out");
        }
        if keys.is_empty() {
            return Err(FetchError(format!(
                "{jwks_url}: no usable signature key ({})",
                left_out.join("; ")
            )));
        }
        Ok((keys, fetched.max_age))
    }
}
