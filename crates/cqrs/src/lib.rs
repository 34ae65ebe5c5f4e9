//! CQRS building blocks, independent of HTTP and of any particular domain.
//!
//! - `message`: `Command` and `Query` types, each with its output type and validation.
//! - `envelope`: every message travels with its tenant, correlation id and actor.
//! - `bus`: typed command and query buses; a handler is found by the type system
//!   (`Handler<M>` implemented on the handler set), never by a string key or a downcast.
//!   Dispatch runs validation, a tracing span and the observers (metrics) around the handler.
//! - `transaction`: run a unit of work in a MongoDB transaction, retrying transient conflicts.
//! - `outbox`: append domain events to the tenant's outbox with gap-free positions, inside the
//!   command's transaction.
//! - `projector`: applies outbox events to read models, per tenant, with checkpoints and a
//!   dead-letter collection; `wait_for_position` gives queries read-your-writes.

mod bus;
mod envelope;
mod message;
pub mod outbox;
pub mod projector;
pub mod transaction;

pub use bus::{CommandBus, DispatchError, DispatchInfo, DispatchObserver, Kind, Outcome, QueryBus};
pub use envelope::Envelope;
pub use message::{Command, Handler, Invalid, Message, Query};
