//! The workers that settle queued store events: each takes an event from the inbox, finds which
//! upload its object is (the upload id signed into the object's metadata), reaches or finds the
//! upload's verdict (`settle`), notes the event on it, and removes the event from the queue. A
//! store failure is tried again with a growing pause; the event stays queued meanwhile, so a
//! broker stopped mid-way settles it when it starts again.

use super::Broker;
use super::events::{Outcome, Queued, UPLOAD_ID_META};
use super::settle::settle;
use crate::app::error::ApiError;
use std::sync::Arc;
use std::time::Duration;

/// Events settled at once: each copies and checks an object, as a completion does.
pub const WORKERS: usize = 16;
/// Longest pause before an event whose settling failed is tried again.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Starts the workers of `broker`'s inbox (none without one), first handing them the events a
/// previous run of the broker left queued. The caller aborts them when the server stops.
pub async fn start(broker: &Arc<Broker>) -> Vec<tokio::task::JoinHandle<()>> {
    let Some(inbox) = &broker.inbox else { return Vec::new() };
    match broker.app.db.queued_events().await {
        Ok(left) => {
            if !left.is_empty() {
                tracing::info!(events = left.len(), "settling the store events queued before this start");
            }
            for (id, key, event_time) in left {
                inbox.push(Queued { id, key, event_time });
            }
        }
        Err(e) => tracing::error!("reading the queued store events: {e}"),
    }
    (0..WORKERS)
        .map(|_| {
            let b = broker.clone();
            tokio::spawn(async move {
                loop {
                    let Some(inbox) = &b.inbox else { return };
                    let Some(event) = inbox.taken.lock().await.recv().await else { return };
                    work(&b, event).await;
                }
            })
        })
        .collect()
}

/// Settles `event`, trying again while the store fails.
async fn work(b: &Broker, event: Queued) {
    let mut pause = Duration::from_millis(100);
    let outcome = loop {
        match one(b, &event).await {
            Ok(outcome) => break outcome,
            Err(e) => {
                tracing::warn!(key = event.key, "settling a store event failed ({e}); again in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    };
    if let Some(inbox) = &b.inbox {
        inbox.counts.add(outcome);
        // An upload's first event: how long the store's news took to reach a verdict here
        // (reached now, or found: a completion came first).
        if matches!(outcome, Outcome::Verified | Outcome::Rejected | Outcome::Late) {
            inbox.reached(event.event_time.as_deref());
        }
    }
    if let Err(e) = b.app.db.unqueue_event(event.id).await {
        tracing::error!(key = event.key, "removing a settled store event from the queue: {e}");
    }
}

/// One event: which upload it is, and its verdict.
async fn one(b: &Broker, event: &Queued) -> Result<Outcome, ApiError> {
    let key = &event.key;
    let Some(upload_id) = upload_id_of(b, key).await? else {
        // No object: a look at it copied and deleted it (one may be recording its verdict right
        // now: its lock is waited for), or it was never ours.
        let _settled = b.completing.lock(key).await;
        let known = b.app.db.by_upload_key(key).await?.is_some() || b.app.db.rejection(key).await?.is_some();
        return Ok(match (known, known && b.app.db.note_event(key).await?) {
            (false, _) => Outcome::Ignored,
            (true, true) => Outcome::Late,
            (true, false) => Outcome::Duplicate,
        });
    };
    let Ok(upload) = b.upload_ids.open_landed(&upload_id) else { return Ok(Outcome::Ignored) };
    if upload.key != *key {
        return Ok(Outcome::Ignored);
    }
    let verdict = settle(b, upload).await?;
    let first_event = b.app.db.note_event(key).await?;
    Ok(match (verdict.first, verdict.file.is_ok(), first_event) {
        (true, true, _) => Outcome::Verified,
        (true, false, _) => Outcome::Rejected,
        (false, _, true) => Outcome::Late,
        (false, _, false) => Outcome::Duplicate,
    })
}

/// The upload id in the metadata of the object at `key` (`Ok(None)`: no object, or no id).
async fn upload_id_of(b: &Broker, key: &str) -> Result<Option<String>, ApiError> {
    let head = b.app.s3.head_object().bucket(&b.app.config.s3.bucket).key(key).send();
    let head = tokio::time::timeout(b.app.config.store_timeouts.operation, head)
        .await
        .map_err(|_| ApiError::StorageTimeout(format!("reading the metadata of {key}")))?;
    match head {
        Ok(object) => Ok(object.metadata().and_then(|m| m.get(UPLOAD_ID_META)).cloned()),
        Err(e)
            if e.as_service_error().is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found) =>
        {
            Ok(None)
        }
        Err(e) => Err(ApiError::storage(&e)),
    }
}
