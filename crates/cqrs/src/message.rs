//! Messages (commands and queries) and their handlers.

use std::future::Future;

use crate::Envelope;

/// One invalid field of a message (`lines[0].qty`: "must be at least 1").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Anything dispatched through a bus.
pub trait Message: Send + Sync + 'static {
    /// A stable name for logs and metrics (`place_order`).
    const NAME: &'static str;
    type Output: Send;

    /// Checks the message before its handler runs; every invalid field at once.
    fn validate(&self) -> Result<(), Vec<Invalid>> {
        Ok(())
    }
}

/// A request to change state: handled on the write side.
pub trait Command: Message {}

/// A request to read state: handled on the read side, from read models.
pub trait Query: Message {}

/// Handles one message type. Implemented by a handler set (the "registry") once per message:
/// the bus finds the handler by this impl at compile time.
pub trait Handler<M: Message>: Send + Sync {
    type Error: Send;

    fn handle(
        &self,
        envelope: &Envelope<M>,
    ) -> impl Future<Output = Result<M::Output, Self::Error>> + Send;
}
