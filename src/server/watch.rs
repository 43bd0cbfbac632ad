//! What one connection is doing, for the accept loop's guards: requests in flight (until their
//! response body is sent or dropped), how long it has been idle, and whether a response waits on
//! its client ([`Watched`]) rather than on its source.

use crate::metrics::Meter;
use bytes::Bytes;
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// One connection's requests: how many are in flight (a request is in flight until its response
/// body has been sent or dropped), when the last one ended, and since when each response's
/// current piece has waited for its client.
pub(super) struct Activity {
    epoch: std::time::Instant,
    in_flight: AtomicU64,
    /// Milliseconds since `epoch` when the last request ended (or the connection opened).
    last_ms: AtomicU64,
    /// Each open response body's clock (see [`Watched`]): registered once per response, read by
    /// [`Activity::stalled_for`] a few times per send timeout, never locked on the body's path.
    bodies: std::sync::Mutex<Vec<Weak<AtomicU64>>>,
}

/// A body clock's value while the body waits on its own source (the store), not on its client.
const ON_SOURCE: u64 = u64::MAX;

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
            bodies: std::sync::Mutex::default(),
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

    /// Resolves once one response's current piece has waited `limit` for its client to take it
    /// (whatever the connection's other responses do); checks every quarter of `limit`.
    pub(super) async fn stalled_for(&self, limit: Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        loop {
            tokio::time::sleep(limit / 4).await;
            let oldest = {
                let mut bodies = self.bodies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                bodies.retain(|b| b.strong_count() > 0);
                bodies.iter().filter_map(Weak::upgrade).map(|b| b.load(Relaxed)).min()
            };
            if let Some(since) = oldest.filter(|since| *since != ON_SOURCE)
                && millis_since(self.epoch).saturating_sub(since) >= limit_ms
            {
                return;
            }
        }
    }

    /// A clock for a new response body, starting now.
    fn clock(&self) -> Arc<AtomicU64> {
        let clock = Arc::new(AtomicU64::new(millis_since(self.epoch)));
        self.bodies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Arc::downgrade(&clock));
        clock
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
    B: http_body::Body<Data = Bytes>,
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

/// The largest piece a response body hands hyper at once. hyper takes the next piece only once
/// it has room, so with small pieces "taken" follows what the client reads; a 400 KB chunk
/// from the store would otherwise count as one step for a slow but steady reader. Splitting
/// `Bytes` copies nothing.
const PIECE: usize = 16 * 1024;

pin_project_lite::pin_project! {
    /// A response body with a clock: since when its current piece has waited for the client to
    /// take it ([`ON_SOURCE`] while the body waits on its own source, which the send timeout never
    /// counts). The request stays in flight until the body is done or dropped.
    pub(super) struct Watched<B> {
        #[pin]
        inner: B,
        in_flight: InFlight,
        clock: Arc<AtomicU64>,
        rest: Option<Bytes>,
    }
}

impl<B> Watched<B> {
    fn new(inner: B, in_flight: InFlight) -> Self {
        let clock = in_flight.0.clock();
        Self { inner, in_flight, clock, rest: None }
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for Watched<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        use std::task::Poll;
        let this = self.project();
        let now = millis_since(this.in_flight.0.epoch);
        let mut data = match this.rest.take() {
            Some(rest) => rest,
            None => match this.inner.poll_frame(cx) {
                Poll::Pending => {
                    this.clock.store(ON_SOURCE, Relaxed);
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => data,
                    Err(frame) => {
                        this.clock.store(now, Relaxed);
                        return Poll::Ready(Some(Ok(frame)));
                    }
                },
                other @ Poll::Ready(_) => {
                    this.clock.store(now, Relaxed);
                    return other;
                }
            },
        };
        if data.len() > PIECE {
            *this.rest = Some(data.split_off(PIECE));
        }
        this.clock.store(now, Relaxed);
        Poll::Ready(Some(Ok(http_body::Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let rest = self.rest.as_ref().map_or(0, |r| r.len() as u64);
        let inner = self.inner.size_hint();
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}
