//! The HTTP/1 server: our own accept loop in place of `axum::serve`, which exposes neither a
//! header-read timeout nor a connection cap.
//!
//! - **Header-read timeout** (`TENANTRY_HEADER_READ_TIMEOUT_SECS`): hyper closes a connection
//!   that has not sent a complete request head in time. hyper runs the same timer while a
//!   kept-alive connection waits for its next request, so it is the idle keep-alive timeout too
//!   (tested in `tests/api/hostile.rs`).
//! - **Connection cap**: `min(TENANTRY_MAX_CONNECTIONS, RLIMIT_NOFILE soft − TENANTRY_RESERVED_FDS)`,
//!   the soft limit first raised to the hard one (`rlimit`). At the cap a new connection evicts
//!   the connection idle for longest (`connections`), so silent clients cannot lock others out;
//!   with every connection busy it gets a 503 problem and is closed (`refusal`).
//! - **Listen backlog** of 4,096 (`bind`), so a burst of connections is queued, not lost.
//! - **Accept errors** (`EMFILE`, ...) pause the loop with a backoff instead of spinning
//!   (`pressure`, which also counts and logs evictions and refusals).
//! - **Graceful shutdown**: on the signal the listener is closed, every connection finishes its
//!   in-flight request and closes, and `serve` returns when the last one has.

mod connection;
mod connections;
mod pressure;
mod refusal;
pub mod rlimit;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::config::ConnectionSettings;
use connections::{Admission, ConnectionTable};
use pressure::Pressure;

/// Connections the kernel completes and queues before the loop accepts them. std's and mio's
/// 128 overflows in a burst; then the kernel answers with SYN cookies, and a handshake completed
/// while the queue is full is lost without the client knowing (capped by `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the server's listener, with a backlog for bursts of connections.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As std and mio do: a restarted server can bind while old connections are in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Refusals being written at once; beyond that a refused connection is closed without an answer.
const MAX_CONCURRENT_REFUSALS: usize = 64;

/// The connection cap in force: the setting, lowered to fit the descriptors the process may hold.
pub fn connection_cap(settings: &ConnectionSettings, soft_nofile: Option<usize>) -> usize {
    let fitting = soft_nofile.map_or(usize::MAX, |soft| {
        soft.saturating_sub(settings.reserved_fds)
    });
    settings.max_connections.min(fitting).max(1)
}

/// Raises `RLIMIT_NOFILE` and logs the limits this server runs with; returns the cap.
fn prepare_limits(settings: &ConnectionSettings) -> usize {
    let soft = match rlimit::raise_soft_to_hard() {
        Ok(raised) => {
            if raised.before != raised.after {
                tracing::info!(
                    before = raised.before.soft,
                    after = raised.after.soft,
                    hard = raised.after.hard,
                    "raised the soft RLIMIT_NOFILE to the hard limit"
                );
            }
            Some(raised.after.soft_count())
        }
        Err(error) => {
            tracing::warn!(%error, "cannot raise RLIMIT_NOFILE; keeping the current limit");
            rlimit::file_limit().ok().map(rlimit::FileLimit::soft_count)
        }
    };
    let cap = connection_cap(settings, soft);
    if cap < settings.max_connections {
        tracing::warn!(
            max_connections = cap,
            configured = settings.max_connections,
            rlimit_nofile = soft,
            reserved_fds = settings.reserved_fds,
            "connection cap lowered to fit RLIMIT_NOFILE minus TENANTRY_RESERVED_FDS"
        );
    }
    tracing::info!(
        max_connections = cap,
        header_read_timeout_secs = settings.header_read_timeout.as_secs(),
        rlimit_nofile = soft,
        "connection limits"
    );
    cap
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let table = ConnectionTable::new(prepare_limits(&settings));
    let mut pressure = Pressure::new(table.limit());
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    let edge = Edge {
        builder: Arc::new(builder),
        router,
        table,
        refusals: Arc::new(Semaphore::new(MAX_CONCURRENT_REFUSALS)),
        stop: watch::channel(false).0,
        drained: watch::channel(()).0,
    };
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, _peer)) => {
                pressure.accepted();
                edge.admit(stream, &mut pressure);
            }
            Err(error) if pressure::is_client_error(&error) => {}
            Err(error) => {
                let pause = pressure.accept_failed(&error);
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    edge.drain().await;
    Ok(())
}

/// What the accept loop hands each connection.
struct Edge {
    builder: Arc<http1::Builder>,
    router: Router,
    table: Arc<ConnectionTable>,
    refusals: Arc<Semaphore>,
    /// Turns true on shutdown: connections finish their request and close.
    stop: watch::Sender<bool>,
    /// Every connection task holds a receiver; all dropped means all closed.
    drained: watch::Sender<()>,
}

impl Edge {
    fn admit(&self, stream: TcpStream, pressure: &mut Pressure) {
        let done = self.drained.subscribe();
        match self.table.admit() {
            Admission::Admitted {
                registration,
                evicted,
            } => {
                if evicted {
                    pressure.evicted();
                }
                let builder = Arc::clone(&self.builder);
                let router = self.router.clone();
                let stop = self.stop.subscribe();
                tokio::spawn(async move {
                    connections_gauge(1.0);
                    connection::serve(builder, stream, router, registration, stop).await;
                    connections_gauge(-1.0);
                    drop(done);
                });
            }
            Admission::Refused => {
                pressure.refused();
                // Without a permit the stream is dropped here: closed, unanswered.
                if let Ok(permit) = Arc::clone(&self.refusals).try_acquire_owned() {
                    tokio::spawn(async move {
                        refusal::refuse(stream).await;
                        drop((permit, done));
                    });
                }
            }
        }
    }

    async fn drain(self) {
        let _ = self.stop.send(true);
        self.drained.closed().await;
    }
}

fn connections_gauge(delta: f64) {
    metrics::gauge!("tenantry_connections_open").increment(delta);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve_free() {
        let settings = ConnectionSettings {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            reserved_fds: 256,
        };
        assert_eq!(connection_cap(&settings, Some(1024)), 768);
        assert_eq!(connection_cap(&settings, Some(1 << 20)), 10_000);
        assert_eq!(connection_cap(&settings, None), 10_000);
        assert_eq!(connection_cap(&settings, Some(100)), 1);
    }
}
