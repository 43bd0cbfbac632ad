//! The TLS side of the accept loop: the server's handshake (bounded by the header timeout, its
//! kind and bytes recorded in the meter), and [`Settled`], the stream that classifies a TLS
//! connection as app or admin by its first plaintext request, as a plaintext one is by its first
//! bytes. The bytes stay counted below TLS, on the TCP socket: what the NIC carries.

use crate::metrics::{Counted, Side, Traffic};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

/// Runs the server's side of a TLS handshake on `io`, for at most `limit`; records it (full or
/// resumed, and its bytes) or its failure in the socket's meter. `None` when it failed: the
/// connection is closed (a plaintext request on a TLS port ends here, at once).
pub async fn accept<T>(config: &Arc<rustls::ServerConfig>, io: Counted<T>, limit: Duration) -> Option<Settled<T>>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let meter = io.meter().clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
    let io = RecordByRecord { inner: io, handshaking: true, header: [0; 5], header_len: 0, remaining: 0, pause: false };
    match tokio::time::timeout(limit, acceptor.accept(io)).await {
        Ok(Ok(mut stream)) => {
            let (io, connection) = stream.get_mut();
            let resumed = connection.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            io.handshaking = false;
            meter.handshake(Side::Client, resumed, io.inner.total());
            Some(Settled { inner: stream, settled: false })
        }
        Ok(Err(e)) => {
            meter.client.tls.failed.fetch_add(1, Relaxed);
            tracing::debug!("TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            meter.client.tls.failed.fetch_add(1, Relaxed);
            tracing::debug!("TLS handshake not finished within {limit:?}; connection closed");
            None
        }
    }
}

/// During the handshake, reads one TLS record at a time, and after an encrypted record (in TLS
/// 1.3 the client's Finished, the last of its handshake) answers the next read "not yet" once
/// (waking the reader at once): the handshake then ends exactly after the Finished, instead of
/// reading on into the request a TLS 1.3 client sends right behind it. Afterwards reads pass
/// through. With TLS 1.2 the count may hold the first record of the request (its Finished is not
/// the last encrypted record type). Hand-written: rustls and tokio-rustls read whatever the
/// socket holds, and no crate bounds a read at a record; the five-byte record header is TLS's own
/// framing (RFC 8446 §5.1).
pub struct RecordByRecord<T> {
    inner: Counted<T>,
    handshaking: bool,
    header: [u8; 5],
    header_len: usize,
    remaining: usize,
    /// Answer the next read "not yet" (after a whole encrypted record).
    pause: bool,
}

/// TLS's record type of encrypted records (TLS 1.3 handshake messages after the ServerHello
/// travel in it too).
const APPLICATION_DATA: u8 = 23;

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for RecordByRecord<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.handshaking {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        if std::mem::take(&mut self.pause) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // The header first (up to its five bytes), then at most the rest of the record, through
        // a buffer of that size (a handshake takes a few reads; its records are small).
        let want = if self.remaining > 0 { self.remaining } else { 5 - self.header_len };
        let mut bytes = vec![0u8; want.min(buf.remaining())];
        let mut limited = ReadBuf::new(&mut bytes);
        let poll = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        if let Poll::Ready(Ok(())) = poll {
            let read = limited.filled();
            let n = read.len();
            buf.put_slice(read);
            let this = &mut *self;
            if this.remaining > 0 {
                this.remaining -= n;
                this.pause = this.remaining == 0 && this.header[0] == APPLICATION_DATA;
            } else {
                this.header[this.header_len..this.header_len + n].copy_from_slice(read);
                this.header_len += n;
                if this.header_len == 5 {
                    this.remaining = usize::from(u16::from_be_bytes([this.header[3], this.header[4]]));
                    this.header_len = 0;
                }
            }
        }
        poll
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RecordByRecord<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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

/// A TLS stream whose socket learns, from the first plaintext bytes, whether the connection is
/// a scrape.
pub struct Settled<T> {
    inner: TlsStream<RecordByRecord<T>>,
    settled: bool,
}

impl<T> Settled<T> {
    fn settle(&mut self, traffic: Traffic) {
        if !self.settled {
            self.settled = true;
            self.inner.get_mut().0.inner.settle(traffic);
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Settled<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.settled && buf.filled().len() > before {
            let traffic = Traffic::of(&buf.filled()[before..]);
            self.settle(traffic);
        }
        poll
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Settled<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // Written before any request was read: not a scrape.
        self.settle(Traffic::App);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.settle(Traffic::App);
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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
