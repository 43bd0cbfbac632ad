//! Link emulation, as wrappers: realistic clients (a per-upload bandwidth cap as a token bucket on
//! the request body, and a round trip added once per request) and an app server's NIC (all of its
//! sockets sharing one bandwidth per direction). The worker loop and the servers' handlers know
//! nothing of them.

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Largest frame a throttled body releases at once (and the bucket's burst): small enough that
/// pacing is smooth, large enough that it costs little.
pub const FRAME: usize = 16 * 1024;

/// A token bucket: `rate` bytes per second, holding at most `burst` bytes.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    #[must_use]
    pub fn new(rate: f64, burst: usize, now: Instant) -> Self {
        #[allow(clippy::cast_precision_loss)] // a frame size
        let burst = burst as f64;
        Self { rate, burst, tokens: burst, last: now }
    }

    /// Takes `n` bytes at `now`; returns how long the sender must wait before sending them.
    pub fn take(&mut self, n: usize, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        #[allow(clippy::cast_precision_loss)] // a frame size
        let n = n as f64;
        self.tokens -= n;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / self.rate) }
    }
}

/// A request body released no faster than a token bucket allows.
pub struct Throttled<B> {
    inner: B,
    bucket: Option<TokenBucket>,
    rate: f64,
    rest: Bytes,
    ready: Option<Bytes>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> Throttled<B> {
    /// Caps `inner` at `rate` bytes per second.
    pub fn new(inner: B, rate: f64) -> Self {
        Self { inner, bucket: None, rate, rest: Bytes::new(), ready: None, sleep: None }
    }
}

impl<B> Body for Throttled<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(sleep) = &mut this.sleep {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
            if let Some(frame) = this.ready.take() {
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            if !this.rest.is_empty() {
                let frame = this.rest.split_to(this.rest.len().min(FRAME));
                let now = Instant::now();
                let bucket = this.bucket.get_or_insert_with(|| TokenBucket::new(this.rate, FRAME, now));
                let wait = bucket.take(frame.len(), now);
                if wait.is_zero() {
                    return Poll::Ready(Some(Ok(Frame::data(frame))));
                }
                this.ready = Some(frame);
                this.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                continue;
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(mut data) => this.rest = data.copy_to_bytes(data.remaining()),
                    Err(other) => return Poll::Ready(Some(Ok(other))),
                },
                other => return other,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ready.is_none() && self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let buffered = (self.rest.len() + self.ready.as_ref().map_or(0, Bytes::len)) as u64;
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + buffered);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + buffered);
        }
        hint
    }
}

/// An emulated network interface: every socket of one app server shares its bandwidth, per
/// direction (received bytes and sent bytes each have their own bucket).
#[derive(Debug)]
pub struct Nic {
    rx: std::sync::Mutex<TokenBucket>,
    tx: std::sync::Mutex<TokenBucket>,
    rate: f64,
}

/// The NIC bucket's burst: bytes a socket may move before pacing starts.
const NIC_BURST: usize = 64 * 1024;

impl Nic {
    /// A NIC of `rate` bytes per second in each direction.
    #[must_use]
    pub fn new(rate: f64) -> std::sync::Arc<Self> {
        let now = Instant::now();
        std::sync::Arc::new(Self {
            rx: std::sync::Mutex::new(TokenBucket::new(rate, NIC_BURST, now)),
            tx: std::sync::Mutex::new(TokenBucket::new(rate, NIC_BURST, now)),
            rate,
        })
    }

    /// Bytes per second per direction.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn charge(bucket: &std::sync::Mutex<TokenBucket>, n: usize) -> Duration {
        bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take(n, Instant::now())
    }
}

/// A socket on an emulated NIC: reads and writes move at most [`FRAME`] bytes at a time, and after
/// each one the socket waits until the NIC's bucket has paid for them, so all sockets together move
/// no more than the NIC's rate (give or take one frame each). Without a NIC it is a plain
/// pass-through.
#[derive(Debug)]
pub struct Paced<T> {
    inner: T,
    nic: Option<std::sync::Arc<Nic>>,
    rx_wait: Option<Pin<Box<Sleep>>>,
    tx_wait: Option<Pin<Box<Sleep>>>,
}

impl<T> Paced<T> {
    /// `inner` on `nic` (or unpaced with `None`).
    pub fn new(inner: T, nic: Option<std::sync::Arc<Nic>>) -> Self {
        Self { inner, nic, rx_wait: None, tx_wait: None }
    }
}

fn wait(slot: &mut Option<Pin<Box<Sleep>>>, cx: &mut Context<'_>) -> Poll<()> {
    if let Some(sleep) = slot {
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        *slot = None;
    }
    Poll::Ready(())
}

fn owe(slot: &mut Option<Pin<Box<Sleep>>>, delay: Duration) {
    if !delay.is_zero() {
        *slot = Some(Box::pin(tokio::time::sleep(delay)));
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Paced<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if wait(&mut this.rx_wait, cx).is_pending() {
            return Poll::Pending;
        }
        let Some(nic) = &this.nic else { return Pin::new(&mut this.inner).poll_read(cx, buf) };
        // Read at most one frame, so the debt a read leaves behind is at most one frame.
        let room = buf.remaining().min(FRAME);
        let mut frame = tokio::io::ReadBuf::new(buf.initialize_unfilled_to(room));
        let poll = Pin::new(&mut this.inner).poll_read(cx, &mut frame);
        let n = frame.filled().len();
        buf.advance(n);
        if n > 0 {
            owe(&mut this.rx_wait, Nic::charge(&nic.rx, n));
        }
        poll
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Paced<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if wait(&mut this.tx_wait, cx).is_pending() {
            return Poll::Pending;
        }
        let Some(nic) = &this.nic else { return Pin::new(&mut this.inner).poll_write(cx, data) };
        let poll = Pin::new(&mut this.inner).poll_write(cx, &data[..data.len().min(FRAME)]);
        if let Poll::Ready(Ok(n)) = &poll {
            owe(&mut this.tx_wait, Nic::charge(&nic.tx, *n));
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl hyper_util::client::legacy::connect::Connection for Paced<tokio::net::TcpStream> {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.inner.connected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn sockets_on_one_nic_share_its_rate() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let nic = Nic::new(1_000_000.0); // 8 Mbit/s
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (a, mut b) = tokio::io::duplex(64 * 1024);
            let mut paced = Paced::new(a, Some(nic.clone()));
            tasks.push(tokio::spawn(async move {
                let writer = tokio::spawn(async move {
                    b.write_all(&vec![1u8; 512 * 1024]).await.unwrap();
                });
                let mut got = Vec::new();
                paced.read_to_end(&mut got).await.unwrap();
                writer.await.unwrap();
                got.len()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 512 * 1024);
        }
        // 1 MiB through a shared 1 MB/s NIC, less its 64 KiB burst: at least 0.98 s of paused time.
        let took = start.elapsed().as_secs_f64();
        let floor = (1024.0 * 1024.0 - 65_536.0) / 1_000_000.0;
        assert!(took >= floor * 0.99, "took {took}, floor {floor}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_paces_to_its_rate() {
        let start = Instant::now();
        let mut b = TokenBucket::new(1000.0, 100, start);
        assert_eq!(b.take(100, start), Duration::ZERO, "a full bucket sends a burst at once");
        assert_eq!(b.take(100, start), Duration::from_millis(100));
        // Idle time refills, but never beyond the burst.
        assert_eq!(b.take(100, start + Duration::from_secs(10)), Duration::ZERO);
        assert_eq!(b.take(50, start + Duration::from_secs(10)), Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    #[allow(clippy::cast_precision_loss)] // a byte count
    async fn a_throttled_body_takes_size_over_rate() {
        let size = 1024 * 1024;
        let body = http_body_util::Full::new(Bytes::from(vec![7u8; size]));
        let start = Instant::now();
        let rate = 1_000_000.0; // 8 Mbit/s
        let out = Throttled::new(body, rate).collect().await.unwrap().to_bytes();
        let took = start.elapsed().as_secs_f64();
        assert_eq!(out.len(), size);
        assert!(out.iter().all(|&b| b == 7));
        // The first frame is the burst; the rest is paced: (1 MiB - 16 KiB) / 1 MB/s.
        let expected = (size - FRAME) as f64 / rate;
        assert!((took - expected).abs() < 0.002, "took {took}, expected {expected}");
    }
}
