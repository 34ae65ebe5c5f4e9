//! The command bus and the query bus.
//!
//! `bus.dispatch(envelope)` compiles only if the bus's handler set implements `Handler<M>` for the
//! message, so a missing registration is a compile error, not a runtime one. Around every
//! dispatch: validation, a tracing span (kind, name, tenant, correlation id), and the observers
//! (for metrics) with the outcome and duration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tenancy::TenantId;
use tenancy::moves::Relocation;
use tracing::Instrument;

use crate::command::FencedError;
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
}

impl<H> Clone for Dispatcher<H> {
    fn clone(&self) -> Self {
        Dispatcher {
            handlers: Arc::clone(&self.handlers),
            observers: Arc::clone(&self.observers),
        }
    }
}

impl<H> Dispatcher<H> {
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
pub struct CommandBus<H> {
    dispatcher: Dispatcher<H>,
    relocation: Option<Relocation>,
}

/// How many times one command follows its tenant to another cluster.
const RELOCATIONS: u32 = 3;

/// Dispatches queries to the read side.
pub struct QueryBus<H>(Dispatcher<H>);

impl<H> Clone for CommandBus<H> {
    fn clone(&self) -> Self {
        CommandBus {
            dispatcher: self.dispatcher.clone(),
            relocation: self.relocation.clone(),
        }
    }
}

impl<H> Clone for QueryBus<H> {
    fn clone(&self) -> Self {
        QueryBus(self.0.clone())
    }
}

impl<H> CommandBus<H> {
    pub fn new(handlers: Arc<H>, observers: Vec<Arc<dyn DispatchObserver>>) -> Self {
        CommandBus {
            dispatcher: Dispatcher {
                handlers,
                observers: observers.into(),
            },
            relocation: None,
        }
    }

    /// Commands whose tenant is moved follow it (see `tenancy::moves`).
    pub fn relocating(mut self, relocation: Relocation) -> Self {
        self.relocation = Some(relocation);
        self
    }

    pub async fn dispatch<C>(
        &self,
        mut envelope: Envelope<C>,
    ) -> Result<C::Output, DispatchError<H::Error>>
    where
        C: Command,
        H: Handler<C>,
        H::Error: FencedError,
    {
        let mut relocations = 0;
        loop {
            let result = self.dispatcher.dispatch(Kind::Command, &envelope).await;
            let fenced = matches!(&result, Err(DispatchError::Handler(e)) if e.is_fenced());
            let Some(relocation) = self.relocation.as_ref().filter(|_| fenced) else {
                return result;
            };
            if relocations == RELOCATIONS {
                return result;
            }
            let Some(ctx) = relocation.settle(envelope.ctx()).await else {
                return result;
            };
            tracing::info!(tenant = %ctx.tenant_id(), cluster = %ctx.tenant().cluster, name = C::NAME, "the tenant's writes were held by a move: the command runs again");
            relocations += 1;
            envelope = envelope.relocated(ctx);
        }
    }
}

impl<H> QueryBus<H> {
    pub fn new(handlers: Arc<H>, observers: Vec<Arc<dyn DispatchObserver>>) -> Self {
        QueryBus(Dispatcher {
            handlers,
            observers: observers.into(),
        })
    }

    pub async fn dispatch<Q>(
        &self,
        envelope: Envelope<Q>,
    ) -> Result<Q::Output, DispatchError<H::Error>>
    where
        Q: Query,
        H: Handler<Q>,
    {
        self.0.dispatch(Kind::Query, &envelope).await
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

    impl FencedError for String {
        fn is_fenced(&self) -> bool {
            false
        }
    }

    #[derive(Default)]
    struct Handlers {
        greeted: Mutex<Vec<String>>,
    }

    impl Handler<Greet> for Handlers {
        type Error = String;
        async fn handle(&self, envelope: &Envelope<Greet>) -> Result<String, String> {
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
        type Error = String;
        async fn handle(&self, _: &Envelope<Count>) -> Result<usize, String> {
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
        assert!(matches!(failed, Err(DispatchError::Handler(ref e)) if e == "exploded"));
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
