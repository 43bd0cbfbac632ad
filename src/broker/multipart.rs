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
use super::upload_id::UploadIds;
use crate::app::auth::unix_now;
use crate::app::check::{self, Expected};
use crate::app::db::FileRecord;
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

/// Largest completion body: 10,000 parts of about 60 bytes each.
const COMPLETE_BODY_LIMIT: u64 = 1024 * 1024;

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
    if let Err(e) = b.app.db.open_multipart(store_id, &key, exp + margin.as_secs()).await {
        let _ = b.app.s3.abort_multipart_upload().bucket(bucket).key(&key).upload_id(store_id).send().await;
        return Err(e.into());
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

/// One part of a completion.
#[derive(Debug, Deserialize)]
struct CompletedPart {
    part_number: u64,
    etag: String,
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
    if let Some(done) = b.app.db.by_upload_key(&recorded_as(&upload.store_id)).await? {
        return Ok(answer(done.file_id));
    }
    live(&upload)?;
    if !b.app.db.is_open_multipart(&upload.store_id).await? {
        // Aborted (by the client or the sweeper), or refused at an earlier completion.
        return Err(ApiError::UploadExpired);
    }
    let limit = COMPLETE_BODY_LIMIT;
    let body = guard::json_body(&request.headers, body, b.app.config.limits.body_idle_timeout, limit).await?;
    let list: Complete = parse_json(&body)?;
    check_list(&list.parts, upload.parts())?;
    let key = upload.key();
    let app = &b.app;
    let bucket = &app.config.s3.bucket;
    let completed = {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart as Part};
        let parts = list.parts.iter().map(|p| {
            Part::builder().part_number(i32::try_from(p.part_number).unwrap_or(i32::MAX)).e_tag(&p.etag).build()
        });
        let assembled = CompletedMultipartUpload::builder().set_parts(Some(parts.collect())).build();
        app.s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(&key)
            .upload_id(&upload.store_id)
            .multipart_upload(assembled)
            .customize()
            // Assembling a large object takes the store a while: the request timeout bounds it,
            // not the store timeout of one ordinary call.
            .config_override(
                aws_sdk_s3::config::Builder::default().timeout_config(
                    aws_smithy_types::timeout::TimeoutConfig::builder()
                        .operation_timeout(app.config.limits.request_timeout)
                        .build(),
                ),
            )
            .send()
            .await
    };
    let completed = match completed {
        Ok(c) => c,
        Err(e) => {
            let code = e.as_service_error().and_then(aws_sdk_s3::error::ProvideErrorMetadata::code);
            // A concurrent completion of the same upload won.
            if let Some(done) = app.db.by_upload_key(&recorded_as(&upload.store_id)).await? {
                return Ok(answer(done.file_id));
            }
            return Err(match code {
                Some("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall") => {
                    ApiError::InvalidParts(format!("the store refused the part list ({})", code.unwrap_or_default()))
                }
                Some("NoSuchUpload") => ApiError::UploadExpired,
                _ => ApiError::storage(&e),
            });
        }
    };
    let store_etag = completed.e_tag().unwrap_or_default().trim_matches('"');
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
    let call = app.s3.abort_multipart_upload().bucket(&app.config.s3.bucket).key(upload.key());
    match call.upload_id(&upload.store_id).send().await {
        Ok(_) => {}
        // Gone already (aborted before, or by the sweeper): the answer is the same.
        Err(e) if e.as_service_error().is_some_and(AbortMultipartUploadError::is_no_such_upload) => {}
        Err(e) => return Err(ApiError::storage(&e)),
    }
    app.db.close_multipart(&upload.store_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
