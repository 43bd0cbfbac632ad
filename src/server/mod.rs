//! The accept loop every server shares: counted sockets, HTTP/1.1 and HTTP/2, graceful shutdown, and the
//! connection-level guards of [`Limits`] (header timeout, idle kept-alive connections, a bounded
//! graceful close, responses whose client stopped reading, half-closed clients, the cap on open
//! connections), fed by what `watch` sees of each connection. Request-level guards live with the
//! app (`app::guard`).

use crate::metrics::{Counted, Meter};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use watch::{Activity, Timed, sleep_until};

mod tls;
mod watch;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Timeouts and caps of one server, with the defaults a deployment would choose. Every one is a
/// flag of `broker` and `proxy` (README, "Timeouts and limits").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait for a request's headers (`--header-timeout`).
    pub header_timeout: Duration,
    /// Longest pause between two pieces of a request body (`--body-idle-timeout`).
    pub body_idle_timeout: Duration,
    /// Longest time one request may take, body included (`--request-timeout`).
    pub request_timeout: Duration,
    /// Longest time a response body may wait for its client to take the next piece
    /// (`--send-timeout`): a client that stops reading a download is disconnected, and the
    /// store connection behind the download is freed. A slow store never counts here.
    pub send_timeout: Duration,
    /// Client connections open at once; above it, a 503 and the connection is closed
    /// (`--max-connections`).
    pub max_connections: usize,
    /// App requests (uploads, presigns, completions, downloads) handled at once; above it, a 503
    /// (`--max-in-flight`).
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(600),
            send_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_in_flight: 512,
        }
    }
}

/// tower-http's CORS layer for `origins` (none: no layer, so browsers on other origins are
/// refused), allowing `methods` and `headers`, exposing `expose`, with a ten-minute `max-age` and
/// tower-http's default `Vary: Origin`. No credentials: no server here takes cookies. Shared by
/// the store (`storage --cors-origin`) and the app servers (`--cors-origin`).
#[must_use]
pub fn cors(
    origins: &[String],
    methods: &[http::Method],
    headers: &[http::HeaderName],
    expose: &[http::HeaderName],
) -> Option<tower_http::cors::CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allowed: Vec<http::HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::AllowOrigin::list(allowed))
            .allow_methods(methods.to_vec())
            .allow_headers(headers.to_vec())
            .expose_headers(expose.to_vec())
            .max_age(Duration::from_secs(600)),
    )
}

/// Seconds a refused client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 1;

/// The whole answer to a connection above [`Limits::max_connections`]: the JSON error contract,
/// written straight to the socket because no HTTP connection is set up for it.
fn overloaded_response() -> Vec<u8> {
    let body = r#"{"error":{"code":"overloaded","message":"too many connections; retry later"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection over the cap with [`overloaded_response`], then closes it after the
/// client's request has drained (closing with unread bytes would reset the connection and lose
/// the answer). Bounded: one second of draining at most.
async fn refuse<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut io: T) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = async {
        io.write_all(&overloaded_response()).await?;
        io.shutdown().await?;
        let mut sink = [0u8; 4096];
        while io.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

/// Errors of binding a listener.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// Why it failed (e.g. address in use).
    #[source]
    pub source: std::io::Error,
}

/// Binds `addr` (port 0 allowed).
///
/// # Errors
/// [`BindError`] naming the address, e.g. when the port is in use.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| BindError { addr, source })
}

/// How a server speaks: plaintext (`None`), or TLS with this configuration.
pub type Tls = Option<Arc<rustls::ServerConfig>>;

/// Prints `listening on http://ADDR` (`https://` with TLS) as the first line on stdout, so a
/// parent that started the server on port 0 learns the address.
pub fn announce(listener: &TcpListener, tls: bool) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}://{addr}", if tls { "https" } else { "http" })?;
    out.flush()?;
    Ok(addr)
}

/// Prints `listening on URL` as the first line on stdout (for a server whose socket is not ours,
/// such as a MinIO node that `presign-bench minio-node` supervises).
///
/// # Errors
/// When stdout cannot be written.
pub fn announce_url(url: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {url}")?;
    out.flush()
}

/// Serves HTTP/1.1 and HTTP/2 on `listener` until `shutdown` resolves, then drains in-flight
/// requests. Plaintext: HTTP/2 to clients that open with its preface (h2c, prior knowledge).
/// With `tls`: the version the client chose by ALPN (`h2` or `http/1.1`), as browsers do.
///
/// Every accepted socket is wrapped in [`Counted`], so `meter` sees each byte that crosses it
/// (with TLS: below TLS, records and handshakes included, as the NIC carries them).
/// Headers must arrive within `limits.header_timeout`; a client that half-closes after its request
/// still gets the answer; connections above `limits.max_connections` get a 503 and are closed.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    meter: Arc<Meter>,
    limits: Limits,
    tls: Tls,
    shutdown: impl Future<Output = ()>,
) where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Hand-written drain instead of hyper-util's `GracefulShutdown`: each connection must also be
    // shut down gracefully when it has been idle too long (below), and hyper-util's watcher
    // offers no second trigger. A token tells every connection to finish; the tracker waits.
    let closing = CancellationToken::new();
    let connections = tokio_util::task::TaskTracker::new();
    // HTTP/1.1, and HTTP/2 to clients that open with its preface: over TLS, the client opens
    // with it after choosing h2 by ALPN; in plaintext, h2c with prior knowledge.
    let mut http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    http.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).half_close(true);
    http.http2().timer(TokioTimer::new()).keep_alive_interval(None);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: log, back off briefly, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            meter.overloaded_connections.fetch_add(1, Relaxed);
            if tls.is_some() {
                // A TLS client cannot read a plaintext 503, and a handshake would spend the CPU
                // the cap is there to save: the connection is closed (counted as refused).
                continue;
            }
            let paced = crate::shaping::Paced::new(stream, meter.nic.clone());
            tokio::spawn(refuse(Counted::accepted(paced, meter.clone())));
            continue;
        };
        let activity = Arc::new(Activity::new());
        let service = Timed { inner: service.clone(), meter: meter.clone(), activity: activity.clone() };
        let (http, meter, closing, tls) = (http.clone(), meter.clone(), closing.clone(), tls.clone());
        connections.spawn(async move {
            let known = tokio::select! {
                known = version_known(&stream, limits.header_timeout) => known,
                () = closing.cancelled() => false,
            };
            if known {
                let paced = crate::shaping::Paced::new(stream, meter.nic.clone());
                let connection =
                    Connection { http: &http, activity: &activity, meter: &meter, limits, closing: &closing };
                match &tls {
                    None => connection.drive(Counted::accepted(paced, meter.clone()), service).await,
                    Some(config) => {
                        let counted = Counted::accepted_tls(paced, meter.clone());
                        if let Some(io) = tls::accept(config, counted, limits.header_timeout).await {
                            connection.drive(io, service).await;
                        }
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    closing.cancel();
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait()).await.is_err() {
        tracing::warn!("in-flight requests still running after {DRAIN_TIMEOUT:?}; closing");
    }
}

/// What serving one accepted connection needs from its server.
struct Connection<'a> {
    http: &'a hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    activity: &'a Activity,
    meter: &'a Meter,
    limits: Limits,
    closing: &'a CancellationToken,
}

impl Connection<'_> {
    /// Serves HTTP on `io` (a counted socket, or TLS over one) until the client leaves, the
    /// server closes, or a guard of [`Limits`] ends it.
    async fn drive<I, S, B>(&self, io: I, service: Timed<S>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (limits, activity, meter) = (self.limits, self.activity, self.meter);
        let conn = self.http.serve_connection(TokioIo::new(io), service).into_owned();
        tokio::pin!(conn);
        // Shut down gracefully (in-flight requests finish) when the server stops, or when
        // no request has been in flight for the header timeout: an idle HTTP/2
        // connection would otherwise hold its slot for ever (HTTP/1.1's header timeout
        // covers only a request that has begun). A graceful close is bounded too: a
        // client that never answers HTTP/2's closing PING is cut off once nothing has
        // been in flight for another header timeout. A response whose client has not
        // taken a piece for the send timeout ends the connection at once.
        let mut closing_since: Option<tokio::time::Instant> = None;
        let ended = loop {
            let cut_off = closing_since.map(|since| since + limits.header_timeout);
            tokio::select! {
                ended = conn.as_mut() => break ended,
                () = self.closing.cancelled(), if closing_since.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(tokio::time::Instant::now());
                }
                () = activity.idle_for(limits.header_timeout), if closing_since.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(tokio::time::Instant::now());
                }
                () = activity.stalled_for(limits.send_timeout) => {
                    meter.send_timeouts.fetch_add(1, Relaxed);
                    tracing::debug!("a response waited {:?} for its client; connection closed", limits.send_timeout);
                    break Ok(());
                }
                () = sleep_until(cut_off), if cut_off.is_some() => {
                    if activity.is_idle() {
                        tracing::debug!("a graceful close was not answered within {:?}; connection closed", limits.header_timeout);
                        break Ok(());
                    }
                    // Requests still in flight: each is bounded by its own timeouts.
                    closing_since = Some(tokio::time::Instant::now());
                }
            }
        };
        if let Err(e) = ended {
            tracing::debug!("connection ended with error: {e}");
        }
    }
}

/// Waits, at most `limit`, until the client's first bytes tell HTTP/1.1 from HTTP/2's preface.
/// hyper-util's auto builder reads them with no timer of its own (the header timeout starts only
/// after), so without this a socket that sends nothing would hold a connection slot for ever.
/// False when the time is up or the client left; nothing is consumed (the bytes are peeked).
async fn version_known(stream: &tokio::net::TcpStream, limit: Duration) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let wait = async {
        let mut buf = [0u8; PREFACE.len()];
        loop {
            let n = match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            if n == PREFACE.len() || buf[..n] != PREFACE[..n] {
                return true;
            }
            // A beginning of the preface: more is on its way (peek would return at once).
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(limit, wait).await.unwrap_or(false)
}

/// Serves an axum router: [`serve`] for the broker and the proxy.
pub async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    meter: Arc<Meter>,
    limits: Limits,
    tls: Tls,
    shutdown: impl Future<Output = ()>,
) {
    serve(listener, hyper_util::service::TowerToHyperService::new(router), meter, limits, tls, shutdown).await;
}

/// Resolves when `stop` is cancelled (the entry point cancels it on SIGINT or SIGTERM) or, with
/// `watch_stdin`, when standard input closes: a server started by `run` exits when its parent
/// goes away, however the parent ended.
pub async fn shutdown(stop: CancellationToken, watch_stdin: bool) {
    let stdin = async {
        if watch_stdin {
            stdin_closed().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = stop.cancelled() => tracing::info!("shutdown signal received; draining"),
        () = stdin => tracing::info!("standard input closed (parent gone); draining"),
    }
}

async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}
