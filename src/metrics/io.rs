//! [`Counted`]: a stream wrapper that counts bytes where they cross the socket.

use super::{Meter, Side};
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
const ADMIN_PREFIXES: [&[u8]; 4] = [b"GET /metrics", b"GET /healthz", b"HEAD /healthz", b"GET /readyz"];

#[derive(Debug, Clone, Copy)]
enum Class {
    /// No byte read yet (client side only).
    Unknown,
    /// App traffic, counted; holds the open time for connection-seconds.
    App { opened_us: u64 },
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
}

impl<T> Counted<T> {
    /// Wraps a socket accepted from a client. It is classified (app or admin) on its first read.
    pub fn accepted(inner: T, meter: Arc<Meter>) -> Self {
        Self { inner, meter, side: Side::Client, class: Class::Unknown }
    }

    /// Wraps a socket the app opened to the object store.
    pub fn connected(inner: T, meter: Arc<Meter>) -> Self {
        let opened_us = meter.open(Side::Storage);
        Self { inner, meter, side: Side::Storage, class: Class::App { opened_us } }
    }

    fn classify(&mut self, admin: bool) {
        self.class = if admin { Class::Admin } else { Class::App { opened_us: self.meter.open(self.side) } };
    }

    fn count(&mut self, n: usize, read: bool) {
        if matches!(self.class, Class::Unknown) {
            // Written before anything was read: not a scrape.
            self.class = Class::App { opened_us: self.meter.open(self.side) };
        }
        let n = n as u64;
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
        if let Class::App { opened_us } = self.class {
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
                let first = &buf.filled()[before..];
                let admin = ADMIN_PREFIXES.iter().any(|p| first.starts_with(p));
                self.classify(admin);
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

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A hyper-util connector: plain TCP connections wrapped in [`Counted`], counted as outbound
/// ([`Side::Storage`]) connections of its meter.
#[derive(Clone, Debug)]
pub struct CountingConnector {
    meter: Arc<Meter>,
    connect_timeout: Duration,
}

impl CountingConnector {
    /// Connections counted into `meter`, each given up after 5 s of connecting.
    #[must_use]
    pub fn new(meter: Arc<Meter>) -> Self {
        Self { meter, connect_timeout: CONNECT_TIMEOUT }
    }

    /// The same, given up after `limit` of connecting.
    #[must_use]
    pub fn with_connect_timeout(meter: Arc<Meter>, limit: Duration) -> Self {
        Self { meter, connect_timeout: limit }
    }
}

impl tower::Service<http::Uri> for CountingConnector {
    type Response = TokioIo<Counted<crate::shaping::Paced<TcpStream>>>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let meter = self.meter.clone();
        let limit = self.connect_timeout;
        Box::pin(async move {
            let host = uri.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']).to_owned();
            let port = uri.port_u16().unwrap_or(80);
            let connect = TcpStream::connect((host.as_str(), port));
            let stream = tokio::time::timeout(limit, connect).await.map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, format!("connect to {host}:{port} timed out"))
            })??;
            stream.set_nodelay(true)?;
            let paced = crate::shaping::Paced::new(stream, meter.nic.clone());
            Ok(TokioIo::new(Counted::connected(paced, meter)))
        })
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
