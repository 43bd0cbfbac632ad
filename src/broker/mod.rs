//! The reference presign broker: authenticates, validates, signs short-lived URLs, verifies
//! completed uploads and records them. Bytes of files never cross it.
//!
//! - `POST /v1/uploads` → 201 a presigned PUT URL with Content-Type and Content-Length signed in
//! - `POST /v1/uploads/{upload_id}/complete` → copies the object to a key no client URL reaches,
//!   verifies the copy, records it → 200 with the file's id
//! - `GET /v1/files/{file_id}` → owner only → 302 to a presigned GET URL (JSON with `Accept`)
//! - `POST /v1/cdn/cookies` → a viewer's CDN-signed cookies, once per session (see `cdn`)
//! - `/v1/multipart…` → presigned multipart uploads (see [`multipart`]; `assemble`: the store's
//!   side of a completion)
//! - `/v1/events` → the store's event notifications (see [`events`]; `event_worker` settles
//!   them), with `--events-token`
//!
//! A completion and a store event reach the same verdict on an upload, whichever comes first
//! (`settle`).
//!
//! A sweeper deletes abandoned uploads (`uploads/`, once they can no longer be completed) and
//! verified copies without a row (`files/`, left by a crash between copy and insert).

mod assemble;
mod cdn;
pub mod cors;
mod event_worker;
pub mod events;
pub mod multipart;
mod settle;
pub mod upload_id;

use crate::app::auth::unix_now;
use crate::app::error::{ApiError, method_not_allowed};
use crate::app::{App, AppConfig, StartError, guard, parse_json, policy, sweep};
use crate::sigv4::{Addressing, Presigner};
use crate::storage::client::Lifecycle;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
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
    /// Woken whenever a verdict is recorded (a completion may be waiting for its event's).
    settled: tokio::sync::Notify,
    /// Store events, when taken (`--events-token`).
    pub inbox: Option<events::Inbox>,
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
    pub async fn start(config: AppConfig, events: Option<events::EventsConfig>) -> Result<Self, StartError> {
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
        Ok(Self {
            app,
            presigner,
            upload_ids,
            multipart_ids,
            file_ids,
            completing: Stripes::new(64),
            settled: tokio::sync::Notify::new(),
            inbox: events.map(events::Inbox::new),
        })
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
    let workers = event_worker::start(&broker).await;
    app.serve(listener, router(&broker), sweeper, shutdown).await;
    // Events still queued stay in the database for the next start.
    for worker in workers {
        worker.abort();
    }
}

/// `presign-bench broker`: binds `listen`, starts, prints `listening on http://ADDR`, and serves
/// until `shutdown` resolves.
///
/// # Errors
/// [`StartError`] naming the address, flag, endpoint or database.
pub async fn run(
    listen: std::net::SocketAddr,
    config: AppConfig,
    events: Option<events::EventsConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let tls = config.tls.is_some();
    crate::app::run(listen, tls, Broker::start(config, events), async move |listener, state| {
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
        .merge(multipart::routes(broker))
        .merge(events::routes(broker))
        .merge(cdn::routes(broker));
    broker.app.router(routes)
}

/// Body of `POST /v1/uploads`. Other fields (a client-chosen `key`, say) are ignored.
#[derive(Debug, Deserialize)]
struct CreateUpload {
    filename: String,
    content_type: String,
    size: u64,
    /// The file's SHA-256, base64 (as `x-amz-checksum-sha256` carries it).
    #[serde(default)]
    checksum_sha256: Option<String>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `POST /v1/uploads`. Its sections are timed ([`crate::metrics::PRESIGN_SECTIONS`]) into the
/// meter, so a run can say where a presign's time goes.
async fn create_upload(State(b): State<Arc<Broker>>, request: Request) -> Result<Response, ApiError> {
    let mut marks = [std::time::Instant::now(); crate::metrics::PRESIGN_SECTIONS.len() + 1];
    let (parts, body) = request.into_parts();
    // The token is checked before a byte of the body is read, and the body is small.
    let user = b.app.user(&parts.headers)?;
    marks[1] = std::time::Instant::now();
    let body = guard::small_body(&parts.headers, body, b.app.config.limits.body_idle_timeout).await?;
    let request: CreateUpload = parse_json(&body)?;
    let content_type = b.app.config.policy.check(&request.content_type, request.size)?;
    if request.size > crate::app::MAX_SINGLE_PUT {
        return Err(ApiError::UseMultipart { size: request.size, max: crate::app::MAX_SINGLE_PUT });
    }
    let sha256 = request.checksum_sha256.as_deref().map(decode_sha256).transpose()?;
    marks[2] = std::time::Instant::now();
    let key = policy::new_key(policy::UPLOAD_PREFIX, &user, &content_type);
    let expiry = b.app.config.put_expiry;
    let now = SystemTime::now();
    let iat = unix_now();
    let upload = Upload {
        sub: user,
        key,
        ct: content_type,
        size: request.size,
        name: policy::sanitise_filename(&request.filename),
        iat,
        exp: iat + (expiry + b.app.config.complete_grace).as_secs(),
        sha256,
    };
    let upload_id = b.upload_ids.sign(&upload)?;
    let Upload { key, ct: content_type, .. } = upload;
    let sum = sha256.map(|s| base64::engine::general_purpose::STANDARD.encode(s));
    let mut extra: Vec<(&'static str, &str)> = Vec::new();
    if b.inbox.is_some() {
        extra.push((events::UPLOAD_ID_HEADER, &upload_id));
    }
    if let Some(sum) = &sum {
        extra.push(("x-amz-checksum-sha256", sum));
    }
    let insecure = b.app.config.insecure_unsigned_content_type;
    let (url, headers) = if extra.is_empty() && !insecure {
        let url = b.presigner.put_url(&key, &content_type, request.size, expiry, now);
        url.map(|url| (url, vec![("content-type", content_type), ("if-none-match", "*".to_owned())]))
    } else {
        let put = put_with(&b.presigner, (&key, &content_type, request.size), &extra, !insecure, (expiry, now));
        put.map(|put| (put.url, put.headers))
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    // Content-Length is signed but not repeated: every HTTP client derives it from the body (and
    // browsers refuse to let a page set it).
    let headers = headers.into_iter().filter(|(name, _)| *name != "content-length");
    let body = Grant { upload_id, url, headers: headers.map(|(name, value)| (title_case(name), value)).collect() };
    marks[3] = std::time::Instant::now();
    let answer = crate::app::json_answer(StatusCode::CREATED, &body);
    marks[4] = std::time::Instant::now();
    b.app.meter.presign.record(marks);
    Ok(answer)
}

/// A PUT URL that also signs `extra` headers: the upload id into the object's metadata
/// ([`events::UPLOAD_ID_META`], so the store's event for the object says which upload it is),
/// and the file's SHA-256 (`x-amz-checksum-sha256`, so the store refuses other bytes). Headers,
/// not query parameters: S3 ignores a checksum in the query.
///
/// `sign_type: false` is the weakened URL of `--insecure-unsigned-content-type` (test only):
/// Content-Type is sent but not signed, so the store takes any type; `presign-bench audit` must
/// report it broken.
fn put_with(
    presigner: &Presigner,
    (key, content_type, size): (&str, &str, u64),
    extra: &[(&'static str, &str)],
    sign_type: bool,
    (expiry, now): (Duration, SystemTime),
) -> Result<crate::sigv4::SignedRequest, crate::sigv4::PresignError> {
    let length = size.to_string();
    let mut signed = vec![("content-length", length.as_str()), ("if-none-match", "*")];
    if sign_type {
        signed.push(("content-type", content_type));
    }
    signed.extend_from_slice(extra);
    let url = presigner.sign("PUT", key, &signed, expiry, now)?;
    let mut headers: Vec<(&'static str, String)> = signed.into_iter().map(|(n, v)| (n, v.to_owned())).collect();
    if !sign_type {
        headers.push(("content-type", content_type.to_owned()));
    }
    Ok(crate::sigv4::SignedRequest { url, headers, expires_at: now + expiry })
}

/// A declared SHA-256: base64 of 32 bytes.
fn decode_sha256(text: &str) -> Result<[u8; 32], ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| ApiError::InvalidRequest("checksum_sha256: not the base64 of a 32-byte SHA-256".into()))
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
    headers: std::collections::BTreeMap<Cow<'static, str>, String>,
}

/// The answer to a completion: the new file's id (the client sent everything else).
#[derive(Serialize)]
struct Completed {
    file_id: String,
}

/// `content-length` → `Content-Length`, as clients and documentation spell header names. The
/// two names of every grant are written out: title-casing them took 3% of the broker's CPU per
/// presign (`perf record --call-graph dwarf` of the broker under presign load).
fn title_case(name: &'static str) -> Cow<'static, str> {
    match name {
        "content-type" => Cow::Borrowed("Content-Type"),
        "if-none-match" => Cow::Borrowed("If-None-Match"),
        _ => Cow::Owned(
            name.split('-')
                .map(|word| {
                    let mut chars = word.chars();
                    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("-"),
        ),
    }
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
    if let Some(inbox) = b.inbox.as_ref().filter(|i| !i.config.wait.is_zero()) {
        settle::await_verdict(&b, &upload.key, inbox.config.wait).await?;
    }
    let file = settle::settle(&b, upload).await?.file?;
    Ok(Json(Completed { file_id: file.file_id }))
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
