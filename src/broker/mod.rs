//! The reference presign broker: authenticates, validates, signs short-lived URLs, verifies
//! completed uploads and records them. Bytes of files never cross it.
//!
//! - `POST /v1/uploads` → 201 a presigned PUT URL with Content-Type and Content-Length signed in
//! - `POST /v1/uploads/{upload_id}/complete` → copies the object to a key no client URL reaches,
//!   verifies the copy, records it → 200 with the file's id
//! - `GET /v1/files/{file_id}` → owner only → 302 to a presigned GET URL (JSON with `Accept`)
//! - `/v1/multipart…` → presigned multipart uploads (see [`multipart`]; `assemble`: the store's
//!   side of a completion)
//!
//! A sweeper deletes abandoned uploads (`uploads/`, once they can no longer be completed) and
//! verified copies without a row (`files/`, left by a crash between copy and insert).

mod assemble;
pub mod cors;
pub mod multipart;
pub mod upload_id;

use crate::app::auth::unix_now;
use crate::app::check::{self, Expected};
use crate::app::db::FileRecord;
use crate::app::error::{ApiError, method_not_allowed};
use crate::app::{App, AppConfig, StartError, guard, parse_json, policy, sweep};
use crate::sigv4::{Addressing, Presigner};
use crate::storage::client::Lifecycle;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use upload_id::{Upload, UploadIds};

/// The broker's state.
#[derive(Debug)]
pub struct Broker {
    /// What the broker shares with the proxy.
    pub app: App,
    presigner: Presigner,
    upload_ids: UploadIds,
    multipart_ids: UploadIds,
    /// Derives the id of the file an upload becomes from its key (see [`FILE_ID_LABEL`]).
    file_ids: UploadIds,
    /// One completion of an upload at a time in this process: every completion copies to the
    /// same key, and a store whose copy is not atomic (s3s-fs writes the bytes, then the content
    /// type) would let one completion check another's half-written copy and delete it.
    completing: Stripes,
}

/// Locks striped by key: a fixed set of mutexes, a key takes the one its hash picks. Hand-written
/// (a few lines) where a keyed lock map would need a cleanup of unused entries; 64 stripes make
/// two completions of different uploads wait on each other about once in 64.
#[derive(Debug)]
struct Stripes(Box<[tokio::sync::Mutex<()>]>);

impl Stripes {
    fn new(count: usize) -> Self {
        Self((0..count).map(|_| tokio::sync::Mutex::new(())).collect())
    }

    async fn lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let stripe = usize::try_from(h.finish() % self.0.len() as u64).unwrap_or(0);
        self.0[stripe].lock().await
    }
}

/// Label of the key that derives a file's id from its upload's key: every completion of one
/// upload (concurrent ones, and a retry after a crash) copies to the same key, so a retry finds
/// the copy an earlier attempt made after that attempt deleted the upload key.
const FILE_ID_LABEL: &[u8] = b"presign-bench/file-id/v1";

impl Broker {
    /// Starts the shared app state and the presigner.
    ///
    /// # Errors
    /// [`StartError`] naming the flag, endpoint or database.
    pub async fn start(config: AppConfig) -> Result<Self, StartError> {
        let s3 = &config.s3;
        let presigner = Presigner::new(
            &s3.endpoint,
            &s3.bucket,
            &s3.region,
            &s3.credentials.access_key,
            &s3.credentials.secret_key,
            Addressing::Path,
        )
        .map_err(|e| StartError::Config { flag: "--s3-endpoint", message: e.to_string() })?;
        let upload_ids = UploadIds::new(config.token_secret.as_bytes());
        let multipart_ids = UploadIds::keyed(config.token_secret.as_bytes(), multipart::MULTIPART_LABEL);
        let file_ids = UploadIds::keyed(config.token_secret.as_bytes(), FILE_ID_LABEL);
        if config.insecure_unsigned_content_type {
            tracing::warn!("INSECURE (test only): presigned PUT URLs do not sign Content-Type");
        }
        let app = App::start(config).await?;
        cors::check_store(&presigner, &app.config.s3, &app.config.cors_origins).await?;
        // A day is the shortest expiry S3 lifecycle rules know; the sweeper acts within minutes.
        let bucket = &app.config.s3.bucket;
        let lifecycle = if app.config.lifecycle_rule {
            crate::storage::client::expire_prefix(&app.s3, bucket, policy::UPLOAD_PREFIX, 1).await
        } else {
            Lifecycle::Unsupported("--no-lifecycle-rule".into())
        };
        match lifecycle {
            Lifecycle::Added => {
                tracing::info!(bucket, "store lifecycle rule: {} expires after a day", policy::UPLOAD_PREFIX);
            }
            Lifecycle::Kept => tracing::info!(bucket, "the bucket has a lifecycle configuration; left as it is"),
            Lifecycle::Unsupported(why) => tracing::info!(bucket, "no store lifecycle rule ({why}); the sweeper alone"),
        }
        Ok(Self { app, presigner, upload_ids, multipart_ids, file_ids, completing: Stripes::new(64) })
    }
}

/// Serves the broker on `listener` until `shutdown` resolves, counting client-side bytes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    broker: Arc<Broker>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let app = &broker.app;
    let abandoned_after = app.config.put_expiry + app.config.complete_grace;
    let sweeper = app.sweeper(vec![
        sweep::Rule { prefix: policy::UPLOAD_PREFIX, older_than: abandoned_after, unless_recorded: false },
        sweep::Rule { prefix: policy::FILE_PREFIX, older_than: app.config.sweep.grace, unless_recorded: true },
    ]);
    app.serve(listener, router(&broker), sweeper, shutdown).await;
}

/// `presign-bench broker`: binds `listen`, starts, prints `listening on http://ADDR`, and serves
/// until `shutdown` resolves.
///
/// # Errors
/// [`StartError`] naming the address, flag, endpoint or database.
pub async fn run(
    listen: std::net::SocketAddr,
    config: AppConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let tls = config.tls.is_some();
    crate::app::run(listen, tls, Broker::start(config), async move |listener, state| {
        serve(listener, Arc::new(state), shutdown).await;
    })
    .await
}

/// The broker's routes behind the request limits, `/healthz`, `/readyz` and `/metrics` included.
pub fn router(broker: &Arc<Broker>) -> Router {
    let routes = Router::new()
        .route("/v1/uploads", post(create_upload).fallback(method_not_allowed))
        .route("/v1/uploads/{upload_id}/complete", post(complete).fallback(method_not_allowed))
        .route("/v1/files/{file_id}", get(download).fallback(method_not_allowed))
        .with_state(broker.clone())
        .merge(multipart::routes(broker));
    broker.app.router(routes)
}

/// Body of `POST /v1/uploads`. Other fields (a client-chosen `key`, say) are ignored.
#[derive(Debug, Deserialize)]
struct CreateUpload {
    filename: String,
    content_type: String,
    size: u64,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

async fn create_upload(State(b): State<Arc<Broker>>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    // The token is checked before a byte of the body is read, and the body is small.
    let user = b.app.user(&parts.headers)?;
    let body = guard::small_body(&parts.headers, body, b.app.config.limits.body_idle_timeout).await?;
    let request: CreateUpload = parse_json(&body)?;
    let content_type = b.app.config.policy.check(&request.content_type, request.size)?;
    if request.size > crate::app::MAX_SINGLE_PUT {
        return Err(ApiError::UseMultipart { size: request.size, max: crate::app::MAX_SINGLE_PUT });
    }
    let key = policy::new_key(policy::UPLOAD_PREFIX, &user, &content_type);
    let expiry = b.app.config.put_expiry;
    let now = SystemTime::now();
    let put = if b.app.config.insecure_unsigned_content_type {
        insecure_put(&b.presigner, &key, &content_type, request.size, expiry, now)
    } else {
        b.presigner.put(&key, &content_type, request.size, expiry, now)
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let iat = unix_now();
    let upload = Upload {
        sub: user,
        key,
        ct: content_type,
        size: request.size,
        name: policy::sanitise_filename(&request.filename),
        iat,
        exp: iat + (expiry + b.app.config.complete_grace).as_secs(),
    };
    let upload_id = b.upload_ids.sign(&upload)?;
    // Content-Length is signed but not repeated: every HTTP client derives it from the body (and
    // browsers refuse to let a page set it).
    let headers = put.headers.into_iter().filter(|(name, _)| *name != "content-length");
    let body =
        Grant { upload_id, url: put.url, headers: headers.map(|(name, value)| (title_case(name), value)).collect() };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The weakened PUT URL of `--insecure-unsigned-content-type` (test only): Content-Type is sent
/// but not signed, so the store takes any type. `presign-bench audit` must report it broken.
fn insecure_put(
    presigner: &Presigner,
    key: &str,
    content_type: &str,
    size: u64,
    expiry: Duration,
    now: SystemTime,
) -> Result<crate::sigv4::SignedRequest, crate::sigv4::PresignError> {
    let length = size.to_string();
    let url = presigner.sign("PUT", key, &[("content-length", &length), ("if-none-match", "*")], expiry, now)?;
    let headers =
        vec![("content-length", length), ("content-type", content_type.to_owned()), ("if-none-match", "*".to_owned())];
    Ok(crate::sigv4::SignedRequest { url, headers, expires_at: now + expiry })
}

/// The answer to `POST /v1/uploads`: only what the client cannot know. Not the key (the
/// client never names objects), nor the method (always PUT), nor the expiry (in the URL:
/// `X-Amz-Date` plus `X-Amz-Expires`).
#[derive(Serialize)]
struct Grant {
    upload_id: String,
    url: String,
    /// Headers the client must send with the PUT, exactly: they are signed into the URL
    /// (`Content-Type`, and `If-None-Match: *`, which makes the URL create-only).
    headers: std::collections::BTreeMap<String, String>,
}

/// The answer to a completion: the new file's id (the client sent everything else).
#[derive(Serialize)]
struct Completed {
    file_id: String,
}

/// `content-length` → `Content-Length`, as clients and documentation spell header names.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

async fn complete(
    State(b): State<Arc<Broker>>,
    Path(upload_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Completed>, ApiError> {
    let user = b.app.user(&headers)?;
    let upload = b.upload_ids.open(&upload_id)?;
    if upload.sub != user {
        return Err(ApiError::Forbidden);
    }
    let _one_at_a_time = b.completing.lock(&upload.key).await;
    if let Some(done) = b.app.db.by_upload_key(&upload.key).await? {
        return recomplete(&b.app, &upload.key, done).await.map(|f| Json(Completed { file_id: f.file_id }));
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
    let etag = match check::copy_verified(&b.app.s3, bucket, &upload.key, expected, timeout).await {
        Ok(etag) => etag,
        // The upload key is gone. A completion before this one copied it and deleted it: a
        // concurrent one (its row may be on its way), or one cut off by a crash before its row.
        // Its copy is the file; 409 object_missing when there is none either.
        Err(ApiError::ObjectMissing { .. }) => {
            if let Some(done) = b.app.db.by_upload_key(&upload.key).await? {
                return Ok(Json(Completed { file_id: done.file_id }));
            }
            check::stored_object(&b.app.s3, bucket, expected, timeout).await?
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
        created_at: rfc3339(UNIX_EPOCH + Duration::from_secs(upload.iat)),
        completed_at: App::now_rfc3339(),
        upload_key: Some(upload.key),
    };
    // Concurrent completions insert the same row; the first one stays.
    let stored = b.app.db.insert(record).await?;
    Ok(Json(Completed { file_id: stored.file_id }))
}

/// A completion of an upload that is already a file. The file is unchanged either way; the answer
/// is 200 with it when nothing was written to the upload URL since, and 409 `already_completed`
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

async fn download(
    State(b): State<Arc<Broker>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = b.app.user(&headers)?;
    let file = b.app.owned_file(&user, &file_id).await?;
    let get = b
        .presigner
        .get(&file.key, b.app.config.get_expiry, SystemTime::now())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let wants_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    if wants_json {
        let body = serde_json::json!({ "url": get.url, "expires_at": rfc3339(get.expires_at) });
        return Ok(Json(body).into_response());
    }
    Ok((StatusCode::FOUND, [(header::LOCATION, get.url)]).into_response())
}
