//! The harness's HTTP client: hyper connections over counted sockets, so the harness knows the
//! bytes of each kind of request it sends (presign, complete, PUT) as they crossed its sockets.
//!
//! HTTP/1.1 connections are pooled here, not by hyper-util's pooled client. That client spawns a
//! task per connection and passes every request to it over a channel, so each request costs two
//! task wake-ups, often across threads; a load generator's client must not cost more CPU than
//! what it measures. Here the task that sends a request drives its connection itself (as wrk and
//! oha do with a connection per worker), and an idle connection waits in a stack. `presign-bench
//! calibrate` measures the difference against wrk and oha. HTTP/2 (h2c, prior knowledge) shares
//! one multiplexed connection per server, driven by its own task as HTTP/2 needs.

use crate::loadgen::Failure;
use crate::metrics::{Meter, Outbound};
use crate::scenario::HttpVersion;
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::pin::Pin;
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

type Io = TokioIo<Outbound<crate::shaping::Paced<tokio::net::TcpStream>>>;

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

/// An HTTP/1.1 connection and the future that drives it.
struct H1 {
    authority: Authority,
    https: bool,
    home: Option<std::thread::ThreadId>,
    send: http1::SendRequest<Body>,
    conn: Pin<Box<http1::Connection<Io, Body>>>,
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
        self.send_with_headers(request).await.map(|(status, _, body)| (status, body))
    }

    /// [`Self::send`], with the response's headers (a part's `ETag`).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn send_with_headers(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes), Failure> {
        match self.exchange(request, Sink::Collect).await? {
            (status, headers, Received::Body(body)) => Ok((status, headers, body)),
            (status, headers, Received::Digest { .. }) => Ok((status, headers, Bytes::new())),
        }
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
        self.send_digest_with_headers(request).await.map(|(status, _, length, sha256)| (status, length, sha256))
    }

    /// [`Self::send_digest`], with the response's headers (a cache's `X-Cache`).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn send_digest_with_headers(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::StatusCode, http::HeaderMap, u64, [u8; 32]), Failure> {
        match self.exchange(request, Sink::Digest).await? {
            (status, headers, Received::Digest { bytes, sha256 }) => Ok((status, headers, bytes, sha256)),
            (status, headers, Received::Body(body)) => {
                use sha2::Digest;
                Ok((status, headers, body.len() as u64, sha2::Sha256::digest(&body).into()))
            }
        }
    }

    async fn exchange(&self, request: http::Request<Body>, sink: Sink) -> Result<Answer, Failure> {
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
                    self.send_h1((authority, https), request, sink).await
                }
                HttpVersion::Http2 => self.send_h2((authority, https), request, sink).await,
            }
        };
        tokio::time::timeout(self.timeout, exchange).await.unwrap_or(Err(Failure::Timeout))
    }

    async fn connect(&self, (authority, https): &Origin) -> Result<Io, Failure> {
        Ok(TokioIo::new(self.open(authority, *https).await.map_err(|_| Failure::Connect)?))
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

    /// An idle connection to `authority`, or a new one.
    async fn checkout(&self, origin: &Origin) -> Result<H1, Failure> {
        let reused = {
            let mut idle = self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let home = home();
            idle.iter()
                .rposition(|c| c.authority == origin.0 && c.https == origin.1 && c.home == home)
                .map(|i| idle.swap_remove(i))
        };
        if let Some(c) = reused {
            return Ok(c);
        }
        self.open_h1(origin).await
    }

    /// A new HTTP/1.1 connection to `origin`.
    async fn open_h1(&self, origin: &Origin) -> Result<H1, Failure> {
        let io = self.connect(origin).await?;
        let (send, conn) = http1::handshake(io).await.map_err(|_| Failure::Connect)?;
        Ok(H1 { authority: origin.0.clone(), https: origin.1, home: home(), send, conn: Box::pin(conn) })
    }

    async fn send_h1(&self, origin: Origin, request: http::Request<Body>, sink: Sink) -> Result<Answer, Failure> {
        let mut c = self.checkout(&origin).await?;
        // An idle connection the server has closed ends here, before the request is sent: then
        // the request goes on a new connection, which is always safe.
        // Biased, connection first: an idle connection is always "ready", and only polling the
        // connection itself notices that the server has closed it.
        let ready = tokio::select! {
            biased;
            _ = &mut c.conn => false,
            r = c.send.ready() => r.is_ok(),
        };
        if !ready {
            c = self.open_h1(&origin).await?;
            tokio::select! {
                r = c.send.ready() => r.map_err(|_| Failure::Io)?,
                _ = &mut c.conn => return Err(Failure::Io),
            }
        }
        let (answer, ended) = {
            let H1 { send, conn, .. } = &mut c;
            let exchange = async { read(send.send_request(request).await, sink).await };
            tokio::pin!(exchange);
            tokio::select! {
                r = &mut exchange => (r, false),
                // The connection can end in the same poll that delivers the last of a response
                // (`Connection: close`): that response is buffered and still arrives.
                _ = conn.as_mut() => (exchange.await, true),
            }
        };
        if answer.is_ok() && !ended && !c.send.is_closed() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(c);
        }
        answer
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
        let io = self.connect(origin).await?;
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

/// What happens to a response body.
#[derive(Clone, Copy)]
enum Sink {
    /// Kept whole.
    Collect,
    /// Hashed as it arrives, then dropped.
    Digest,
}

/// A response: status, headers and body.
type Answer = (http::StatusCode, http::HeaderMap, Received);

/// A response body, as its [`Sink`] left it.
enum Received {
    Body(Bytes),
    Digest { bytes: u64, sha256: [u8; 32] },
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
