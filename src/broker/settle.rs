//! One verdict per presigned upload: whoever reaches the upload first (the client's completion
//! or the store's event) checks the stored SHA-256 when one was signed, copies the upload to a
//! key only the broker knows, checks the copy (and scans it, with `--clamd`), and records the
//! verdict (a file row, or a rejection); every later one answers from that record.

use super::Broker;
use super::upload_id::Upload;
use crate::app::App;
use crate::app::check::{self, Expected};
use crate::app::db::FileRecord;
use crate::app::error::ApiError;
use crate::app::policy;
use std::time::{Duration, UNIX_EPOCH};

/// What a look at an upload found.
#[derive(Debug)]
pub(super) struct Verdict {
    /// The file, or why the upload was rejected (or, for a completion after one, why it is
    /// answered 409).
    pub(super) file: Result<FileRecord, ApiError>,
    /// Whether this look reached the verdict (rather than finding one recorded).
    pub(super) first: bool,
}

/// The verdict on `upload`: recorded already, or reached now.
///
/// # Errors
/// What keeps a verdict from being reached now (the store failing, nothing uploaded yet): the
/// caller may try again.
pub(super) async fn settle(b: &Broker, upload: Upload) -> Result<Verdict, ApiError> {
    let _one_at_a_time = b.completing.lock(&upload.key).await;
    if let Some(done) = b.app.db.by_upload_key(&upload.key).await? {
        return Ok(Verdict { file: recomplete(&b.app, &upload.key, done).await, first: false });
    }
    if let Some(why) = b.app.db.rejection(&upload.key).await? {
        return Ok(Verdict { file: Err(why), first: false });
    }
    // The file is a copy at a key only the broker knows, verified after copying: whatever the
    // client's URL writes to the upload key later never reaches what is served.
    // The file's id is the UUID of its key, derived from the upload key under a secret: the
    // client learns nothing it could use (the bucket is private, downloads check ownership), and
    // every completion of this upload copies to the same key.
    let file_uuid = b.file_ids.derive_uuid(upload.key.as_bytes());
    let file_key = policy::key(policy::FILE_PREFIX, &upload.sub, file_uuid, &upload.ct);
    let expected = Expected { key: &file_key, size: upload.size, content_type: &upload.ct };
    let bucket = &b.app.config.s3.bucket;
    let timeout = b.app.config.store_timeouts.operation;
    let summed = match upload.sha256 {
        Some(signed) => check::stored_checksum(&b.app.s3, bucket, &upload.key, signed, timeout).await,
        None => Ok(()),
    };
    let copied = match summed {
        Ok(()) => check::copy_verified(&b.app.s3, bucket, &upload.key, expected, timeout).await,
        Err(e) => Err(e),
    };
    let checked = match copied {
        // The upload key is gone. A completion before this one copied it and deleted it, cut off
        // by a crash before its row: its copy is the file; 409 object_missing when there is none
        // either.
        Err(ApiError::ObjectMissing { .. }) => check::stored_object(&b.app.s3, bucket, expected, timeout).await,
        other => other,
    };
    // The copy is what is served: it is what is scanned.
    let checked = match checked {
        Ok(etag) => b.app.scan_stored(&file_key).await.map(|()| etag),
        Err(e) => Err(e),
    };
    let etag = match checked {
        Ok(etag) => etag,
        Err(why) if why.is_rejection() => {
            b.app.db.reject(&upload.key, &upload.sub, &why).await?;
            b.settled.notify_waiters();
            return Ok(Verdict { file: Err(why), first: true });
        }
        Err(e) => return Err(e),
    };
    let record = FileRecord {
        file_id: file_uuid.to_string(),
        owner: upload.sub,
        key: file_key,
        filename: upload.name,
        content_type: upload.ct,
        size: upload.size,
        etag,
        created_at: super::rfc3339(UNIX_EPOCH + Duration::from_secs(upload.iat)),
        completed_at: App::now_rfc3339(),
        upload_key: Some(upload.key),
    };
    // A completion in another broker process may have inserted the same row; the first stays.
    let stored = b.app.db.insert(record).await?;
    b.settled.notify_waiters();
    Ok(Verdict { file: Ok(stored), first: true })
}

/// Waits up to `wait` for a verdict on the upload at `key` (its store event on its way).
///
/// # Errors
/// 500 when SQLite fails.
pub(super) async fn await_verdict(b: &Broker, key: &str, wait: Duration) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let settled = b.settled.notified();
        tokio::pin!(settled);
        settled.as_mut().enable();
        if b.app.db.by_upload_key(key).await?.is_some() || b.app.db.rejection(key).await?.is_some() {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, settled).await.is_err() {
            return Ok(());
        }
    }
}

/// A look at an upload that is already a file. The file is unchanged either way; the answer
/// is the file when nothing was written to the upload URL since, and 409 `already_completed`
/// (after deleting what was written) when something was.
async fn recomplete(app: &App, upload_key: &str, done: FileRecord) -> Result<FileRecord, ApiError> {
    let bucket = &app.config.s3.bucket;
    match app.s3.head_object().bucket(bucket).key(upload_key).send().await {
        Err(e)
            if e.as_service_error().is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found) =>
        {
            Ok(done)
        }
        Err(e) => Err(ApiError::storage(&e)),
        Ok(_) => {
            app.s3.delete_object().bucket(bucket).key(upload_key).send().await.map_err(|e| ApiError::storage(&e))?;
            Err(ApiError::AlreadyCompleted { file_id: done.file_id })
        }
    }
}
