//! [`Counted`]: a stream wrapper that counts bytes where they cross the socket.

use super::{InOut, Meter, Side};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Request-line prefixes that make a client connection an admin (scrape) connection.
const ADMIN_PREFIXES: [&[u8]; 5] =
    [b"GET /metrics", b"GET /healthz", b"HEAD /healthz", b"GET /readyz", b"GET /v1/events/stats"];
/// The request-line prefix that makes a client connection a store's event delivery.
const EVENTS_PREFIX: &[u8] = b"POST /v1/events";

/// Whose a client connection's bytes are, by its first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// App traffic.
    App,
    /// Scrapes: their own counters, not app traffic.
    Admin,
    /// A store delivering event notifications: app traffic (it crosses the app tier's NIC), also
    /// counted apart so a report can say what events cost.
    Events,
}

impl Traffic {
    /// The traffic a connection whose first request starts with `first` carries.
    #[must_use]
    pub fn of(first: &[u8]) -> Self {
        if ADMIN_PREFIXES.iter().any(|p| first.starts_with(p)) {
            Self::Admin
        } else if first.starts_with(EVENTS_PREFIX) {
            Self::Events
        } else {
            Self::App
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Class {
    /// No byte read yet (client side only).
    Unknown,
    /// A TLS connection whose first plaintext request has not been read yet: its bytes
    /// (handshake included) wait in `total` until [`Counted::settle`] says whose they are.
    Pending,
    /// App traffic, counted; holds the open time for connection-seconds, and whether it is a
    /// store's event delivery.
    App { opened_us: u64, events: bool },
    /// A scrape connection: bytes go to the admin counters.
    Admin,
}

/// A stream that adds every byte read or written to a [`Meter`].
#[derive(Debug)]
pub struct Counted<T> {
    inner: T,
    meter: Arc<Meter>,
    side: Side,
    class: Class,
    /// This connection's bytes so far.
    total: InOut,
}

impl<T> Counted<T> {
    /// Wraps a socket accepted from a client. It is classified (app or admin) on its first read.
    pub fn accepted(inner: T, meter: Arc<Meter>) -> Self {
        Self { inner, meter, side: Side::Client, class: Class::Unknown, total: InOut::default() }
    }

    /// Wraps a socket accepted from a client that speaks TLS: its bytes are held until
    /// [`Self::settle`] classifies it by its first plaintext request (or it closes: app).
    pub fn accepted_tls(inner: T, meter: Arc<Meter>) -> Self {
        Self { inner, meter, side: Side::Client, class: Class::Pending, total: InOut::default() }
    }

    /// Wraps a socket the app opened to the object store.
    pub fn connected(inner: T, meter: Arc<Meter>) -> Self {
        let opened_us = meter.open(Side::Storage);
        Self {
            inner,
            meter,
            side: Side::Storage,
            class: Class::App { opened_us, events: false },
            total: InOut::default(),
        }
    }

    /// This connection's bytes so far, both directions (after a TLS handshake: the handshake's).
    pub fn total(&self) -> InOut {
        self.total
    }

    /// The meter this socket counts into.
    pub fn meter(&self) -> &Arc<Meter> {
        &self.meter
    }

    /// Classifies a TLS connection by its first plaintext request ([`Traffic::of`]) and adds the
    /// bytes it held to that class's counters. Does nothing once classified.
    pub fn settle(&mut self, traffic: Traffic) {
        if !matches!(self.class, Class::Pending) {
            return;
        }
        self.classify(traffic);
        let (bytes_in, bytes_out) = match self.class {
            Class::Admin => (&self.meter.admin.bytes_in, &self.meter.admin.bytes_out),
            _ => (&self.meter.side(self.side).bytes_in, &self.meter.side(self.side).bytes_out),
        };
        bytes_in.fetch_add(self.total.bytes_in, Relaxed);
        bytes_out.fetch_add(self.total.bytes_out, Relaxed);
        if let Class::App { events: true, .. } = self.class {
            self.meter.events.bytes_in.fetch_add(self.total.bytes_in, Relaxed);
            self.meter.events.bytes_out.fetch_add(self.total.bytes_out, Relaxed);
        }
    }

    fn classify(&mut self, traffic: Traffic) {
        self.class = match traffic {
            Traffic::Admin => Class::Admin,
            Traffic::App => Class::App { opened_us: self.meter.open(self.side), events: false },
            Traffic::Events => Class::App { opened_us: self.meter.open(self.side), events: true },
        };
    }

    fn count(&mut self, n: usize, read: bool) {
        if read {
            self.total.bytes_in += n as u64;
        } else {
            self.total.bytes_out += n as u64;
        }
        if matches!(self.class, Class::Pending) {
            return;
        }
        if matches!(self.class, Class::Unknown) {
            // Written before anything was read: not a scrape.
            self.classify(Traffic::App);
        }
        let n = n as u64;
        if let (Class::App { events: true, .. }, read) = (self.class, read) {
            let counter = if read { &self.meter.events.bytes_in } else { &self.meter.events.bytes_out };
            counter.fetch_add(n, Relaxed);
        }
        let counter = match (self.class, read) {
            (Class::Admin, true) => &self.meter.admin.bytes_in,
            (Class::Admin, false) => &self.meter.admin.bytes_out,
            (_, true) => &self.meter.side(self.side).bytes_in,
            (_, false) => &self.meter.side(self.side).bytes_out,
        };
        counter.fetch_add(n, Relaxed);
    }
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        // A TLS connection that never sent a request (a failed handshake, a plaintext probe):
        // its bytes crossed the NIC all the same.
        self.settle(Traffic::App);
        if let Class::App { opened_us, .. } = self.class {
            self.meter.close(self.side, opened_us);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            if matches!(self.class, Class::Unknown) {
                let traffic = Traffic::of(&buf.filled()[before..]);
                self.classify(traffic);
            }
            self.count(n, true);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.count(n, false);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            self.count(n, false);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: hyper_util::client::legacy::connect::Connection> hyper_util::client::legacy::connect::Connection
    for Counted<T>
{
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.inner.connected()
    }
}

/// A connection opened to a server: a counted TCP socket, with TLS on top for an `https` URL
/// (counted below TLS, so records and handshakes are in the counts, as on the NIC).
pub enum Outbound<T> {
    /// Plain TCP.
    Plain(Counted<T>),
    /// TLS over the counted socket, and how long its handshake took.
    Tls(Box<tokio_rustls::client::TlsStream<Counted<T>>>, Duration),
}

impl<T> Outbound<T> {
    /// Whether the server chose HTTP/2 by ALPN.
    pub fn is_h2(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            Self::Tls(s, _) => s.get_ref().1.alpn_protocol() == Some(crate::tls::ALPN_H2),
        }
    }

    /// How long the TLS handshake took (`None`: plain TCP).
    pub fn handshake(&self) -> Option<Duration> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(_, took) => Some(*took),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Outbound<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s, _) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Outbound<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s, _) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s, _) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s, _) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s, _) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s, _) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl<T> hyper_util::client::legacy::connect::Connection for Outbound<T> {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        let connected = hyper_util::client::legacy::connect::Connected::new();
        if self.is_h2() { connected.negotiated_h2() } else { connected }
    }
}

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A hyper-util connector: TCP connections wrapped in [`Counted`] (with TLS on top for `https`
/// URLs), counted as outbound ([`Side::Storage`]) connections of its meter.
#[derive(Clone, Debug)]
pub struct CountingConnector {
    meter: Arc<Meter>,
    connect_timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl CountingConnector {
    /// Connections counted into `meter`, each given up after 5 s of connecting.
    #[must_use]
    pub fn new(meter: Arc<Meter>) -> Self {
        Self { meter, connect_timeout: CONNECT_TIMEOUT, tls: None }
    }

    /// The same, given up after `limit` of connecting.
    #[must_use]
    pub fn with_connect_timeout(meter: Arc<Meter>, limit: Duration) -> Self {
        Self { meter, connect_timeout: limit, tls: None }
    }

    /// The same, speaking TLS with `config` to `https` URLs (without it, an `https` URL fails).
    #[must_use]
    pub fn tls(mut self, config: Option<Arc<rustls::ClientConfig>>) -> Self {
        self.tls = config;
        self
    }

    /// Opens a counted connection to `uri`'s host and port, with TLS for `https`.
    ///
    /// # Errors
    /// A connect failure or timeout, or a TLS handshake failure (a certificate the client does
    /// not trust, expired, or for another host), each in one line naming the address.
    pub async fn open(&self, uri: &http::Uri) -> io::Result<Outbound<crate::shaping::Paced<TcpStream>>> {
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']).to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let limit = self.connect_timeout;
        let timed_out = || io::Error::new(io::ErrorKind::TimedOut, format!("connect to {host}:{port} timed out"));
        let stream =
            tokio::time::timeout(limit, TcpStream::connect((host.as_str(), port))).await.map_err(|_| timed_out())??;
        stream.set_nodelay(true)?;
        let paced = crate::shaping::Paced::new(stream, self.meter.nic.clone());
        let counted = Counted::connected(paced, self.meter.clone());
        if !https {
            return Ok(Outbound::Plain(counted));
        }
        let Some(config) = self.tls.clone() else {
            let message = format!("https://{host}:{port}: no CA to check its certificate against");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        };
        let name =
            crate::tls::server_name(&host).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let started = std::time::Instant::now();
        let handshake = tokio_rustls::TlsConnector::from(config).connect(name, counted);
        let failed = |e: String| {
            self.meter.storage.tls.failed.fetch_add(1, Relaxed);
            io::Error::new(io::ErrorKind::ConnectionAborted, format!("TLS to https://{host}:{port}: {e}"))
        };
        let stream = match tokio::time::timeout(limit, handshake).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(failed(e.to_string())),
            Err(_) => return Err(failed(format!("no handshake within {limit:?}"))),
        };
        let (counted, connection) = stream.get_ref();
        let resumed = connection.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        self.meter.handshake(Side::Storage, resumed, counted.total());
        Ok(Outbound::Tls(Box::new(stream), started.elapsed()))
    }
}

impl tower::Service<http::Uri> for CountingConnector {
    type Response = TokioIo<Outbound<crate::shaping::Paced<TcpStream>>>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move { connector.open(&uri).await.map(TokioIo::new) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_app_and_admin_apart() {
        let meter = Meter::new();
        let (a, mut b) = tokio::io::duplex(1024);
        let mut app = Counted::accepted(a, meter.clone());
        b.write_all(b"PUT /v1/proxy/uploads HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = app.read(&mut buf).await.unwrap();
        app.write_all(b"HTTP/1.1 201 Created\r\n").await.unwrap();
        assert_eq!(meter.client.bytes_in.load(Relaxed), n as u64);
        assert_eq!(meter.client.bytes_out.load(Relaxed), 22);
        assert_eq!(meter.client.open.load(Relaxed), 1);
        drop(app);
        assert_eq!(meter.client.open.load(Relaxed), 0);

        let (a, mut b) = tokio::io::duplex(1024);
        let mut scrape = Counted::accepted(a, meter.clone());
        b.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap();
        let n = scrape.read(&mut buf).await.unwrap();
        assert_eq!(meter.admin.bytes_in.load(Relaxed), n as u64);
        assert_eq!(meter.client.connections.load(Relaxed), 1);
    }
}
