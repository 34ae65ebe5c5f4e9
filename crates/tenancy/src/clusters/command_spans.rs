//! Database commands as `tracing` spans, for trace export: one span per command, a child of the
//! span the command was issued in (a request's, a command dispatch's, a projector batch's), built
//! from the driver's command events, which the driver raises inline in the issuing task.
//!
//! Commands issued outside any span (server monitoring, lease heartbeats, change-stream polls)
//! get no span, so background chatter makes no traces. The command document and the reply are
//! never recorded (they hold tenant data): only the command's name, database, collection and
//! server, and on failure the server's error code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mongodb::error::ErrorKind;
use mongodb::event::EventHandler;
use mongodb::event::command::{CommandEvent, CommandFailedEvent, CommandStartedEvent};
use tracing::Span;

/// Commands in flight with a span. A command whose future is dropped before its reply (a request
/// timed out) never ends its span: such spans are forgotten after a while, and when this many are
/// open new commands go without a span rather than growing memory.
const OPEN_AT_MOST: usize = 10_000;
const FORGOTTEN_AFTER: Duration = Duration::from_secs(120);

/// The driver's request id is unique in the process; the connection id makes sure.
type Key = (u32, i32);

#[derive(Default)]
struct OpenSpans(Mutex<HashMap<Key, (Instant, Span)>>);

/// The handler to set as `ClientOptions::command_event_handler`.
pub(super) fn handler() -> EventHandler<CommandEvent> {
    let open = Arc::new(OpenSpans::default());
    EventHandler::callback(move |event| match event {
        CommandEvent::Started(started) => open.start(&started),
        CommandEvent::Succeeded(done) => drop(open.take((done.connection.id, done.request_id))),
        CommandEvent::Failed(failed) => open.fail(&failed),
        _ => {}
    })
}

impl OpenSpans {
    fn start(&self, event: &CommandStartedEvent) {
        let parent = Span::current();
        if parent.is_none() {
            return;
        }
        // `{find: "products", ...}`: the first value names the collection, when it is a string.
        let collection = event
            .command
            .iter()
            .next()
            .and_then(|(_, value)| value.as_str());
        let span = tracing::info_span!(
            parent: &parent,
            "mongodb",
            otel.name = %format_args!("{} {}", event.command_name, event.db),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            db.system.name = "mongodb",
            db.operation.name = %event.command_name,
            db.namespace = %event.db,
            db.collection.name = collection,
            db.response.status_code = tracing::field::Empty,
            server.address = %event.connection.address,
        );
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= OPEN_AT_MOST {
            let now = Instant::now();
            open.retain(|_, (since, _)| now.duration_since(*since) < FORGOTTEN_AFTER);
            if open.len() >= OPEN_AT_MOST {
                return;
            }
        }
        open.insert(
            (event.connection.id, event.request_id),
            (Instant::now(), span),
        );
    }

    /// The command's span, which ends when it is dropped.
    fn take(&self, key: Key) -> Option<Span> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(&key).map(|(_, span)| span)
    }

    fn fail(&self, event: &CommandFailedEvent) {
        let Some(span) = self.take((event.connection.id, event.request_id)) else {
            return;
        };
        span.record("otel.status_code", "error");
        // The code only: a server's message can quote a document (a duplicate key's value).
        if let ErrorKind::Command(error) = event.failure.kind.as_ref() {
            span.record("db.response.status_code", error.code);
        }
    }
}
