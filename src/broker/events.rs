//! Store event notifications in: `POST /v1/events` takes the JSON S3 and MinIO send when an
//! object lands (`Records[].eventName` `s3:ObjectCreated:*`, `s3.bucket.name`, the URL-encoded
//! `s3.object.key`, `eventTime`), queues each upload's event durably, and answers at once; the
//! workers of `event_worker` then reach each upload's verdict as its completion would
//! (`settle`), so a client that uploads and never completes still leaves nothing unchecked.
//!
//! - Authenticated by a token of its own (`--events-token`; MinIO's webhook `auth_token`, sent
//!   as `Authorization: Bearer`): a missing or wrong one is 401 and changes nothing.
//! - Answered once queued, not once checked: a store's webhook target delivers one event at a
//!   time (MinIO's does), so an answer that waited for each check (a copy of the object) would
//!   queue every later event behind it. Queued in SQLite before the answer, so an event the
//!   broker took is never lost: a broker that stops settles its queue when it starts again.
//! - Which upload an object is comes from the object itself: with events on, every presigned
//!   PUT signs its upload id into the object's metadata (`x-amz-meta-upload-id`), so the broker
//!   stays stateless at presign time and an object it never signed (no id, a forged one, an id
//!   of another key) is counted and ignored.
//! - Idempotent: a duplicate event, or one that comes after a completion reached the verdict
//!   (`late`), finds the recorded verdict; events of different uploads are independent, so their
//!   order does not matter.
//! - `GET /v1/events/stats` (same token): counts of events by outcome, and the latency from the
//!   store's `eventTime` to the verdict as an HDR histogram.

use super::Broker;
use crate::app::error::{ApiError, method_not_allowed};
use crate::app::{guard, parse_json, policy};
use crate::results::latency;
use axum::extract::{Request, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

/// The object metadata that carries an upload's id when events are on, as S3 lists it...
pub const UPLOAD_ID_META: &str = "upload-id";
/// ...and as the PUT sends it.
pub const UPLOAD_ID_HEADER: &str = "x-amz-meta-upload-id";

/// Largest event body read: S3 and MinIO send one record per event, a few KiB.
const EVENT_BODY_LIMIT: u64 = 256 * 1024;

/// How the broker takes events (`broker --events-token`, `--event-wait`).
#[derive(Clone, Debug)]
pub struct EventsConfig {
    /// The bearer token senders must present.
    pub token: String,
    /// Longest a completion waits for its upload's event before checking the upload itself
    /// (zero: it does not wait; it checks unless the event's check holds the upload).
    pub wait: Duration,
}

/// What became of the records received.
#[derive(Debug, Default)]
pub struct Counts {
    verified: AtomicU64,
    rejected: AtomicU64,
    late: AtomicU64,
    duplicate: AtomicU64,
    ignored: AtomicU64,
    refused: AtomicU64,
}

impl Counts {
    /// Counts one record's outcome.
    pub fn add(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Verified => &self.verified,
            Outcome::Rejected => &self.rejected,
            Outcome::Late => &self.late,
            Outcome::Duplicate => &self.duplicate,
            Outcome::Ignored => &self.ignored,
        };
        counter.fetch_add(1, Relaxed);
    }
}

/// An event taken and queued: the upload key it names and the store's `eventTime`.
#[derive(Clone, Debug)]
pub struct Queued {
    /// Its row in the database's queue.
    pub id: i64,
    /// The upload key.
    pub key: String,
    /// When the store accepted the object, as it said.
    pub event_time: Option<String>,
}

/// The broker's event inbox: its settings, counts and latencies.
#[derive(Debug)]
pub struct Inbox {
    /// The settings.
    pub config: EventsConfig,
    /// SHA-256 of the token: presented tokens are compared by their hash, so the comparison's
    /// time says nothing about the token's bytes.
    token_hash: [u8; 32],
    /// What became of the records.
    pub counts: Counts,
    latency: std::sync::Mutex<hdrhistogram::Histogram<u64>>,
    /// Events queued for the workers.
    queue: tokio::sync::mpsc::UnboundedSender<Queued>,
    /// The workers' end, taken when they start.
    pub taken: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Queued>>,
}

impl Inbox {
    /// An empty inbox taking events with `config`.
    #[must_use]
    pub fn new(config: EventsConfig) -> Self {
        use sha2::Digest;
        let token_hash = sha2::Sha256::digest(config.token.as_bytes()).into();
        let (queue, taken) = tokio::sync::mpsc::unbounded_channel();
        Self {
            config,
            token_hash,
            counts: Counts::default(),
            latency: std::sync::Mutex::new(latency::histogram()),
            queue,
            taken: tokio::sync::Mutex::new(taken),
        }
    }

    /// Hands `event` to the workers.
    pub fn push(&self, event: Queued) {
        // The receiver lives as long as the inbox.
        let _ = self.queue.send(event);
    }

    /// Records the latency of an upload's first event: from its `eventTime` to now, when the
    /// broker has the upload's verdict.
    pub fn reached(&self, event_time: Option<&str>) {
        let Some(took) = event_time
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|at| SystemTime::now().duration_since(at).ok())
        else {
            return;
        };
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        latency::record(&mut self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner), us);
    }

    fn authorised(&self, headers: &http::HeaderMap) -> Result<(), ApiError> {
        use sha2::Digest;
        let value = headers.get(http::header::AUTHORIZATION).ok_or(ApiError::MissingToken)?;
        let value = value.to_str().map_err(|_| ApiError::InvalidToken("not text".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::InvalidToken("not a bearer token".into()))?;
        let presented: [u8; 32] = sha2::Sha256::digest(token.trim().as_bytes()).into();
        if presented == self.token_hash { Ok(()) } else { Err(ApiError::InvalidToken("wrong events token".into())) }
    }
}

/// The routes of the inbox.
pub(super) fn routes(broker: &Arc<Broker>) -> Router {
    Router::new()
        .route("/v1/events", post(receive).fallback(method_not_allowed))
        .route("/v1/events/stats", get(stats).fallback(method_not_allowed))
        .with_state(broker.clone())
}

/// An S3 event notification (the fields read here; the rest is ignored).
#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<Record>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_name: String,
    #[serde(default)]
    event_time: Option<String>,
    s3: Entity,
}

#[derive(Debug, Deserialize)]
struct Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Debug, Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Object {
    key: String,
}

/// What one record came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It reached a file.
    Verified,
    /// It reached a rejection.
    Rejected,
    /// Its upload's verdict was reached by a completion before it came.
    Late,
    /// Its upload had an event before.
    Duplicate,
    /// Not an upload the broker signed.
    Ignored,
}

/// The answer to a delivery: its records queued for a verdict, and those ignored at once
/// (another kind of event, another bucket, a key outside `uploads/`).
#[derive(Debug, Default, Serialize)]
struct Received {
    queued: u64,
    ignored: u64,
}

async fn receive(State(b): State<Arc<Broker>>, request: Request) -> Result<Json<Received>, ApiError> {
    let inbox = b.inbox.as_ref().ok_or(ApiError::NotFound)?;
    let (parts, body) = request.into_parts();
    if let Err(e) = inbox.authorised(&parts.headers) {
        inbox.counts.refused.fetch_add(1, Relaxed);
        return Err(e);
    }
    let body = guard::json_body(&parts.headers, body, b.app.config.limits.body_idle_timeout, EVENT_BODY_LIMIT).await?;
    let notification: Notification = parse_json(&body)?;
    let mut received = Received::default();
    let mut taken = Vec::new();
    for record in notification.records {
        if let Some(key) = upload_key(&b, &record) {
            taken.push((key, record.event_time));
        } else {
            inbox.counts.add(Outcome::Ignored);
            received.ignored += 1;
        }
    }
    if !taken.is_empty() {
        let ids = b.app.db.queue_events(taken.clone()).await?;
        received.queued = ids.len() as u64;
        for (id, (key, event_time)) in ids.into_iter().zip(taken) {
            inbox.push(Queued { id, key, event_time });
        }
    }
    Ok(Json(received))
}

/// The upload key a record names, when it is an object created in the broker's bucket under
/// `uploads/` (S3 and MinIO encode the key as a query value, `+` for a space).
fn upload_key(b: &Broker, record: &Record) -> Option<String> {
    let created = record.event_name.strip_prefix("s3:").unwrap_or(&record.event_name).starts_with("ObjectCreated:");
    if !created || record.s3.bucket.name != b.app.config.s3.bucket {
        return None;
    }
    let query = format!("k={}", record.s3.object.key);
    let (_, key) = form_urlencoded::parse(query.as_bytes()).next()?;
    key.starts_with(policy::UPLOAD_PREFIX).then(|| key.into_owned())
}

/// The answer to `GET /v1/events/stats`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stats {
    /// The events by outcome since the broker started.
    #[serde(flatten)]
    pub counts: crate::results::events::EventCounts,
    /// Verdicts on presigned uploads (this database's, all time) whose upload has had no event:
    /// lost, or on their way.
    pub without_event: u64,
    /// Events taken and not yet settled (counted once settled).
    pub queued: u64,
    /// From the store's `eventTime` to the broker having the upload's verdict (reached then, or
    /// found), of each upload's first event.
    pub latency: crate::results::latency::LatencySummary,
}

async fn stats(State(b): State<Arc<Broker>>, headers: http::HeaderMap) -> Result<Json<Stats>, ApiError> {
    let inbox = b.inbox.as_ref().ok_or(ApiError::NotFound)?;
    inbox.authorised(&headers)?;
    let c = &inbox.counts;
    let latency = latency::LatencySummary::of(&inbox.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    Ok(Json(Stats {
        counts: crate::results::events::EventCounts {
            verified: c.verified.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            late: c.late.load(Relaxed),
            duplicate: c.duplicate.load(Relaxed),
            ignored: c.ignored.load(Relaxed),
            refused: c.refused.load(Relaxed),
        },
        without_event: b.app.db.count_without_event(policy::UPLOAD_PREFIX).await?,
        queued: b.app.db.count_queued_events().await?,
        latency,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_metadata_s3_lists() {
        assert_eq!(UPLOAD_ID_HEADER.strip_prefix("x-amz-meta-"), Some(UPLOAD_ID_META));
    }

    #[test]
    fn a_minio_record_is_read() {
        let text = r#"{"EventName":"s3:ObjectCreated:Put","Key":"b/uploads/a/x y.jpg","Records":[{"eventVersion":"2.0",
            "eventSource":"minio:s3","eventTime":"2026-12-05T11:50:00.123Z","eventName":"s3:ObjectCreated:Put",
            "s3":{"bucket":{"name":"b"},"object":{"key":"uploads%2Fa%2Fx+y.jpg","size":3,"eTag":"e"}}}]}"#;
        let n: Notification = serde_json::from_str(text).unwrap();
        assert_eq!(n.records[0].s3.object.key, "uploads%2Fa%2Fx+y.jpg");
        assert_eq!(n.records[0].event_time.as_deref(), Some("2026-12-05T11:50:00.123Z"));
    }
}
