//! The proxy's multipart path: a body above `--multipart-threshold` is streamed to the store as a
//! multipart upload, one part after the other, each part a window on the same client body.
//!
//! Nothing is buffered: [`PartBody`] hands the store the client's frames as they come, cutting
//! the frame that straddles a part boundary and keeping its rest for the next part, so memory per
//! upload stays what a single streamed PUT uses, whatever the object size. The price is that a
//! part that fails cannot be resent (its bytes are gone, as with a single PUT): the upload fails
//! and is aborted, and the client starts again. Resuming a failed part is what the presigned
//! flow gives a client, which holds its own bytes.

use super::body::UploadBody;
use crate::app::error::ApiError;
use crate::app::policy::Parts;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_types::byte_stream::ByteStream;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

/// The client body, shared by the parts read from it in turn.
struct Source {
    body: UploadBody,
    /// The rest of a frame that ran past the previous part's end.
    rest: Bytes,
}

/// `length` bytes of the shared source: one part.
struct PartBody {
    source: Arc<Mutex<Source>>,
    remaining: u64,
}

impl Body for PartBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let source = self.source.clone();
        // One part is read at a time, so the lock is never contended.
        let mut source = source.lock().unwrap_or_else(PoisonError::into_inner);
        let mut data = if source.rest.is_empty() {
            match Pin::new(&mut source.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    return Poll::Ready(Some(Err(std::io::Error::other("the client body ended inside a part"))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        // Trailers: nothing for the store; ask again.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    };
                    data
                }
            }
        } else {
            std::mem::take(&mut source.rest)
        };
        let take = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(data.len());
        source.rest = data.split_off(take);
        self.remaining -= take as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Streams `body` into multipart upload `upload_id` of `key` as `parts`; returns the parts to
/// complete it with ([`complete`]). The caller aborts the upload when this fails (or is dropped).
///
/// # Errors
/// The store's refusal, or a body longer than declared (the body's own failure, if any, is in
/// its outcome).
pub async fn send(
    s3: &aws_sdk_s3::Client,
    (bucket, key, upload_id): (&str, &str, &str),
    body: UploadBody,
    parts: Parts,
) -> Result<Vec<CompletedPart>, ApiError> {
    let source = Arc::new(Mutex::new(Source { body, rest: Bytes::new() }));
    let mut completed = Vec::new();
    for number in 1..=parts.count() {
        let (_, length) = parts.range(number).expect("numbers up to the count have a range");
        let part = PartBody { source: source.clone(), remaining: length };
        let number = i32::try_from(number).expect("at most 10,000 parts");
        let answer = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(i64::try_from(length).unwrap_or(i64::MAX))
            .body(ByteStream::from_body_1_x(part))
            .customize()
            // The part takes as long as the client does: the caller watches the store's progress.
            .config_override(aws_sdk_s3::config::Builder::default().timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder().disable_operation_timeout().build(),
            ))
            .send()
            .await
            .map_err(|e| ApiError::storage(&e))?;
        let etag = answer.e_tag().unwrap_or_default().to_owned();
        completed.push(CompletedPart::builder().part_number(number).e_tag(etag).build());
    }
    // Every part is sent: the body must end here. More data is a client that sent more than it
    // declared; an error is its failure; trailers are polled past.
    loop {
        let next = std::future::poll_fn(|cx| {
            let mut source = source.lock().unwrap_or_else(PoisonError::into_inner);
            Pin::new(&mut source.body).poll_frame(cx)
        });
        match next.await {
            None => return Ok(completed),
            Some(Ok(frame)) if frame.is_trailers() => {}
            Some(Ok(_)) => {
                let why = format!("received more than the declared {} bytes", parts.size);
                return Err(ApiError::IncompleteBody(why));
            }
            Some(Err(e)) => return Err(ApiError::IncompleteBody(format!("the client body failed at its end: {e}"))),
        }
    }
}

/// Completes multipart upload `upload_id` of `key` with `parts`; returns the object's ETag.
/// Assembling a large object takes the store a while: `limit` bounds it, not the store timeout
/// of one ordinary call.
///
/// # Errors
/// The store's refusal, or its silence past `limit`.
pub async fn complete(
    s3: &aws_sdk_s3::Client,
    (bucket, key, upload_id): (&str, &str, &str),
    parts: Vec<CompletedPart>,
    limit: std::time::Duration,
) -> Result<String, ApiError> {
    let assembled = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(assembled)
        .customize()
        .config_override(
            aws_sdk_s3::config::Builder::default()
                .timeout_config(aws_smithy_types::timeout::TimeoutConfig::builder().operation_timeout(limit).build()),
        )
        .send()
        .await
        .map_err(|e| ApiError::storage(&e))?;
    Ok(done.e_tag().unwrap_or_default().trim_matches('"').to_owned())
}
