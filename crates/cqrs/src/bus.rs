//! The command bus and the query bus.
//!
//! `bus.dispatch(envelope)` compiles only if the bus's handler set implements `Handler<M>` for the
//! message, so a missing registration is a compile error, not a runtime one. Around every
//! dispatch: validation, a tracing span (kind, name, tenant, correlation id), and the observers
//! (for metrics) with the outcome and duration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tenancy::TenantId;
use tenancy::moves::{Relocatable, Relocation};
use tracing::Instrument;

use crate::{Command, Envelope, Handler, Invalid, Message, Query};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Command,
    Query,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::Query => "query",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Invalid,
    Failed,
}

/// What observers learn of a dispatch.
#[derive(Debug)]
pub struct DispatchInfo<'a> {
    pub kind: Kind,
    pub name: &'static str,
    pub tenant_id: &'a TenantId,
    pub correlation_id: &'a str,
}

/// Watches every dispatch (metrics, audit). Must be cheap: it runs on the request path.
pub trait DispatchObserver: Send + Sync {
    fn observe(&self, info: &DispatchInfo<'_>, outcome: Outcome, elapsed: Duration);
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError<E> {
    #[error("invalid message")]
    Invalid(Vec<Invalid>),
    #[error(transparent)]
    Handler(E),
}

/// The shared machinery of both buses.
struct Dispatcher<H> {
    handlers: Arc<H>,
    observers: Arc<[Arc<dyn DispatchObserver>]>,
    /// Messages whose tenant is being moved follow it (see `tenancy::moves`).
    relocation: Option<Relocation>,
}

impl<H> Clone for Dispatcher<H> {
    fn clone(&self) -> Self {
        Dispatcher {
            handlers: Arc::clone(&self.handlers),
            observers: Arc::clone(&self.observers),
            relocation: self.relocation.clone(),
        }
    }
}

/// How many times one message follows its tenant to another cluster.
const RELOCATIONS: u32 = 3;

impl<H> Dispatcher<H> {
    fn new(handlers: Arc<H>, observers: Vec<Arc<dyn DispatchObserver>>) -> Self {
        Dispatcher {
            handlers,
            observers: observers.into(),
            relocation: None,
        }
    }

    /// Dispatches, and again where the tenant is if a move stopped the message.
    async fn run<M>(
        &self,
        kind: Kind,
        mut envelope: Envelope<M>,
    ) -> Result<M::Output, DispatchError<H::Error>>
    where
        M: Message,
        H: Handler<M>,
        H::Error: Relocatable,
    {
        let mut relocations = 0;
        loop {
            let result = self.dispatch(kind, &envelope).await;
            let stopped = match &result {
                Err(DispatchError::Handler(e)) => e.stopped(),
                _ => None,
            };
            let (Some(why), Some(relocation)) = (stopped, &self.relocation) else {
                return result;
            };
            if relocations == RELOCATIONS {
                return result;
            }
            let Some(ctx) = relocation.settle(envelope.ctx(), why).await else {
                return result;
            };
            tracing::info!(tenant = %ctx.tenant_id(), cluster = %ctx.tenant().cluster, name = M::NAME, ?why, "the tenant is being moved: the message runs again");
            relocations += 1;
            envelope = envelope.relocated(ctx);
        }
    }

    async fn dispatch<M>(
        &self,
        kind: Kind,
        envelope: &Envelope<M>,
    ) -> Result<M::Output, DispatchError<H::Error>>
    where
        M: Message,
        H: Handler<M>,
    {
        let info = DispatchInfo {
            kind,
            name: M::NAME,
            tenant_id: envelope.tenant_id(),
            correlation_id: envelope.correlation_id(),
        };
        let span = tracing::info_span!(
            "dispatch",
            kind = kind.as_str(),
            name = M::NAME,
            tenant = %info.tenant_id,
            correlation_id = info.correlation_id,
        );
        let started = Instant::now();
        let result = async {
            envelope
                .message()
                .validate()
                .map_err(DispatchError::Invalid)?;
            self.handlers
                .handle(envelope)
                .await
                .map_err(DispatchError::Handler)
        }
        .instrument(span.clone())
        .await;
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(DispatchError::Invalid(_)) => Outcome::Invalid,
            Err(DispatchError::Handler(_)) => Outcome::Failed,
        };
        let elapsed = started.elapsed();
        span.in_scope(|| {
            tracing::debug!(
                ?outcome,
                elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                "dispatched"
            )
        });
        for observer in self.observers.iter() {
            observer.observe(&info, outcome, elapsed);
        }
        result
    }
}

/// Dispatches commands to the write side. A command that finds its tenant's writes fenced by
/// a move's cut-over waits for the move and runs again where the tenant is then (`relocating`).
pub struct CommandBus<H>(Dispatcher<H>);

/// Dispatches queries to the read side. A query that waited in vain for projections on the
/// cluster its tenant was just moved from runs again on the new one (`relocating`).
pub struct QueryBus<H>(Dispatcher<H>);

impl<H> Clone for CommandBus<H> {
    fn clone(&self) -> Self {
        CommandBus(self.0.clone())
    }
}

impl<H> Clone for QueryBus<H> {
    fn clone(&self) -> Self {
        QueryBus(self.0.clone())
    }
}

impl<H> CommandBus<H> {
    pub fn new(handlers: Arc<H>, observers: Vec<Arc<dyn DispatchObserver>>) -> Self {
        CommandBus(Dispatcher::new(handlers, observers))
    }

    /// Commands whose tenant is moved follow it (see `tenancy::moves`).
    pub fn relocating(mut self, relocation: Relocation) -> Self {
        self.0.relocation = Some(relocation);
        self
    }

    pub async fn dispatch<C>(
        &self,
        envelope: Envelope<C>,
    ) -> Result<C::Output, DispatchError<H::Error>>
    where
        C: Command,
        H: Handler<C>,
        H::Error: Relocatable,
    {
        self.0.run(Kind::Command, envelope).await
    }
}

impl<H> QueryBus<H> {
    pub fn new(handlers: Arc<H>, observers: Vec<Arc<dyn DispatchObserver>>) -> Self {
        QueryBus(Dispatcher::new(handlers, observers))
    }

    /// Queries whose tenant is moved follow it (see `tenancy::moves`).
    pub fn relocating(mut self, relocation: Relocation) -> Self {
        self.0.relocation = Some(relocation);
        self
    }

    pub async fn dispatch<Q>(
        &self,
        envelope: Envelope<Q>,
    ) -> Result<Q::Output, DispatchError<H::Error>>
    where
        Q: Query,
        H: Handler<Q>,
        H::Error: Relocatable,
    {
        self.0.run(Kind::Query, envelope).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tenancy::{Tenant, TenantContext};

    use super::*;

    struct Greet(String);
    impl Message for Greet {
        const NAME: &'static str = "greet";
        type Output = String;
        fn validate(&self) -> Result<(), Vec<Invalid>> {
            if self.0.is_empty() {
                Err(vec![Invalid::new("name", "is required")])
            } else {
                Ok(())
            }
        }
    }
    impl Command for Greet {}

    struct Count;
    impl Message for Count {
        const NAME: &'static str = "count";
        type Output = usize;
    }
    impl Query for Count {}

    /// A handler's error (no move ever explains it).
    #[derive(Debug, PartialEq)]
    struct Oops(String);

    impl From<&str> for Oops {
        fn from(s: &str) -> Oops {
            Oops(s.to_string())
        }
    }

    impl Relocatable for Oops {
        fn stopped(&self) -> Option<tenancy::moves::Stopped> {
            None
        }
    }

    #[derive(Default)]
    struct Handlers {
        greeted: Mutex<Vec<String>>,
    }

    impl Handler<Greet> for Handlers {
        type Error = Oops;
        async fn handle(&self, envelope: &Envelope<Greet>) -> Result<String, Oops> {
            if envelope.message().0 == "boom" {
                return Err("exploded".into());
            }
            let line = format!(
                "hello {} from {} in {}",
                envelope.message().0,
                envelope.actor(),
                envelope.tenant_id()
            );
            self.greeted
                .lock()
                .map_err(|_| "poisoned")?
                .push(line.clone());
            Ok(line)
        }
    }

    impl Handler<Count> for Handlers {
        type Error = Oops;
        async fn handle(&self, _: &Envelope<Count>) -> Result<usize, Oops> {
            Ok(self.greeted.lock().map_err(|_| "poisoned")?.len())
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(Kind, &'static str, Outcome, String)>>);
    impl DispatchObserver for Recorder {
        fn observe(&self, info: &DispatchInfo<'_>, outcome: Outcome, _: Duration) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push((
                    info.kind,
                    info.name,
                    outcome,
                    info.correlation_id.to_string(),
                ));
            }
        }
    }

    fn ctx() -> TenantContext {
        TenantContext::new(Arc::new(Tenant::sample("acme")), "alice")
    }

    #[tokio::test]
    async fn dispatch_validates_calls_the_typed_handler_and_notifies_observers() {
        let handlers = Arc::new(Handlers::default());
        let recorder = Arc::new(Recorder::default());
        let observers: Vec<Arc<dyn DispatchObserver>> = vec![recorder.clone()];
        let commands = CommandBus::new(Arc::clone(&handlers), observers.clone());
        let queries = QueryBus::new(handlers, observers);

        let out = commands
            .dispatch(Envelope::new(ctx(), "req-1", Greet("bob".into())))
            .await
            .unwrap();
        assert_eq!(out, "hello bob from alice in acme");
        let invalid = commands
            .dispatch(Envelope::new(ctx(), "req-2", Greet(String::new())))
            .await;
        assert!(matches!(invalid, Err(DispatchError::Invalid(ref e)) if e[0].field == "name"));
        let failed = commands
            .dispatch(Envelope::new(ctx(), "req-3", Greet("boom".into())))
            .await;
        assert!(matches!(failed, Err(DispatchError::Handler(ref e)) if e.0 == "exploded"));
        assert_eq!(
            queries
                .dispatch(Envelope::new(ctx(), "req-4", Count))
                .await
                .unwrap(),
            1
        );

        let seen = recorder.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (Kind::Command, "greet", Outcome::Ok, "req-1".to_string()),
                (
                    Kind::Command,
                    "greet",
                    Outcome::Invalid,
                    "req-2".to_string()
                ),
                (Kind::Command, "greet", Outcome::Failed, "req-3".to_string()),
                (Kind::Query, "count", Outcome::Ok, "req-4".to_string()),
            ]
        );
    }
}
