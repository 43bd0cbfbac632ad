//! A presigned multipart upload as a client makes it: start it at the broker, then for each part
//! ask the broker for the part's URL and PUT the part straight to the store (`parts_in_flight`
//! at once), then complete with the parts' ETags. A part that fails is sent again on its own, up
//! to [`ATTEMPTS`] times; the parts that went through are never resent. An upload that cannot
//! finish is aborted, so it leaves no parts.

use super::http::{self, Http};
use crate::loadgen::Failure;
use ::http::{Method, Request, StatusCode, header};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;

/// Tries of one part before the upload is given up (and aborted).
pub const ATTEMPTS: u32 = 3;

/// What to upload, and how.
#[derive(Clone, Copy, Debug)]
pub struct Plan<'a> {
    /// Broker base URL.
    pub broker: &'a str,
    /// `Bearer …`.
    pub authorization: &'a str,
    /// The file's name.
    pub filename: &'a str,
    /// Its content type.
    pub content_type: &'a str,
    /// Its size, bytes.
    pub size: u64,
    /// The part size asked for.
    pub part_size: u64,
    /// Parts in flight at once.
    pub parts_in_flight: u64,
}

/// What a finished upload took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    /// The file's id, from the completion.
    pub file_id: String,
    /// Parts uploaded.
    pub parts: u64,
    /// Part attempts that failed and were retried.
    pub retries: u64,
    /// Starting the upload at the broker.
    pub start: Duration,
    /// Every part's URL and PUT.
    pub transfer: Duration,
    /// The completion.
    pub complete: Duration,
}

/// The broker's answer to a start.
#[derive(Deserialize)]
struct Started {
    upload_id: String,
    part_size: u64,
    parts: u64,
}

/// The broker's answer for a part.
#[derive(Deserialize)]
struct PartUrl {
    url: String,
}

fn json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|_| Failure::Io)
}

fn expect(status: StatusCode, want: StatusCode) -> Result<(), Failure> {
    if status == want { Ok(()) } else { Err(Failure::Http(status.as_u16())) }
}

/// The clients of an upload: `app` starts it and asks for part URLs, `store` sends the parts,
/// `complete` completes it (separate clients, so each kind of request's bytes are on its meter).
#[derive(Clone, Copy, Debug)]
pub struct Clients<'a> {
    /// To the broker: start, part URLs, abort.
    pub app: &'a Http,
    /// To the store: the parts.
    pub store: &'a Http,
    /// To the broker: the completion.
    pub complete: &'a Http,
}

/// Uploads `plan`'s file, whose bytes `body(offset, length)` gives.
///
/// # Errors
/// The [`Failure`] of the step that could not be done (a part's last attempt's).
pub async fn upload(
    Clients { app, store, complete }: Clients<'_>,
    plan: Plan<'_>,
    body: &(dyn Fn(u64, u64) -> Vec<Bytes> + Sync),
) -> Result<Uploaded, Failure> {
    let t0 = Instant::now();
    let start = serde_json::json!({
        "filename": plan.filename,
        "content_type": plan.content_type,
        "size": plan.size,
        "part_size": plan.part_size,
    });
    let request = Request::post(format!("{}/v1/multipart", plan.broker))
        .header(header::AUTHORIZATION, plan.authorization)
        .header(header::CONTENT_TYPE, "application/json")
        .body(http::full(start.to_string()))
        .map_err(|_| Failure::Io)?;
    let (status, answer) = app.send(request).await?;
    expect(status, StatusCode::CREATED)?;
    let started: Started = json(&answer)?;
    let t1 = Instant::now();
    let base = format!("{}/v1/multipart/{}", plan.broker, started.upload_id);
    let retries = AtomicU64::new(0);
    let part = |number: u64| {
        let (base, retries) = (&base, &retries);
        async move {
            let offset = (number - 1) * started.part_size;
            let length = started.part_size.min(plan.size.saturating_sub(offset));
            let mut last = Failure::Io;
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    retries.fetch_add(1, Relaxed);
                }
                match send_part(app, store, (base, plan.authorization), number, body(offset, length), length).await {
                    Ok(etag) => return Ok((number, etag)),
                    // The broker refused (bad token, window closed): trying again will not help.
                    Err(Refusal::Final(f)) => return Err(f),
                    Err(Refusal::Retry(f)) => last = f,
                }
            }
            Err(last)
        }
    };
    let in_flight = usize::try_from(plan.parts_in_flight.max(1)).unwrap_or(1);
    let sent: Result<Vec<(u64, String)>, Failure> =
        futures_util::stream::iter(1..=started.parts).map(part).buffer_unordered(in_flight).try_collect().await;
    let mut etags = match sent {
        Ok(etags) => etags,
        Err(failure) => {
            abort(app, &base, plan.authorization).await;
            return Err(failure);
        }
    };
    etags.sort_unstable_by_key(|(n, _)| *n);
    let t2 = Instant::now();
    let list: Vec<_> = etags.iter().map(|(n, etag)| serde_json::json!({ "part_number": n, "etag": etag })).collect();
    let request = Request::post(format!("{base}/complete"))
        .header(header::AUTHORIZATION, plan.authorization)
        .header(header::CONTENT_TYPE, "application/json")
        .body(http::full(serde_json::json!({ "parts": list }).to_string()))
        .map_err(|_| Failure::Io)?;
    let answer = match complete.send(request).await {
        Ok((StatusCode::OK, answer)) => answer,
        failed => {
            abort(app, &base, plan.authorization).await;
            return Err(failed.map_or_else(|f| f, |(status, _)| Failure::Http(status.as_u16())));
        }
    };
    let file_id = json::<serde_json::Value>(&answer)?["file_id"].as_str().ok_or(Failure::Io)?.to_owned();
    Ok(Uploaded {
        file_id,
        parts: started.parts,
        retries: retries.load(Relaxed),
        start: t1 - t0,
        transfer: t2 - t1,
        complete: t2.elapsed(),
    })
}

/// Why a part attempt failed.
enum Refusal {
    /// Worth another attempt (the store or the network failed).
    Retry(Failure),
    /// Not (the broker refused to sign the part).
    Final(Failure),
}

/// One attempt at part `number`: its URL from the broker, then the PUT; the part's ETag.
async fn send_part(
    app: &Http,
    store: &Http,
    (base, authorization): (&str, &str),
    number: u64,
    chunks: Vec<Bytes>,
    length: u64,
) -> Result<String, Refusal> {
    let request = Request::post(format!("{base}/parts/{number}"))
        .header(header::AUTHORIZATION, authorization)
        .body(http::full(Bytes::new()))
        .map_err(|_| Refusal::Final(Failure::Io))?;
    let (status, answer) = app.send(request).await.map_err(Refusal::Retry)?;
    if status.is_client_error() {
        return Err(Refusal::Final(Failure::Http(status.as_u16())));
    }
    expect(status, StatusCode::OK).map_err(Refusal::Retry)?;
    let url: PartUrl = json(&answer).map_err(Refusal::Retry)?;
    let put = Request::builder()
        .method(Method::PUT)
        .uri(&url.url)
        .header(header::CONTENT_LENGTH, length)
        .body(http::chunks(chunks))
        .map_err(|_| Refusal::Final(Failure::Io))?;
    let (status, headers, _) = store.send_with_headers(put).await.map_err(Refusal::Retry)?;
    expect(status, StatusCode::OK).map_err(Refusal::Retry)?;
    let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).ok_or(Refusal::Retry(Failure::Io))?;
    Ok(etag.trim_matches('"').to_owned())
}

/// Aborts the upload at `base` (best effort: the broker's sweeper aborts what this misses).
async fn abort(app: &Http, base: &str, authorization: &str) {
    let Ok(request) = Request::delete(base).header(header::AUTHORIZATION, authorization).body(http::full(Bytes::new()))
    else {
        return;
    };
    if let Err(e) = app.send(request).await {
        tracing::debug!("aborting a multipart upload failed: {e:?}");
    }
}
