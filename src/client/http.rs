//! The harness's HTTP client: hyper connections over counted sockets, so the harness knows the
//! bytes of each kind of request it sends (presign, complete, PUT) as they crossed its sockets.
//!
//! HTTP/1.1 connections are pooled here, not by hyper-util's pooled client. That client spawns a
//! task per connection and passes every request to it over a channel, so each request costs two
//! task wake-ups, often across threads; a load generator's client must not cost more CPU than
//! what it measures. Here the task that sends a request drives its connection itself (as wrk and
//! oha do with a connection per worker), speaking HTTP/1.1 with [`super::h1`], and an idle
//! connection waits in a stack. `presign-bench calibrate` measures the difference against wrk and
//! oha. HTTP/2 (h2c, prior knowledge) is hyper's: one multiplexed connection per server, driven
//! by its own task as HTTP/2 needs.

use super::h1::{self, Answer, Received, Sink};
use crate::loadgen::Failure;
use crate::metrics::{Meter, Outbound};
use crate::scenario::HttpVersion;
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
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

/// A counted socket (TLS inside when `https`).
type Socket = Outbound<crate::shaping::Paced<tokio::net::TcpStream>>;

/// The thread a connection belongs to: a load thread's single-threaded runtime owns the sockets
/// it opened (and ends when its share of the load does), so its connections stay on it; on any
/// other runtime every thread may use every connection (`None`).
fn home() -> Option<std::thread::ThreadId> {
    thread_local! {
        static HOME: Option<std::thread::ThreadId> = {
            let me = std::thread::current();
            me.name().is_some_and(|n| n.starts_with(crate::loadgen::THREAD_PREFIX)).then(|| me.id())
        };
    }
    HOME.with(|h| *h)
}

/// Where a connection goes: the server's authority, and whether it speaks TLS.
type Origin = (Authority, bool);

/// An HTTP/1.1 connection.
struct H1 {
    authority: Authority,
    https: bool,
    home: Option<std::thread::ThreadId>,
    conn: h1::Conn<Socket>,
}

/// An HTTP/2 connection (driven by a task of its own).
struct H2 {
    authority: Authority,
    https: bool,
    home: Option<std::thread::ThreadId>,
    send: http2::SendRequest<Body>,
}

/// The connections of one client.
#[derive(Default)]
struct Pool {
    /// Idle HTTP/1.1 connections, the most recently used last.
    idle: Mutex<Vec<H1>>,
    /// The HTTP/2 connection of each server (and load thread: see [`home`]).
    h2: tokio::sync::Mutex<Vec<H2>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map_or(0, |v| v.len());
        f.debug_struct("Pool").field("idle", &idle).finish_non_exhaustive()
    }
}

/// A client whose sockets are counted into `meter`.
#[derive(Clone, Debug)]
pub struct Http {
    pool: Arc<Pool>,
    /// Bytes this client's sockets carried (outbound side).
    pub meter: Arc<Meter>,
    timeout: Duration,
    link: crate::scenario::ClientLink,
    version: HttpVersion,
    tls: Option<crate::tls::Trust>,
}

impl Http {
    /// An HTTP/1.1 client with its own meter and a per-request `timeout`.
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        Self {
            pool: Arc::default(),
            meter: Meter::new(),
            timeout,
            link: crate::scenario::ClientLink::default(),
            version: HttpVersion::Http1,
            tls: None,
        }
    }

    /// The same client speaking TLS to `https` URLs, trusting what `trust` trusts and offering
    /// its HTTP version by ALPN (sessions resume from the trust's cache).
    #[must_use]
    pub fn tls(mut self, trust: Option<crate::tls::Trust>) -> Self {
        self.tls = trust;
        self
    }

    /// The same client speaking `version` (HTTP/2: by ALPN over TLS; in plaintext, prior
    /// knowledge).
    #[must_use]
    pub fn version(mut self, version: HttpVersion) -> Self {
        self.version = version;
        self
    }

    /// The same client behind a simulated link: bodies capped at its bandwidth, each request
    /// delayed by its round trip.
    #[must_use]
    pub fn shaped(mut self, link: crate::scenario::ClientLink) -> Self {
        self.link = link;
        self
    }

    /// Sends `request` (an absolute URL) and reads the whole response, bounded by the timeout.
    ///
    /// # Errors
    /// [`Failure`] by kind: connect, timeout or io (statuses are returned, not errors).
    pub async fn send(&self, request: http::Request<Body>) -> Result<(http::StatusCode, Bytes), Failure> {
        let (status, _, received) = self.exchange(request, Sink::Collect, false).await?;
        Ok((status, received.into_body()))
    }

    /// [`Self::send`], with the response's headers (a part's `ETag`).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn send_with_headers(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes), Failure> {
        let (status, headers, received) = self.exchange(request, Sink::Collect, true).await?;
        Ok((status, headers, received.into_body()))
    }

    /// Sends `request` and reads the response body as it arrives into SHA-256, keeping none of it
    /// (downloads of any size in constant memory): the status, the body's length and its digest.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn send_digest(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::StatusCode, u64, [u8; 32]), Failure> {
        let (status, _, received) = self.exchange(request, Sink::Digest, false).await?;
        let (length, sha256) = received.into_digest();
        Ok((status, length, sha256))
    }

    /// [`Self::send_digest`], with the response's headers (a cache's `X-Cache`).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn send_digest_with_headers(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::StatusCode, http::HeaderMap, u64, [u8; 32]), Failure> {
        let (status, headers, received) = self.exchange(request, Sink::Digest, true).await?;
        let (length, sha256) = received.into_digest();
        Ok((status, headers, length, sha256))
    }

    /// Sends `request` and reads its response into `sink`; its headers only when `headers` (an
    /// HTTP/1.1 response's are not otherwise built).
    async fn exchange(&self, request: http::Request<Body>, sink: Sink, headers: bool) -> Result<Answer, Failure> {
        if let Some(rtt) = self.link.rtt() {
            tokio::time::sleep(rtt).await;
        }
        let mut request = match self.link.bandwidth_bytes_per_sec {
            Some(rate) => request.map(|body| crate::shaping::Throttled::new(body, rate).boxed_unsync()),
            None => request,
        };
        let authority = request.uri().authority().cloned().ok_or(Failure::Connect)?;
        let https = request.uri().scheme_str() == Some("https");
        let exchange = async {
            match self.version {
                HttpVersion::Http1 => {
                    // Origin form and a Host header, as HTTP/1.1 sends them.
                    let path = request.uri().path_and_query().cloned().unwrap_or(PathAndQuery::from_static("/"));
                    let host = http::HeaderValue::from_str(authority.as_str()).map_err(|_| Failure::Connect)?;
                    request.headers_mut().entry(http::header::HOST).or_insert(host);
                    *request.uri_mut() = path.into();
                    self.send_h1((authority, https), request, sink, headers).await
                }
                // Boxed, so HTTP/1.1 requests' futures do not carry HTTP/2's space.
                HttpVersion::Http2 => Box::pin(self.send_h2((authority, https), request, sink)).await,
            }
        };
        tokio::time::timeout(self.timeout, exchange).await.unwrap_or(Err(Failure::Timeout))
    }

    async fn connect(&self, (authority, https): &Origin) -> Result<Socket, Failure> {
        self.open(authority, *https).await.map_err(|_| Failure::Connect)
    }

    /// A counted connection to `authority` (TLS when `https`, offering this client's version).
    async fn open(
        &self,
        authority: &Authority,
        https: bool,
    ) -> std::io::Result<Outbound<crate::shaping::Paced<tokio::net::TcpStream>>> {
        let uri = http::Uri::builder()
            .scheme(if https { "https" } else { "http" })
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let config = self.tls.as_ref().map(|t| match self.version {
            HttpVersion::Http1 => t.http1.clone(),
            HttpVersion::Http2 => t.h2.clone(),
        });
        let opened = crate::metrics::CountingConnector::new(self.meter.clone()).tls(config).open(&uri).await?;
        if let Some(took) = opened.handshake() {
            crate::loadgen::handshake(took);
        }
        Ok(opened)
    }

    /// Opens and closes one connection to `url`'s server: its error (a TLS certificate this
    /// client does not trust, say) in one line naming the address.
    ///
    /// # Errors
    /// The connect or handshake failure.
    pub async fn probe(&self, url: &http::Uri) -> std::io::Result<()> {
        let authority = url.authority().cloned().ok_or_else(|| std::io::Error::other(format!("{url}: no host")))?;
        self.open(&authority, url.scheme_str() == Some("https")).await.map(drop)
    }

    /// An idle connection to `origin` that is still open, or a new one.
    async fn checkout(&self, origin: &Origin) -> Result<H1, Failure> {
        let home = home();
        loop {
            let reused = {
                let mut idle = self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
                idle.iter()
                    .rposition(|c| c.authority == origin.0 && c.https == origin.1 && c.home == home)
                    .map(|i| idle.swap_remove(i))
            };
            // One the server closed while it was idle ends here, before the request is sent:
            // the request goes on another, which is always safe.
            match reused {
                Some(mut c) => {
                    if c.conn.is_open() {
                        return Ok(c);
                    }
                }
                None => break,
            }
        }
        // Boxed: opening a connection (TCP, TLS) is a large future, and every request's future
        // would otherwise carry its space (and copy it when moved) for a step it rarely takes.
        let conn = h1::Conn::new(Box::pin(self.connect(origin)).await?);
        Ok(H1 { authority: origin.0.clone(), https: origin.1, home, conn })
    }

    async fn send_h1(
        &self,
        origin: Origin,
        request: http::Request<Body>,
        sink: Sink,
        headers: bool,
    ) -> Result<Answer, Failure> {
        let mut c = self.checkout(&origin).await?;
        let (answer, reusable) = c.conn.exchange(request, sink, headers).await?;
        if reusable {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(c);
        }
        Ok(answer)
    }

    /// The HTTP/2 connection to `origin`, opened on first use and again after it closed.
    async fn h2(&self, origin: &Origin) -> Result<http2::SendRequest<Body>, Failure> {
        let home = home();
        let (authority, https) = origin;
        let mut connections = self.pool.h2.lock().await;
        let same = |c: &H2| c.authority == *authority && c.https == *https && c.home == home;
        if let Some(c) = connections.iter().find(|c| same(c) && !c.send.is_closed()) {
            return Ok(c.send.clone());
        }
        let io = TokioIo::new(self.connect(origin).await?);
        let (send, conn) = http2::handshake(TokioExecutor::new(), io).await.map_err(|_| Failure::Connect)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("HTTP/2 connection ended: {e}");
            }
        });
        connections.retain(|c| !same(c));
        connections.push(H2 { authority: authority.clone(), https: *https, home, send: send.clone() });
        Ok(send)
    }

    async fn send_h2(&self, origin: Origin, request: http::Request<Body>, sink: Sink) -> Result<Answer, Failure> {
        let mut send = self.h2(&origin).await?;
        send.ready().await.map_err(|_| Failure::Io)?;
        read(send.send_request(request).await, sink).await
    }
}

/// The status and the body of a response, into `sink`.
async fn read(response: hyper::Result<http::Response<hyper::body::Incoming>>, sink: Sink) -> Result<Answer, Failure> {
    let response = response.map_err(|_| Failure::Io)?;
    let (parts, mut body) = response.into_parts();
    let received = match sink {
        Sink::Collect => Received::Body(body.collect().await.map_err(|_| Failure::Io)?.to_bytes()),
        Sink::Digest => {
            use sha2::Digest;
            let (mut hash, mut bytes) = (sha2::Sha256::new(), 0u64);
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map_err(|_| Failure::Io)?.into_data() {
                    bytes += data.len() as u64;
                    hash.update(&data);
                }
            }
            Received::Digest { bytes, sha256: hash.finalize().into() }
        }
    };
    Ok((parts.status, parts.headers, received))
}
