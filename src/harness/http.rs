//! The harness's HTTP client: hyper over [`CountingConnector`], so the harness knows the bytes of
//! each kind of request it sends (presign, complete, PUT) as they crossed its sockets.

use crate::loadgen::Failure;
use crate::metrics::{CountingConnector, Meter, Snapshot};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// Request bodies: a full buffer or a stream of shared chunks.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A full body.
#[must_use]
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A streamed body from refcounted chunks (no copy).
#[must_use]
pub fn chunks(chunks: Vec<Bytes>) -> Body {
    let frames = futures_util::stream::iter(chunks.into_iter().map(|c| Ok::<_, Infallible>(Frame::data(c))));
    StreamBody::new(frames).boxed_unsync()
}

/// A pooled client whose sockets are counted into `meter`.
#[derive(Clone, Debug)]
pub struct Http {
    client: Client<CountingConnector, Body>,
    /// Bytes this client's sockets carried (outbound side).
    pub meter: Arc<Meter>,
    timeout: Duration,
    link: crate::scenario::ClientLink,
}

impl Http {
    /// A client with its own meter and a per-request `timeout`.
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        let meter = Meter::new();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(CountingConnector::new(meter.clone()));
        Self { client, meter, timeout, link: crate::scenario::ClientLink::default() }
    }

    /// The same client behind a simulated link: bodies capped at its bandwidth, each request
    /// delayed by its round trip.
    #[must_use]
    pub fn shaped(mut self, link: crate::scenario::ClientLink) -> Self {
        self.link = link;
        self
    }

    /// Sends `request` and reads the whole response, bounded by the timeout.
    ///
    /// # Errors
    /// [`Failure`] by kind: connect, timeout or io (statuses are returned, not errors).
    pub async fn send(&self, request: http::Request<Body>) -> Result<(http::StatusCode, Bytes), Failure> {
        if let Some(rtt) = self.link.rtt() {
            tokio::time::sleep(rtt).await;
        }
        let request = match self.link.bandwidth_bytes_per_sec {
            Some(rate) => request.map(|body| crate::shaping::Throttled::new(body, rate).boxed_unsync()),
            None => request,
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| if e.is_connect() { Failure::Connect } else { Failure::Io })?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|_| Failure::Io)?.to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange).await.unwrap_or(Err(Failure::Timeout))
    }
}

/// Scrapes `base/metrics` on a fresh connection (scrapes never share app connections, so the
/// server counts them as admin traffic) and parses it.
///
/// # Errors
/// A message naming the URL when the server does not answer or a series is missing.
pub async fn scrape(base: &str) -> Result<Snapshot, String> {
    let url = format!("{base}/metrics");
    let (_, body) = crate::server::get_once(&url, Duration::from_secs(10)).await?;
    Snapshot::parse(&String::from_utf8_lossy(&body)).map_err(|e| format!("{url}: {e}"))
}
