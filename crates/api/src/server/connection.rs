//! One client connection, served by hyper's HTTP/1 connection with the router as its service,
//! until the client leaves, hyper's header-read timeout closes it, the table evicts it, or the
//! server shuts down (then in-flight requests finish first). Marks the connection busy in the
//! table for each request, until its response body has been written.

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::Service;

use super::connections::{Registration, RequestGuard, Slot};
use super::refusal;

/// How long an evicted connection may still flush what it was writing before it is dropped.
const EVICTION_GRACE: Duration = Duration::from_secs(1);

/// Serves `stream` until it closes. `shutdown` turns true when the server stops accepting.
pub async fn serve(
    builder: Arc<http1::Builder>,
    stream: TcpStream,
    router: Router,
    registration: Registration,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = TrackedService {
        router,
        slot: Arc::clone(registration.slot()),
    };
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let slot = Arc::clone(registration.slot());
    let mut draining = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection closed with an error");
                }
                return;
            }
            () = slot.evicted() => {
                // Idle by construction: at most a response still being flushed.
                connection.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(EVICTION_GRACE, connection.as_mut()).await;
                return;
            }
            () = stopping(&mut shutdown), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Completes once the server stops accepting (or is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The router, marking the connection busy while a request is in flight.
#[derive(Clone)]
struct TrackedService {
    router: Router,
    slot: Arc<Slot>,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<hyper::Response<TrackedBody>, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for TrackedService {
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, request: hyper::Request<Incoming>) -> ServiceFuture {
        let Some(busy) = self.slot.begin_request() else {
            // Chosen for eviction an instant ago: the connection is closing, the request never ran.
            let response = refusal::response().map(|body| TrackedBody { body, _busy: None });
            return Box::pin(std::future::ready(Ok(response)));
        };
        let mut router = self.router.clone();
        let request: Request = request.map(Body::new);
        Box::pin(async move {
            let response = match router.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| TrackedBody {
                body,
                _busy: Some(busy),
            }))
        })
    }
}

/// A response body that keeps its connection busy until hyper has written (and dropped) it.
pub struct TrackedBody {
    body: Body,
    _busy: Option<RequestGuard>,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
