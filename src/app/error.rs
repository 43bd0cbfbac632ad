//! The JSON error every broker and proxy endpoint answers with: `{"error":{"code","message"}}`.
//!
//! Codes are stable: clients and the harness match on them, never on messages.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

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
            E::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(code, "{self}");
        }
        let body = Json(serde_json::json!({ "error": { "code": code, "message": self.to_string() } }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
        }
        response
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
