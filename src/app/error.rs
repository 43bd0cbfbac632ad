//! The JSON error every broker and proxy endpoint answers with: `{"error":{"code","message"}}`.
//!
//! Codes are stable: clients and the harness match on them, never on messages. Messages carry no
//! internals (store endpoints, connection errors, library text: those go to the log) and echo at
//! most [`ECHO_LIMIT`] characters of what the client sent.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// Most characters of client input an error message repeats.
pub const ECHO_LIMIT: usize = 64;

/// `text` cut to [`ECHO_LIMIT`] characters, with `…` when cut.
#[must_use]
pub fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token in the Authorization header")]
    MissingToken,
    /// The token's signature, algorithm or claims are wrong.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The token's `exp` has passed.
    #[error("token expired")]
    TokenExpired,
    /// The content type is not on the allow list.
    #[error("content type {content_type:?} is not allowed; allowed: {allowed}")]
    UnsupportedType {
        /// What the client declared.
        content_type: String,
        /// The allow list, comma-separated.
        allowed: String,
    },
    /// The declared size exceeds the maximum.
    #[error("size {size} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// What the client declared.
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The declared size is zero.
    #[error("size must be at least 1 byte")]
    InvalidSize,
    /// The body is not JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The JSON lacks a field or has a wrong type, or a header is invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A proxied upload without `Content-Length`.
    #[error("Content-Length is required")]
    LengthRequired,
    /// The upload id is not one this broker signed.
    #[error("invalid upload id")]
    InvalidUploadId,
    /// The upload id's completion window has passed.
    #[error("upload id expired; request a new upload")]
    UploadExpired,
    /// The resource belongs to another user.
    #[error("this resource belongs to another user")]
    Forbidden,
    /// No such file (or route).
    #[error("not found")]
    NotFound,
    /// The route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Completion was requested but the object is not in the store.
    #[error("object {key} is not in the store; upload it before completing")]
    ObjectMissing {
        /// The object key.
        key: String,
    },
    /// The stored object's size differs from the signed one (the object was deleted).
    #[error("object size {actual} differs from the declared {expected}; the object was deleted")]
    SizeMismatch {
        /// Declared size.
        expected: u64,
        /// Size in the store.
        actual: u64,
    },
    /// The stored object's content type differs from the signed one (the object was deleted).
    #[error("object content type {actual:?} differs from the declared {expected:?}; the object was deleted")]
    TypeMismatch {
        /// Declared type.
        expected: String,
        /// Type in the store.
        actual: String,
    },
    /// The first bytes do not match the declared type's magic numbers (the object was deleted).
    #[error("content does not look like {declared} (detected: {detected}); the object was deleted")]
    ContentMismatch {
        /// Declared type.
        declared: String,
        /// What the magic bytes say, or `unknown`.
        detected: String,
    },
    /// The client sent fewer bytes than it declared, or went away.
    #[error("upload body incomplete: {0}")]
    IncompleteBody(String),
    /// The object store failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// The malware scanner could not give a verdict (clamd unreachable, an error, too slow).
    #[error("malware scan failed: {0}")]
    ScanFailed(String),
    /// A call to the object store ran out of time.
    #[error("the object store did not answer in time: {0}")]
    StorageTimeout(String),
    /// The store does not answer (`/readyz`).
    #[error("the object store is not answering: {0}")]
    NotReady(String),
    /// The request body paused longer than the body idle timeout.
    #[error("no byte of the request body for {0:?}")]
    BodyTimeout(std::time::Duration),
    /// A body that must arrive whole within a deadline (a multipart completion's) did not.
    #[error("the request body did not arrive within {0:?}")]
    BodyDeadline(std::time::Duration),
    /// The request took longer than the request timeout.
    #[error("the request took longer than {0:?}")]
    RequestTimeout(std::time::Duration),
    /// A JSON body above the limit.
    #[error("the request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The upload was completed already and its URL was written to again afterwards; the new
    /// object was deleted and the completed file is unchanged.
    #[error("upload already completed as file {file_id}; what was written to its URL afterwards was deleted")]
    AlreadyCompleted {
        /// The completed file.
        file_id: String,
    },
    /// A part size outside S3's bounds, or too many parts.
    #[error("invalid part size: {0}")]
    InvalidPartSize(String),
    /// A part number the multipart upload does not have.
    #[error("part {number} is not one of the upload's parts 1..={count}")]
    InvalidPartNumber {
        /// What the client asked for.
        number: u64,
        /// The upload's parts.
        count: u64,
    },
    /// A completion whose part list does not match the upload (missing, extra or out-of-order
    /// parts, or ETags that are not the parts').
    #[error("invalid parts: {0}")]
    InvalidParts(String),
    /// The store dropped parts of an open upload without assembling them (MinIO can, when the
    /// broker dies mid-completion); the upload is aborted and must be started again.
    #[error("the store lost part(s) {parts:?} of this upload while assembling it; it is aborted: start a new upload")]
    UploadLost {
        /// The part numbers the store no longer held.
        parts: Vec<u64>,
    },
    /// The stored object's SHA-256 is not the one signed into its URL (or the store kept none).
    #[error("the stored object's SHA-256 is {actual}, not the signed {expected}; it was deleted")]
    ChecksumMismatch {
        /// The signed SHA-256, base64.
        expected: String,
        /// What the store holds, base64 (`none` when it kept no checksum).
        actual: String,
    },
    /// The malware scanner found the upload infected; it was deleted.
    #[error("the file is infected ({signature}); it was deleted")]
    Infected {
        /// What the scanner named it.
        signature: String,
    },
    /// An upload rejected earlier (by its store event, or an earlier completion), answered again
    /// with the code it was rejected with: one of [`REJECTION_CODES`].
    #[error("{message}")]
    Rejected {
        /// The code of the first answer (`size_mismatch`, ...).
        code: &'static str,
        /// Its message.
        message: String,
    },
    /// A multipart upload that is completed cannot be aborted.
    #[error("the upload is completed as file {file_id}; it can no longer be aborted")]
    Completed {
        /// The completed file.
        file_id: String,
    },
    /// One PUT cannot carry this size; the client must upload it in parts.
    #[error("size {size} bytes is above the {max} bytes one PUT can carry; use a multipart upload")]
    UseMultipart {
        /// What the client declared.
        size: u64,
        /// The single-PUT limit.
        max: u64,
    },
    /// Too many requests in flight.
    #[error("too many requests in flight; retry later")]
    Overloaded,
    /// The user has as many multipart uploads open as they may.
    #[error("{limit} multipart uploads are open already; complete or abort one first")]
    TooManyUploads {
        /// The cap (`--max-open-multipart`).
        limit: u64,
    },
    /// Anything else on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status and the stable code of this error.
    #[must_use]
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use ApiError as E;
        match self {
            E::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            E::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            E::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
            E::UnsupportedType { .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
            E::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            E::InvalidSize => (StatusCode::BAD_REQUEST, "invalid_size"),
            E::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            E::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            E::LengthRequired => (StatusCode::LENGTH_REQUIRED, "length_required"),
            E::InvalidUploadId => (StatusCode::BAD_REQUEST, "invalid_upload_id"),
            E::UploadExpired => (StatusCode::GONE, "upload_expired"),
            E::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            E::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            E::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            E::ObjectMissing { .. } => (StatusCode::CONFLICT, "object_missing"),
            E::SizeMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "size_mismatch"),
            E::TypeMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "type_mismatch"),
            E::ContentMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "content_mismatch"),
            E::IncompleteBody(_) => (StatusCode::BAD_REQUEST, "incomplete_body"),
            E::Storage(_) => (StatusCode::BAD_GATEWAY, "storage_error"),
            E::ScanFailed(_) => (StatusCode::BAD_GATEWAY, "scan_failed"),
            E::StorageTimeout(_) => (StatusCode::GATEWAY_TIMEOUT, "storage_timeout"),
            E::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            E::BodyTimeout(_) | E::BodyDeadline(_) => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            E::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            E::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            E::InvalidPartSize(_) => (StatusCode::BAD_REQUEST, "invalid_part_size"),
            E::InvalidPartNumber { .. } => (StatusCode::BAD_REQUEST, "invalid_part_number"),
            E::InvalidParts(_) => (StatusCode::BAD_REQUEST, "invalid_parts"),
            E::UploadLost { .. } => (StatusCode::GONE, "upload_lost"),
            E::Rejected { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            E::ChecksumMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "checksum_mismatch"),
            E::Infected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "infected"),
            E::UseMultipart { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "use_multipart"),
            E::Completed { .. } | E::AlreadyCompleted { .. } => (StatusCode::CONFLICT, "already_completed"),
            E::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            E::TooManyUploads { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_uploads"),
            E::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl ApiError {
    /// The message a client sees: no internals, and client input cut to [`ECHO_LIMIT`].
    #[must_use]
    pub fn public_message(&self) -> String {
        use ApiError as E;
        match self {
            E::InvalidToken(_) => "invalid token".to_owned(),
            E::Storage(_) => "the object store failed; try again later".to_owned(),
            E::StorageTimeout(_) => "the object store did not answer in time; try again later".to_owned(),
            E::ScanFailed(_) => "the malware scan failed; try again later".to_owned(),
            E::NotReady(_) => "the object store is not answering".to_owned(),
            E::Internal(_) => "internal error".to_owned(),
            E::UnsupportedType { content_type, allowed } => {
                format!("content type {:?} is not allowed; allowed: {allowed}", echo(content_type))
            }
            E::MalformedJson(m) => format!("malformed JSON: {}", echo(m)),
            E::InvalidRequest(m) => format!("invalid request: {}", echo(m)),
            E::IncompleteBody(m) => format!("upload body incomplete: {}", echo(m)),
            E::ObjectMissing { .. } => "the object is not in the store; upload it before completing".to_owned(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(code, "{self}");
        } else {
            tracing::debug!(code, "{self}");
        }
        let mut response = json_error(status, code, &self.public_message());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(http::header::RETRY_AFTER, crate::server::RETRY_AFTER_SECS.into());
        }
        response
    }
}

/// `{"error":{"code","message"}}` with `status`.
#[must_use]
pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = Json(serde_json::json!({ "error": { "code": code, "message": message } }));
    (status, body).into_response()
}

/// The codes a rejected upload is answered with, again and again.
pub const REJECTION_CODES: [&str; 5] =
    ["size_mismatch", "type_mismatch", "content_mismatch", "checksum_mismatch", "infected"];

impl ApiError {
    /// Whether this error rejects the upload for good (the object is deleted): a verdict to
    /// record, not a failure to retry.
    #[must_use]
    pub fn is_rejection(&self) -> bool {
        REJECTION_CODES.contains(&self.status_and_code().1)
    }

    /// A recorded rejection, answered again: its stable code when it is one of
    /// [`REJECTION_CODES`] (a database written by a newer broker may hold others: `rejected`).
    #[must_use]
    pub fn rejected(code: &str, message: String) -> Self {
        let code = REJECTION_CODES.into_iter().find(|c| *c == code).unwrap_or("rejected");
        Self::Rejected { code, message }
    }

    /// The error a failed store call stands for: 504 `storage_timeout` when it ran out of time,
    /// else 502 `storage_error`. The store's own words go to the log, not to the client.
    pub fn storage<E>(
        e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
    ) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let detail = crate::storage::client::describe(e);
        if crate::storage::client::is_timeout(e) { Self::StorageTimeout(detail) } else { Self::Storage(detail) }
    }
}

impl From<super::db::DbError> for ApiError {
    fn from(e: super::db::DbError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Fallback for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Fallback for known routes with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
