//! Presigned multipart uploads: for objects above 5 GiB (S3's single-PUT limit) and for links
//! where resending a whole file after a failure costs too much. The client uploads each part
//! straight to the store with its own short-lived URL; the broker signs, completes and checks.
//!
//! - `POST /v1/multipart` `{filename, content_type, size, part_size?}` → 201
//!   `{upload_id, part_size, parts}`: validated like a single PUT (type, size, a key made here),
//!   then CreateMultipartUpload at a key under `files/` no client ever names.
//! - `POST /v1/multipart/{upload_id}/parts/{n}` → 200 `{url}`: a PUT URL for part `n` alone,
//!   its exact length signed in (so a part can be neither longer nor shorter than the cut says),
//!   valid until the upload's window closes, and never longer than the PUT expiry.
//! - `POST /v1/multipart/{upload_id}/complete` `{parts: [{part_number, etag}]}` → 200
//!   `{file_id}`: the list must name every part once, in order; the store assembles the object
//!   from the client's ETags, the broker checks the object's ETag is the one those parts make
//!   (a store that ignores the list, as s3s-fs does, cannot be fooled into a file made of other
//!   parts), then the same size, type and magic-number checks as a single PUT. What fails is
//!   deleted and answered 400 `invalid_parts` or 422.
//! - `DELETE /v1/multipart/{upload_id}` → 204: the store drops the parts (409 once completed).
//!
//! The object key is final from the start: once the upload is completed or aborted, no part URL
//! can write to it (the store has no upload of that id any more), so unlike a single PUT there is
//! nothing to copy. Every upload started is recorded ([`crate::app::db::Db::open_multipart`]);
//! the sweeper aborts the ones still open when their window (`--multipart-window`, by default the
//! PUT expiry + completion grace) has closed, so no parts linger. The upload id itself is stateless, as for single PUTs: signed
//! fields under a key of its own ([`MULTIPART_LABEL`]), so neither kind of id opens as the other.

use super::Broker;
use super::assemble::{CompletedPart, assemble};
use super::upload_id::UploadIds;
use crate::app::auth::unix_now;
use crate::app::check::{self, Expected};
use crate::app::db::{FileRecord, OpenMultipart};
use crate::app::error::{ApiError, echo, method_not_allowed};
use crate::app::{App, guard, parse_json, policy};
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Label of the multipart ids' key derivation.
pub const MULTIPART_LABEL: &[u8] = b"presign-bench/multipart-id/v1";

/// Bytes a completion body may take per part: `{"part_number":10000,"etag":"\"<32 hex>\""},`
/// is 59, so this leaves room for white space and a longer ETag (KMS-encrypted buckets).
const COMPLETE_BYTES_PER_PART: u64 = 160;
/// Bytes a completion body may take besides its parts (`{"parts":[]}` and white space).
const COMPLETE_BYTES_FIXED: u64 = 1024;

/// The largest completion body of an upload of `parts` parts: a completion is buffered whole, so
/// its bound follows the upload it completes rather than the largest upload there could be (one
/// part: 1.2 kB; 10,000 parts: 1.6 MB).
fn complete_body_limit(parts: u64) -> u64 {
    COMPLETE_BYTES_FIXED + COMPLETE_BYTES_PER_PART * parts
}

/// What a multipart id authorises.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartId {
    /// The user.
    pub sub: String,
    /// UUID of the object key (see [`policy::key`] under [`policy::FILE_PREFIX`]).
    pub id: [u8; 16],
    /// The signed content type.
    pub ct: String,
    /// The whole object, bytes.
    pub size: u64,
    /// Every part but the last, bytes.
    pub part_size: u64,
    /// The sanitised filename.
    pub name: String,
    /// When it was started (Unix seconds).
    pub iat: u64,
    /// Until when parts may be signed and the upload completed (Unix seconds).
    pub exp: u64,
    /// The store's id of the multipart upload.
    pub store_id: String,
}

impl MultipartId {
    /// The object's key.
    #[must_use]
    pub fn key(&self) -> String {
        policy::key(policy::FILE_PREFIX, &self.sub, uuid::Uuid::from_bytes(self.id), &self.ct)
    }

    fn parts(&self) -> policy::Parts {
        policy::Parts { size: self.size, part_size: self.part_size }
    }
}

/// The multipart routes, on the broker's state.
pub fn routes(broker: &Arc<Broker>) -> Router {
    Router::new()
        .route("/v1/multipart", post(start).fallback(method_not_allowed))
        .route("/v1/multipart/{upload_id}/parts/{part_number}", post(part_url).fallback(method_not_allowed))
        .route("/v1/multipart/{upload_id}/complete", post(complete).fallback(method_not_allowed))
        .route("/v1/multipart/{upload_id}", delete(abort).fallback(method_not_allowed))
        .with_state(broker.clone())
}

/// Body of `POST /v1/multipart`.
#[derive(Debug, Deserialize)]
struct Start {
    filename: String,
    content_type: String,
    size: u64,
    part_size: Option<u64>,
}

/// The answer to a start.
#[derive(Serialize)]
struct Started {
    upload_id: String,
    part_size: u64,
    parts: u64,
}

/// Opens a multipart id of the request's user: 400 forged, 403 another user's. Its window is
/// checked by [`live`] where it matters (a completed upload answers after it too).
fn open(b: &Broker, ids: &UploadIds, id: &str, headers: &HeaderMap) -> Result<MultipartId, ApiError> {
    let user = b.app.user(headers)?;
    let upload: MultipartId = ids.unseal(id)?;
    if upload.sub != user {
        return Err(ApiError::Forbidden);
    }
    Ok(upload)
}

/// 410 `upload_expired` once `upload`'s window has closed.
fn live(upload: &MultipartId) -> Result<(), ApiError> {
    if unix_now() >= upload.exp { Err(ApiError::UploadExpired) } else { Ok(()) }
}

async fn start(State(b): State<Arc<Broker>>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let user = b.app.user(&parts.headers)?;
    let body = guard::small_body(&parts.headers, body, b.app.config.limits.body_idle_timeout).await?;
    let request: Start = parse_json(&body)?;
    let content_type = b.app.config.policy.check(&request.content_type, request.size)?;
    let cut = b.app.config.policy.multipart.parts(request.size, request.part_size)?;
    let cap = b.app.config.policy.multipart.max_open_per_user;
    // Checked before the store is asked, and again (atomically) when the upload is recorded.
    if b.app.db.open_multipart_of(&user).await? >= cap {
        return Err(ApiError::TooManyUploads { limit: cap });
    }
    let id = uuid::Uuid::new_v4();
    let key = policy::key(policy::FILE_PREFIX, &user, id, &content_type);
    let bucket = &b.app.config.s3.bucket;
    let created = b.app.s3.create_multipart_upload().bucket(bucket).key(&key).content_type(&content_type).send();
    let created = tokio::time::timeout(b.app.config.store_timeouts.operation, created)
        .await
        .map_err(|_| ApiError::StorageTimeout("starting a multipart upload".into()))?
        .map_err(|e| ApiError::storage(&e))?;
    let store_id = created.upload_id().ok_or_else(|| ApiError::Storage("no upload id from the store".into()))?;
    let iat = unix_now();
    let exp = iat + b.app.config.multipart_window().as_secs();
    // The sweeper waits out a completion that starts just before the window closes.
    let margin = b.app.config.limits.request_timeout + b.app.config.store_timeouts.operation;
    let open = OpenMultipart {
        store_upload_id: store_id.to_owned(),
        key: key.clone(),
        owner: user.clone(),
        expires_at: exp + margin.as_secs(),
    };
    let recorded = b.app.db.open_multipart(open, cap).await;
    if !matches!(recorded, Ok(true)) {
        let _ = b.app.s3.abort_multipart_upload().bucket(bucket).key(&key).upload_id(store_id).send().await;
        return Err(match recorded {
            Err(e) => e.into(),
            Ok(_) => ApiError::TooManyUploads { limit: cap },
        });
    }
    let upload = MultipartId {
        sub: user,
        id: *id.as_bytes(),
        ct: content_type,
        size: request.size,
        part_size: cut.part_size,
        name: policy::sanitise_filename(&request.filename),
        iat,
        exp,
        store_id: store_id.to_owned(),
    };
    let upload_id = b.multipart_ids.seal(&upload)?;
    let body = Started { upload_id, part_size: cut.part_size, parts: cut.count() };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn part_url(
    State(b): State<Arc<Broker>>,
    Path((upload_id, part_number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let upload = open(&b, &b.multipart_ids, &upload_id, &headers)?;
    live(&upload)?;
    if !b.app.db.is_open_multipart(&upload.store_id).await? {
        // Completed (409 already_completed) or aborted (410 upload_expired): no part can be
        // added any more, so no URL is signed for one.
        return Err(match b.app.db.by_upload_key(&recorded_as(&upload.store_id)).await? {
            Some(done) => ApiError::Completed { file_id: done.file_id },
            None => ApiError::UploadExpired,
        });
    }
    let parts = upload.parts();
    let number = part_number
        .parse::<u64>()
        .map_err(|_| ApiError::InvalidRequest(format!("part number {:?} is not a number", echo(&part_number))))?;
    let (_, length) = parts.range(number).ok_or(ApiError::InvalidPartNumber { number, count: parts.count() })?;
    let now = SystemTime::now();
    let left = Duration::from_secs(upload.exp.saturating_sub(unix_now()));
    let expiry = b.app.config.put_expiry.min(left).max(Duration::from_secs(1));
    let url = b
        .presigner
        .upload_part(&upload.key(), &upload.store_id, number, length, expiry, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(serde_json::json!({ "url": url })))
}

/// Body of a completion.
#[derive(Debug, Deserialize)]
struct Complete {
    parts: Vec<CompletedPart>,
}

/// Checks that `parts` names every part of `cut` once, in order, each with an ETag.
fn check_list(parts: &[CompletedPart], cut: policy::Parts) -> Result<(), ApiError> {
    if parts.len() as u64 != cut.count() {
        return Err(ApiError::InvalidParts(format!("{} parts listed; the upload has {}", parts.len(), cut.count())));
    }
    for (i, part) in (1..).zip(parts) {
        if part.part_number != i {
            return Err(ApiError::InvalidParts(format!("part {} listed where part {i} belongs", part.part_number)));
        }
        if part.etag.trim_matches('"').is_empty() {
            return Err(ApiError::InvalidParts(format!("part {i} has no ETag")));
        }
    }
    Ok(())
}

/// The `upload_key` a completed multipart file is recorded with (completion is idempotent on it).
fn recorded_as(store_id: &str) -> String {
    format!("multipart:{store_id}")
}

async fn complete(
    State(b): State<Arc<Broker>>,
    Path(upload_id): Path<String>,
    request: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (request, body) = request.into_parts();
    let upload = open(&b, &b.multipart_ids, &upload_id, &request.headers)?;
    let answer = |file_id: String| Json(serde_json::json!({ "file_id": file_id }));
    // Completed already: the same answer, whatever the body (checked again under the lock).
    if let Some(done) = b.app.db.by_upload_key(&recorded_as(&upload.store_id)).await? {
        return Ok(answer(done.file_id));
    }
    // Bounded in size by the upload's parts, and in time as a whole (not just between two
    // pieces): a client trickling its body cannot hold the buffer for the request timeout.
    let limit = complete_body_limit(upload.parts().count());
    let idle = b.app.config.limits.body_idle_timeout;
    let body = tokio::time::timeout(idle, guard::json_body(&request.headers, body, idle, limit))
        .await
        .map_err(|_| ApiError::BodyDeadline(idle))??;
    let list: Complete = parse_json(&body)?;
    // One completion of an upload at a time here (taken once the body is in, so a slow client
    // holds no lock): a retry must never check an object a concurrent completion is assembling.
    let _one_at_a_time = b.completing.lock(&upload.store_id).await;
    if let Some(done) = b.app.db.by_upload_key(&recorded_as(&upload.store_id)).await? {
        return Ok(answer(done.file_id));
    }
    live(&upload)?;
    if !b.app.db.is_open_multipart(&upload.store_id).await? {
        // Aborted (by the client or the sweeper), or refused at an earlier completion.
        return Err(ApiError::UploadExpired);
    }
    check_list(&list.parts, upload.parts())?;
    let key = upload.key();
    let app = &b.app;
    let bucket = &app.config.s3.bucket;
    let store_etag = match assemble(app, &upload.store_id, &key, &list.parts).await {
        Ok(etag) => etag,
        // A concurrent completion of the same upload (in another broker) won.
        Err(e) => match app.db.by_upload_key(&recorded_as(&upload.store_id)).await? {
            Some(done) => return Ok(answer(done.file_id)),
            None if matches!(e, ApiError::UploadLost { .. }) => {
                abort_in_store(app, &key, &upload.store_id).await?;
                app.db.close_multipart(&upload.store_id).await?;
                return Err(e);
            }
            None => return Err(e),
        },
    };
    let store_etag = store_etag.as_str();
    // Part ETags are MD5s unless the bucket encrypts with KMS or customer keys; then the store's
    // own validation of the list is all there is.
    if let Some(listed) = policy::multipart_etag(list.parts.iter().map(|p| p.etag.as_str()))
        && listed != store_etag
    {
        app.db.close_multipart(&upload.store_id).await?;
        let why = ApiError::InvalidParts(
            "the listed ETags are not those of the uploaded parts; the object was deleted".into(),
        );
        return Err(check::reject(&app.s3, bucket, &key, why).await);
    }
    let expected = Expected { key: &key, size: upload.size, content_type: &upload.ct };
    let verdict = check::stored_object(&app.s3, bucket, expected, app.config.store_timeouts.operation).await;
    let etag = match verdict {
        Ok(etag) => etag,
        Err(e) => {
            app.db.close_multipart(&upload.store_id).await?;
            return Err(e);
        }
    };
    let record = FileRecord {
        file_id: uuid::Uuid::from_bytes(upload.id).to_string(),
        owner: upload.sub,
        key,
        filename: upload.name,
        content_type: upload.ct,
        size: upload.size,
        etag,
        created_at: humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(upload.iat)).to_string(),
        completed_at: App::now_rfc3339(),
        upload_key: Some(recorded_as(&upload.store_id)),
    };
    // The row goes after the file's: until then the sweeper takes the key for an upload in
    // progress, never for an unrecorded object.
    let stored = app.db.insert(record).await?;
    app.db.close_multipart(&upload.store_id).await?;
    Ok(answer(stored.file_id))
}

async fn abort(
    State(b): State<Arc<Broker>>,
    Path(upload_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let upload = open(&b, &b.multipart_ids, &upload_id, &headers)?;
    let app = &b.app;
    if let Some(done) = app.db.by_upload_key(&recorded_as(&upload.store_id)).await? {
        return Err(ApiError::Completed { file_id: done.file_id });
    }
    if !app.db.is_open_multipart(&upload.store_id).await? {
        // Aborted before (by the client or the sweeper), or refused at completion: nothing is left.
        return Ok(StatusCode::NO_CONTENT);
    }
    abort_in_store(app, &upload.key(), &upload.store_id).await?;
    app.db.close_multipart(&upload.store_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Aborts the store's upload `store_id` of `key`; one the store no longer has is aborted already.
async fn abort_in_store(app: &App, key: &str, store_id: &str) -> Result<(), ApiError> {
    let call = app.s3.abort_multipart_upload().bucket(&app.config.s3.bucket).key(key);
    match call.upload_id(store_id).send().await {
        Ok(_) => Ok(()),
        // Gone already (aborted before, or by the sweeper): the answer is the same.
        Err(e) if e.as_service_error().is_some_and(AbortMultipartUploadError::is_no_such_upload) => Ok(()),
        Err(e) => Err(ApiError::storage(&e)),
    }
}
