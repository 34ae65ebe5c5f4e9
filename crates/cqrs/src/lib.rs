//! CQRS building blocks, independent of HTTP and of any particular domain.
//!
//! - `message`: `Command` and `Query` types, each with its output type and validation.
//! - `envelope`: every message travels with its tenant, correlation id and actor.
//! - `bus`: typed command and query buses; a handler is found by the type system
//!   (`Handler<M>` implemented on the handler set), never by a string key or a downcast.
//!   Dispatch runs validation, a tracing span and the observers (metrics) around the handler.
//! - `command`: the unit of work of the write side (idempotency, outbox append, version check,
//!   nudge) in one call; `outbox`: events with gap-free positions, appended in the command's
//!   transaction.
//! - `query`: the read side's door to read models (`ReadDb`), read-your-writes, pages.
//! - `projector`: applies outbox events to read models exactly once, per tenant, across any
//!   number of instances; `read_models`: generations and blue-green rebuilds.
//! - `schema`: what the library keeps in every tenant database (a migrations component);
//!   `import_fence`: the outbox closed to commands while a tenant's data is imported.

mod bulk;
mod bus;
pub mod command;
mod envelope;
pub mod import_fence;
mod message;
pub mod outbox;
pub mod projector;
pub mod query;
pub mod read_models;
pub mod schema;

pub use bus::{CommandBus, DispatchError, DispatchInfo, DispatchObserver, Kind, Outcome, QueryBus};
pub use envelope::Envelope;
pub use message::{Command, Handler, Invalid, Message, Query};
