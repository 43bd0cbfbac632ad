//! What one connection is doing, for the accept loop's guards: requests in flight (until their
//! response body is sent or dropped), how long it has been idle, and whether a response waits on
//! its client ([`Watched`]) rather than on its source.

use crate::metrics::Meter;
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// One connection's requests: how many are in flight (a request is in flight until its response
/// body has been sent or dropped), when the last one ended, and whether a response waits on its
/// client.
pub(super) struct Activity {
    epoch: std::time::Instant,
    in_flight: AtomicU64,
    /// Milliseconds since `epoch` when the last request ended (or the connection opened).
    last_ms: AtomicU64,
    /// Response bodies whose next piece is ready for the client, waiting for hyper to take it
    /// (not waiting on their own source, such as the store).
    waiting_on_client: AtomicU64,
    /// Milliseconds since `epoch` when a response body last moved (a piece taken, or its source
    /// asked for the next one).
    moved_ms: AtomicU64,
}

/// Milliseconds since `epoch`, saturating.
fn millis_since(epoch: std::time::Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `sleep_until(at)`, or never for `None`.
pub(super) async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            epoch: std::time::Instant::now(),
            in_flight: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
            waiting_on_client: AtomicU64::new(0),
            moved_ms: AtomicU64::new(0),
        }
    }

    /// A request began; it ends when the guard drops (its response sent, or abandoned).
    fn started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self.clone())
    }

    pub(super) fn is_idle(&self) -> bool {
        self.in_flight.load(Relaxed) == 0
    }

    /// Resolves once no request has been in flight for `limit`; checks again at most every
    /// `limit` (a quarter of it while requests run).
    pub(super) async fn idle_for(&self, limit: Duration) {
        loop {
            if !self.is_idle() {
                tokio::time::sleep(limit / 4).await;
                continue;
            }
            let idle = self.epoch.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Relaxed)));
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit.saturating_sub(idle)).await;
        }
    }

    /// Resolves once a response body has waited `limit` for its client to take its next piece
    /// while no body of this connection moved; checks again at most every quarter of `limit`.
    pub(super) async fn stalled_for(&self, limit: Duration) {
        loop {
            if self.waiting_on_client.load(Relaxed) == 0 {
                tokio::time::sleep(limit / 4).await;
                continue;
            }
            let still = self.epoch.elapsed().saturating_sub(Duration::from_millis(self.moved_ms.load(Relaxed)));
            if still >= limit {
                return;
            }
            tokio::time::sleep(limit.saturating_sub(still).max(limit / 4)).await;
        }
    }

    fn moved(&self) {
        self.moved_ms.store(millis_since(self.epoch), Relaxed);
    }
}

/// A request in flight on a connection (see [`Activity::started`]).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.last_ms.store(millis_since(a.epoch), Relaxed);
        a.in_flight.fetch_sub(1, Relaxed);
    }
}

/// Times app requests (not `/metrics` or `/healthz`) into the meter: in flight, peak, busy time
/// (until the response's head); and every request into its connection's [`Activity`] until its
/// response body is done, watched by [`Watched`].
#[derive(Clone)]
pub(super) struct Timed<S> {
    pub(super) inner: S,
    pub(super) meter: Arc<Meter>,
    pub(super) activity: Arc<Activity>,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> hyper::service::Service<http::Request<Incoming>> for Timed<S>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body,
{
    type Response = http::Response<Watched<B>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.started();
        let busy =
            (!matches!(req.uri().path(), "/metrics" | "/healthz" | "/readyz")).then(|| self.meter.request_started());
        let response = self.inner.call(req);
        Box::pin(async move {
            let r = response.await;
            drop(busy);
            r.map(|response| response.map(|body| Watched::new(body, in_flight)))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that tells its connection's [`Activity`] whether it waits on its client
    /// (a piece is ready and hyper has not taken it: the client does not read, or its window is
    /// shut) or on its source; the request stays in flight until the body is done or dropped.
    pub(super) struct Watched<B> {
        #[pin]
        inner: B,
        in_flight: InFlight,
        waiting_on_client: bool,
    }

    impl<B> PinnedDrop for Watched<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.waiting_on_client {
                this.in_flight.0.waiting_on_client.fetch_sub(1, Relaxed);
            }
        }
    }
}

impl<B> Watched<B> {
    fn new(inner: B, in_flight: InFlight) -> Self {
        in_flight.0.waiting_on_client.fetch_add(1, Relaxed);
        in_flight.0.moved();
        Self { inner, in_flight, waiting_on_client: true }
    }
}

impl<B: http_body::Body> http_body::Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let activity = &this.in_flight.0;
        activity.moved();
        let polled = this.inner.poll_frame(cx);
        // Ready: the client's turn (hyper takes the next piece when the client has room);
        // pending: the source's turn, which the send timeout never counts.
        let on_client = polled.is_ready();
        if on_client != *this.waiting_on_client {
            if on_client {
                activity.waiting_on_client.fetch_add(1, Relaxed);
            } else {
                activity.waiting_on_client.fetch_sub(1, Relaxed);
            }
            *this.waiting_on_client = on_client;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
