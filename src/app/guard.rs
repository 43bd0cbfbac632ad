//! What every broker and proxy request passes through besides its handler: the request timeout,
//! the body idle timeout, the cap on requests in flight (503 with `Retry-After`), the small-body
//! limit of JSON endpoints, and the JSON error contract for answers the HTTP stack writes itself
//! (axum's rejections, tower-http's timeouts). Connection-level guards are in [`crate::server`].

use super::error::{ApiError, json_error};
use crate::metrics::Meter;
use crate::server::Limits;
use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Largest JSON request body, in bytes: a presign request is a filename, a type and a size.
pub const JSON_BODY_LIMIT: u64 = 8 * 1024;

/// Wraps the app routes (not `/healthz`, `/readyz`, `/metrics`) in the request-level limits.
///
/// Outermost first: the in-flight cap (over it: 503 `overloaded` without calling the handler),
/// the whole-request timeout (408 `request_timeout`), the body idle timeout (the body fails with
/// a timeout error; handlers answer 408 `body_timeout`).
pub fn limit(routes: Router, limits: &Limits, meter: Arc<Meter>) -> Router {
    // One semaphore for every route: axum layers each route separately, so a per-layer limit
    // would cap each route on its own.
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight.max(1)));
    let overloaded = move |_: tower::BoxError| {
        let meter = meter.clone();
        async move {
            meter.overloaded_requests.fetch_add(1, Relaxed);
            ApiError::Overloaded
        }
    };
    let in_flight = tower::ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(slots));
    routes
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_idle_timeout))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
        .layer(in_flight)
}

/// Keeps every error answer in the JSON contract: an error response that is not JSON (axum's
/// text rejections, tower-http's empty 408) is rewritten with a code named after its status.
/// Also counts `504 storage_timeout` answers into the meter.
pub fn json_errors(router: Router, meter: Arc<Meter>) -> Router {
    router.layer(axum::middleware::map_response(move |response: Response| {
        let meter = meter.clone();
        async move { to_json(response, &meter).await }
    }))
}

async fn to_json(response: Response, meter: &Meter) -> Response {
    let status = response.status();
    if status == StatusCode::GATEWAY_TIMEOUT {
        meter.storage_timeouts.fetch_add(1, Relaxed);
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, fallback) = match status {
        StatusCode::BAD_REQUEST => ("invalid_request", "invalid request"),
        StatusCode::NOT_FOUND => ("not_found", "not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_type", "unsupported content type"),
        StatusCode::SERVICE_UNAVAILABLE => ("overloaded", "retry later"),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("invalid_request", "invalid request"),
    };
    // axum's rejection texts say what was wrong ("Invalid URL: ..."); keep them, cut short.
    let text = match response.into_body().collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message =
        if text.is_empty() || status.is_server_error() { fallback.to_owned() } else { super::error::echo(&text) };
    json_error(status, code, &message)
}

/// The error a failed request body stands for: [`ApiError::BodyTimeout`] when the body idle timeout
/// cut it, otherwise [`ApiError::IncompleteBody`] with `context`.
#[must_use]
pub fn body_error(error: &(dyn std::error::Error + 'static), idle: Duration, context: String) -> ApiError {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::BodyTimeout(idle);
        }
        cause = e.source();
    }
    ApiError::IncompleteBody(context)
}

/// CORS for `origins` (none: no layer, so a browser on another origin is refused): preflights
/// answered for the methods and headers the API takes, `Location` and `ETag` exposed. No
/// credentials: the API takes bearer tokens, not cookies, and an origin is never `*`.
#[must_use]
pub fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use http::{HeaderName, Method};
    let headers = [header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-filename")];
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE];
    crate::server::cors(origins, &methods, &headers, &[header::LOCATION, header::ETAG])
}

/// Reads a JSON request body of at most [`JSON_BODY_LIMIT`] bytes. A declared `Content-Length`
/// above the limit is refused before a byte is read.
///
/// # Errors
/// 413 `body_too_large`, 408 `body_timeout`, 400 `incomplete_body`.
pub async fn small_body(headers: &http::HeaderMap, body: Body, idle: Duration) -> Result<Bytes, ApiError> {
    json_body(headers, body, idle, JSON_BODY_LIMIT).await
}

/// Reads a JSON request body of at most `limit` bytes (a multipart completion lists up to
/// 10,000 parts). A declared `Content-Length` above the limit is refused before a byte is read.
///
/// # Errors
/// 413 `body_too_large`, 408 `body_timeout`, 400 `incomplete_body`.
pub async fn json_body(headers: &http::HeaderMap, body: Body, idle: Duration, limit: u64) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    let limited = http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::BodyTooLarge { limit }),
        Err(e) => Err(body_error(e.as_ref(), idle, "the request body broke off".to_owned())),
    }
}

/// `GET /readyz`: 200 when the store answered a HEAD on the bucket within a short timeout (the
/// answer is cached for a second), else 503 `storage_unavailable`. `/healthz` stays liveness only.
#[derive(Debug)]
pub struct Readiness {
    s3: aws_sdk_s3::Client,
    bucket: String,
    last: tokio::sync::Mutex<Option<(tokio::time::Instant, Result<(), String>)>>,
}

/// How long `/readyz` waits for the store.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a `/readyz` answer is reused.
const READY_CACHE: Duration = Duration::from_secs(1);

impl Readiness {
    /// Readiness of `bucket` through `s3`.
    #[must_use]
    pub fn new(s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { s3, bucket, last: tokio::sync::Mutex::new(None) }
    }

    /// Whether the store answers; probes at most once per [`READY_CACHE`] (concurrent callers wait
    /// for the one probe).
    pub async fn check(&self) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, verdict)) = last.as_ref()
            && at.elapsed() < READY_CACHE
        {
            return verdict.clone();
        }
        let probe = self.s3.head_bucket().bucket(&self.bucket).send();
        let verdict = match tokio::time::timeout(READY_TIMEOUT, probe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(crate::storage::client::describe(&e)),
            Err(_) => Err(format!("no answer within {READY_TIMEOUT:?}")),
        };
        *last = Some((tokio::time::Instant::now(), verdict.clone()));
        verdict
    }

    /// The `/readyz` answer.
    pub async fn respond(&self) -> Response {
        match self.check().await {
            Ok(()) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
            Err(why) => ApiError::NotReady(why).into_response(),
        }
    }
}
