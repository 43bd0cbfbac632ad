//! The accept loop every server shares: counted sockets, HTTP/1.1, graceful shutdown.

use crate::metrics::{Counted, Meter};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Prints `listening on http://ADDR` as the first line on stdout, so a parent that started the
/// server on port 0 learns the address.
pub fn announce(listener: &TcpListener) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    Ok(addr)
}

/// `GET url` on a fresh connection (never a pooled one: a server counts a connection whose
/// first request is `/metrics` or `/healthz` as a scrape), bounded by `limit`; returns the status
/// and the whole body. Used for scrapes and readiness probes.
///
/// # Errors
/// A message naming the URL when it does not answer in time or the answer breaks off.
pub async fn get_once(url: &str, limit: Duration) -> Result<(u16, bytes::Bytes), String> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let fetch = async {
        let response = client.get(uri).await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| format!("{url}: {e}"))?.to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(limit, fetch).await.map_err(|_| format!("{url}: timed out"))?
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

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then drains in-flight requests.
///
/// Every accepted socket is wrapped in [`Counted`], so `meter` sees each byte that crosses it.
pub async fn serve<S, B>(listener: TcpListener, service: S, meter: Arc<Meter>, shutdown: impl Future<Output = ()>)
where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(30));
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
        let paced = crate::shaping::Paced::new(stream, meter.nic.clone());
        let io = TokioIo::new(Counted::accepted(paced, meter.clone()));
        let service = Timed { inner: service.clone(), meter: meter.clone() };
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection ended with error: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests still running after {DRAIN_TIMEOUT:?}; closing");
    }
}

/// Times app requests (not `/metrics` or `/healthz`) into the meter: in flight, peak, busy time.
#[derive(Clone)]
struct Timed<S> {
    inner: S,
    meter: Arc<Meter>,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> hyper::service::Service<http::Request<Incoming>> for Timed<S>
where
    S: hyper::service::Service<http::Request<Incoming>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        if matches!(req.uri().path(), "/metrics" | "/healthz") {
            return Box::pin(self.inner.call(req));
        }
        let busy = self.meter.request_started();
        let response = self.inner.call(req);
        Box::pin(async move {
            let r = response.await;
            drop(busy);
            r
        })
    }
}

/// Serves an axum router: [`serve`] for the broker and the proxy.
pub async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    meter: Arc<Meter>,
    shutdown: impl Future<Output = ()>,
) {
    serve(listener, hyper_util::service::TowerToHyperService::new(router), meter, shutdown).await;
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
