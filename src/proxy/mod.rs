//! The streaming upload proxy: the broker's auth, validation, checks and metadata, but every byte
//! of every file crosses the app tier on its way to the store.
//!
//! - `PUT /v1/proxy/uploads` (Authorization, Content-Type, Content-Length, X-Filename) → 201;
//!   a body above `--multipart-threshold` goes to the store as a multipart upload ([`parts`])
//! - `GET /v1/proxy/files/{file_id}` → owner only → the object's bytes, streamed
//!
//! The body is streamed, never buffered: memory per upload is bounded by hyper's read buffer
//! and the S3 client's write buffer, whatever the file size. A stalled client is cut by the body
//! idle timeout, a stalled store by the store timeout (measured as time the store keeps the body
//! waiting, so a slow client is never mistaken for a slow store), and the whole upload by the
//! request timeout; each leaves nothing behind.
//!
//! Objects live under `proxied/`; a sweeper deletes those without a row (left by a proxy killed
//! between the store's commit and the database insert).

mod body;
mod parts;

use crate::app::db::{FileRecord, OpenMultipart};
use crate::app::error::{ApiError, method_not_allowed};
use crate::app::{App, AppConfig, StartError, policy, sweep};
use aws_smithy_types::byte_stream::ByteStream;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use body::UploadBody;
use http::{HeaderMap, StatusCode, header};
use std::sync::Arc;

/// Header carrying the client's filename (kept as sanitised metadata only).
pub const FILENAME_HEADER: &str = "x-filename";

/// The proxy's state.
#[derive(Debug)]
pub struct Proxy {
    /// What the proxy shares with the broker.
    pub app: App,
}

impl Proxy {
    /// Starts the shared app state.
    ///
    /// # Errors
    /// [`StartError`] naming the flag, endpoint or database.
    pub async fn start(config: AppConfig) -> Result<Self, StartError> {
        Ok(Self { app: App::start(config).await? })
    }
}

/// Serves the proxy on `listener` until `shutdown` resolves, counting client-side bytes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let app = &proxy.app;
    let sweeper = app.sweeper(vec![sweep::Rule {
        prefix: policy::PROXIED_PREFIX,
        older_than: app.config.sweep.grace,
        unless_recorded: true,
    }]);
    app.serve(listener, router(&proxy), sweeper, shutdown).await;
}

/// `presign-bench proxy`: binds `listen`, starts, prints `listening on http://ADDR`, and serves
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
    crate::app::run(listen, tls, Proxy::start(config), async move |listener, state| {
        serve(listener, Arc::new(state), shutdown).await;
    })
    .await
}

/// The proxy's routes behind the request limits, `/healthz`, `/readyz` and `/metrics` included.
pub fn router(proxy: &Arc<Proxy>) -> Router {
    let routes = Router::new()
        .route("/v1/proxy/uploads", put(upload).fallback(method_not_allowed))
        .route("/v1/proxy/files/{file_id}", get(download).fallback(method_not_allowed))
        .with_state(proxy.clone());
    proxy.app.router(routes)
}

/// What a validated upload request declared.
struct Declared {
    user: String,
    content_type: String,
    size: u64,
    filename: String,
}

fn declared(app: &App, headers: &HeaderMap) -> Result<Declared, ApiError> {
    let user = app.user(headers)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let size = headers
        .get(header::CONTENT_LENGTH)
        .ok_or(ApiError::LengthRequired)?
        .to_str()
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| ApiError::InvalidRequest("Content-Length is not a number".into()))?;
    let content_type = app.config.policy.check(content_type, size)?;
    let filename =
        headers.get(FILENAME_HEADER).map_or_else(String::new, |v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    Ok(Declared { user, content_type, size, filename: policy::sanitise_filename(&filename) })
}

async fn upload(State(p): State<Arc<Proxy>>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    // Every refusal (401, 411, 413, 415) is answered before a byte of the body is read.
    let declared = declared(&p.app, &parts.headers)?;
    // The transfer runs in its own task so that a client that goes away mid-upload still gets its
    // partial object cleaned up, and a finished object always gets its row.
    let record =
        tokio::spawn(store(p.clone(), declared, body)).await.map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// Why the scan of a stored upload refuses it (`None`: clean, or no scanner).
async fn scanned(
    scan: Option<tokio_util::task::AbortOnDropHandle<Result<Option<String>, ApiError>>>,
) -> Option<ApiError> {
    let verdict = scan?.await.unwrap_or_else(|e| Err(ApiError::Internal(format!("the scan task: {e}"))));
    match verdict {
        Ok(None) => None,
        Ok(Some(signature)) => Some(ApiError::Infected { signature }),
        Err(e) => Some(e),
    }
}

/// Frames of an upload on their way to the scanner at most (each at most hyper's read buffer).
const TEE_FRAMES: usize = 16;

async fn store(p: Arc<Proxy>, d: Declared, body: axum::body::Body) -> Result<FileRecord, ApiError> {
    let app = &p.app;
    let _in_flight = app.meter.upload_started();
    let bucket = &app.config.s3.bucket;
    let key = policy::new_key(policy::PROXIED_PREFIX, &d.user, &d.content_type);
    let created_at = App::now_rfc3339();
    let limits = app.config.limits;
    let store_timeout = app.config.store_timeouts.operation;
    let (body, outcome, progress) = UploadBody::new(body, d.size, d.content_type.clone(), limits.body_idle_timeout);
    // With a scanner, clamd reads the upload as the store does: the proxy has every byte, so
    // scanning costs it no second read; what clamd calls infected is deleted before any row.
    let (body, scan) = match &app.scanner {
        Some(scanner) => {
            let (frames, received) = tokio::sync::mpsc::channel(TEE_FRAMES);
            let (scanner, key) = (scanner.clone(), key.clone());
            let scan = tokio::spawn(async move { scanner.scan_frames(&key, received, limits.request_timeout).await });
            (body.tee(frames), Some(tokio_util::task::AbortOnDropHandle::new(scan)))
        }
        None => (body, None),
    };
    let multipart = if d.size > app.config.policy.multipart.threshold {
        let parts = app.config.policy.multipart.parts(d.size, None)?;
        Some((parts, start_parts(app, &key, &d.user, &d.content_type).await?))
    } else {
        None
    };
    let transfer = async {
        if let Some((parts, upload_id)) = &multipart {
            parts::send(&app.s3, (bucket, &key, upload_id), body, *parts).await.map(Sent::Parts)
        } else {
            let put = app
                .s3
                .put_object()
                .bucket(bucket)
                .key(&key)
                .content_type(&d.content_type)
                .content_length(i64::try_from(d.size).unwrap_or(i64::MAX))
                .body(ByteStream::from_body_1_x(body))
                .customize()
                // The body takes as long as the client does: the store is watched by `progress`.
                .config_override(aws_sdk_s3::config::Builder::default().timeout_config(
                    aws_smithy_types::timeout::TimeoutConfig::builder().disable_operation_timeout().build(),
                ))
                .send()
                .await;
            put.map(|o| Sent::Object(o.e_tag().unwrap_or_default().trim_matches('"').to_owned()))
                .map_err(|e| ApiError::storage(&e))
        }
    };
    // Dropping the transfer aborts it: a PutObject's partial object is discarded by the store, a
    // multipart upload is aborted below.
    let stored = tokio::select! {
        put = tokio::time::timeout(limits.request_timeout, transfer) => {
            put.unwrap_or(Err(ApiError::RequestTimeout(limits.request_timeout)))
        }
        () = progress.stalled(store_timeout) => Err(ApiError::StorageTimeout(format!("no progress for {store_timeout:?}"))),
    };
    // The store's stall watch ends with the body: assembling the parts is bounded on its own.
    let stored = match (stored, &multipart) {
        (Ok(Sent::Parts(list)), Some((_, upload_id))) => {
            parts::complete(&app.s3, (bucket, &key, upload_id), list, limits.request_timeout).await
        }
        (Ok(Sent::Object(etag)), _) => Ok(etag),
        (Ok(Sent::Parts(_)), None) => Err(ApiError::Internal("parts without a multipart upload".into())),
        (Err(e), _) => Err(e),
    };
    if let (Err(_), Some((_, upload_id))) = (&stored, &multipart) {
        abort_parts(app, &key, upload_id).await;
    }
    let etag = match stored {
        Ok(etag) => etag,
        Err(e) => {
            // The body's own failure (short, long, wrong magic numbers, stalled client) is the cause.
            let why = outcome.failure().unwrap_or(e);
            return Err(crate::app::check::reject(&app.s3, bucket, &key, why).await);
        }
    };
    if let Some(why) = scanned(scan).await {
        return Err(crate::app::check::reject(&app.s3, bucket, &key, why).await);
    }
    let record = FileRecord {
        file_id: uuid::Uuid::new_v4().to_string(),
        owner: d.user,
        key,
        filename: d.filename,
        content_type: d.content_type,
        size: d.size,
        etag,
        created_at,
        completed_at: App::now_rfc3339(),
        upload_key: None,
    };
    let inserted = match app.db.insert(record.clone()).await {
        Ok(stored) => Ok(stored),
        Err(e) => Err(crate::app::check::reject(&app.s3, bucket, &record.key, e.into()).await),
    };
    // The upload's row goes after the file's: until then the sweeper takes the key for an upload
    // in progress, never for an unrecorded object.
    if let Some((_, upload_id)) = &multipart
        && let Err(e) = app.db.close_multipart(upload_id).await
    {
        tracing::warn!("forgetting a completed multipart upload failed: {e}");
    }
    inserted
}

/// What the transfer to the store left: a stored object's ETag, or parts still to assemble.
enum Sent {
    Object(String),
    Parts(Vec<aws_sdk_s3::types::CompletedPart>),
}

/// Starts a multipart upload of `key` and records it, so the sweeper aborts it should this
/// process die before it ends; returns the store's upload id. No per-user cap: each one is a
/// request in flight, which `--max-in-flight` caps already.
async fn start_parts(app: &App, key: &str, owner: &str, content_type: &str) -> Result<String, ApiError> {
    let bucket = &app.config.s3.bucket;
    let created = app.s3.create_multipart_upload().bucket(bucket).key(key).content_type(content_type).send();
    let created = created.await.map_err(|e| ApiError::storage(&e))?;
    let upload_id = created.upload_id().ok_or_else(|| ApiError::Storage("no upload id from the store".into()))?;
    let window = app.config.limits.request_timeout + app.config.sweep.grace;
    let expires_at = crate::app::auth::unix_now() + window.as_secs();
    let open = OpenMultipart {
        store_upload_id: upload_id.to_owned(),
        key: key.to_owned(),
        owner: owner.to_owned(),
        expires_at,
    };
    if let Err(e) = app.db.open_multipart(open, u64::MAX).await {
        abort_parts(app, key, upload_id).await;
        return Err(e.into());
    }
    Ok(upload_id.to_owned())
}

/// Aborts multipart upload `upload_id` of `key`, dropping its parts; a failure is left to the
/// sweeper (the upload stays recorded).
async fn abort_parts(app: &App, key: &str, upload_id: &str) {
    let abort = app.s3.abort_multipart_upload().bucket(&app.config.s3.bucket).key(key).upload_id(upload_id).send();
    match abort.await {
        Ok(_) => {
            let _ = app.db.close_multipart(upload_id).await;
        }
        Err(e) => tracing::warn!(key, "aborting a multipart upload failed: {}", crate::storage::client::describe(&e)),
    }
}

async fn download(
    State(p): State<Arc<Proxy>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = p.app.user(&headers)?;
    let file = p.app.owned_file(&user, &file_id).await?;
    let object = p
        .app
        .s3
        .get_object()
        .bucket(&p.app.config.s3.bucket)
        .key(&file.key)
        .send()
        .await
        .map_err(|e| ApiError::storage(&e))?;
    // A store that stops sending mid-body is cut after the store timeout (time the body is polled
    // and gets nothing; a slow client does not count).
    let body = tower_http::timeout::TimeoutBody::new(p.app.config.store_timeouts.operation, object.body.into_inner());
    let headers = [
        (header::CONTENT_TYPE, file.content_type),
        (header::CONTENT_LENGTH, file.size.to_string()),
        (header::ETAG, format!("\"{}\"", file.etag)),
    ];
    Ok((headers, axum::body::Body::new(body)).into_response())
}
