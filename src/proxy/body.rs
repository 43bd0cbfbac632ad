//! [`UploadBody`]: the client's request body on its way to the store, checked as it passes.
//!
//! It counts bytes against the declared length and sniffs the first bytes for the declared type's
//! magic numbers. On a short body, a failed client stream or wrong magic numbers it fails the
//! stream, which aborts the PutObject before the store commits anything; the cause is kept in
//! [`Outcome`] for the response.
//!
//! It also tells whether the store is taking the bytes ([`Progress`]): while the body waits for
//! the client, the body idle timeout is in charge; otherwise, time without a poll is time the
//! store did not take what it was given (or, after the last byte, did not answer).

use crate::app::check::{SNIFF_LEN, check_magic};
use crate::app::error::ApiError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use sync_wrapper::SyncWrapper;

/// Why the body failed, read by the handler after the PutObject returns.
#[derive(Clone, Debug, Default)]
pub struct Outcome(Arc<Mutex<Option<ApiError>>>);

impl Outcome {
    /// The failure the body recorded, if any.
    pub fn failure(&self) -> Option<ApiError> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn fail(&self, why: ApiError) -> std::io::Error {
        let message = why.to_string();
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
        std::io::Error::other(message)
    }
}

/// When the store last took something from the body.
#[derive(Debug)]
pub struct Progress {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last poll.
    last_ms: AtomicU64,
    /// The last poll found no client data: the client, not the store, is what is awaited.
    waiting_on_client: AtomicBool,
}

impl Progress {
    fn new() -> Self {
        Self { epoch: Instant::now(), last_ms: AtomicU64::new(0), waiting_on_client: AtomicBool::new(false) }
    }

    fn polled(&self, waiting_on_client: bool) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Relaxed);
        self.waiting_on_client.store(waiting_on_client, Relaxed);
    }

    /// How long the store has kept the body waiting; `None` while the client is awaited.
    fn store_idle(&self) -> Option<Duration> {
        if self.waiting_on_client.load(Relaxed) {
            return None;
        }
        Some(self.epoch.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Relaxed))))
    }

    /// Resolves once the store has kept the body waiting for `limit` (not taking bytes, or not
    /// answering after the last one). Checks again at most every `limit`.
    pub async fn stalled(&self, limit: Duration) {
        loop {
            match self.store_idle() {
                Some(idle) if idle >= limit => return,
                Some(idle) => tokio::time::sleep(limit.saturating_sub(idle)).await,
                None => tokio::time::sleep(limit).await,
            }
        }
    }
}

/// The request body, streamed and checked.
pub struct UploadBody {
    // axum's body is Send but not Sync; the S3 client wants Sync. Only `poll_frame` (with
    // `&mut self`) touches it, so SyncWrapper is sound.
    inner: SyncWrapper<axum::body::Body>,
    expected: u64,
    received: u64,
    content_type: String,
    /// The first bytes, until the magic check has run; empty afterwards.
    head: Vec<u8>,
    sniffed: bool,
    outcome: Outcome,
    progress: Arc<Progress>,
    /// The body idle timeout, to name it when it cuts the body.
    idle: Duration,
    /// Where a copy of each data frame goes as it passes (the malware scanner), with room
    /// reserved before the client is read: a slow scanner slows the upload instead of
    /// buffering it.
    tee: Option<tokio_util::sync::PollSender<Bytes>>,
}

impl UploadBody {
    /// Wraps `inner`, which must carry exactly `expected` bytes of `content_type` and is cut by a
    /// body idle timeout of `idle`.
    pub fn new(
        inner: axum::body::Body,
        expected: u64,
        content_type: String,
        idle: Duration,
    ) -> (Self, Outcome, Arc<Progress>) {
        let outcome = Outcome::default();
        let progress = Arc::new(Progress::new());
        let body = Self {
            inner: SyncWrapper::new(inner),
            expected,
            received: 0,
            content_type,
            head: Vec::with_capacity(SNIFF_LEN),
            sniffed: false,
            outcome: outcome.clone(),
            progress: progress.clone(),
            idle,
            tee: None,
        };
        (body, outcome, progress)
    }

    /// The same body, handing a copy of each data frame (a reference, not a copy of the bytes)
    /// to `to` as it passes. A receiver that goes away stops the copies, not the upload: the
    /// receiver answers for what it did not get.
    #[must_use]
    pub fn tee(mut self, to: tokio::sync::mpsc::Sender<Bytes>) -> Self {
        self.tee = Some(tokio_util::sync::PollSender::new(to));
        self
    }

    fn sniff(&mut self, data: &[u8], at_end: bool) -> Result<(), std::io::Error> {
        if self.sniffed {
            return Ok(());
        }
        let take = (SNIFF_LEN - self.head.len()).min(data.len());
        self.head.extend_from_slice(&data[..take]);
        if self.head.len() < SNIFF_LEN && !at_end {
            return Ok(());
        }
        self.sniffed = true;
        let verdict = check_magic(&self.content_type, &self.head);
        self.head = Vec::new();
        verdict.map_err(|why| self.outcome.fail(why))
    }

    fn check(&mut self, frame: &Frame<Bytes>) -> Result<(), std::io::Error> {
        let Some(data) = frame.data_ref() else { return Ok(()) };
        self.received += data.len() as u64;
        if self.received > self.expected {
            let why = format!("received more than the declared {} bytes", self.expected);
            return Err(self.outcome.fail(ApiError::IncompleteBody(why)));
        }
        self.sniff(data, self.received == self.expected)
    }
}

impl Body for UploadBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(tee) = &mut this.tee {
            match tee.poll_reserve(cx) {
                Poll::Pending => {
                    this.progress.polled(true);
                    return Poll::Pending;
                }
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => this.tee = None,
            }
        }
        let polled = Pin::new(this.inner.get_mut()).poll_frame(cx);
        this.progress.polled(polled.is_pending());
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                let checked = this.check(&frame);
                if let (Ok(()), Some(tee), Some(data)) = (&checked, &mut this.tee, frame.data_ref()) {
                    // Room was reserved above.
                    let _ = tee.send_item(data.clone());
                }
                Poll::Ready(Some(checked.map(|()| frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let why = format!("client stream failed after {} of {} bytes", this.received, this.expected);
                let cause = crate::app::guard::body_error(&e, this.idle, why);
                Poll::Ready(Some(Err(this.outcome.fail(cause))))
            }
            Poll::Ready(None) if this.received < this.expected => {
                this.tee = None;
                let why = format!("received {} of the declared {} bytes", this.received, this.expected);
                Poll::Ready(Some(Err(this.outcome.fail(ApiError::IncompleteBody(why)))))
            }
            Poll::Ready(None) => {
                // The end of the body is the end of the copies.
                this.tee = None;
                Poll::Ready(this.sniff(&[], true).err().map(Err))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.expected.saturating_sub(self.received))
    }
}
