//! `AbortOnDrop`: a background task tied to the lifetime of its owner.

use std::future::Future;

use tokio::task::JoinHandle;

/// Aborts the spawned task when dropped, so a stopped server leaves no task behind.
#[derive(Debug)]
pub struct AbortOnDrop(JoinHandle<()>);

impl AbortOnDrop {
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> AbortOnDrop {
        AbortOnDrop(tokio::spawn(task))
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
