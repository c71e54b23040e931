//! [`ApiError`]: every error the API answers, with its HTTP status and the JSON problem
//! body `{"error": {"code": "...", "message": "..."}}` ([`ErrorBody`]).
//!
//! | variant | status | code | when |
//! | --- | --- | --- | --- |
//! | `Malformed` | 400 | `malformed` | the request cannot be parsed (bad JSON, a query value that is not a number, a missing parameter) |
//! | `Unauthorized` | 401 | `unauthorized` | a credential (token, JWT) that does not authenticate: unknown, expired or revoked |
//! | `Forbidden` | 403 | `forbidden` | the caller may not do this (`Brain::authorize` refused), a WebSocket from a foreign `Origin`, a missing CSRF token |
//! | `NotFound` | 404 | `not_found` | an unknown road, intersection or replay time |
//! | `TooLarge` | 413 | `too_large` | the body exceeds the configured limit |
//! | `UnsupportedMediaType` | 415 | `unsupported_media_type` | a `POST` body that is not `application/json` |
//! | `Conflict` | 409 | `conflict` | the action is not possible in the entity's current state (an incident's lifecycle) |
//! | `Invalid` | 422 | `invalid` | parsed, but the content is not acceptable (a window beyond the maximum, `from > to`) |
//! | `TooManyRequests` | 429 | `too_many_requests` | too many failed logins for the account or from the client address; `Retry-After` says when to try again |
//! | `Unavailable` | 503 | `storage_unavailable` | the store cannot read or write; retry later |
//! | `Overloaded` | 503 | `overloaded` | a capacity limit (stream clients) is reached; retry later |
//! | `Internal` | 500 | `internal` | a bug (a panicked handler) |

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An API failure. Library errors are mapped into it by the server's adapter; a storage
/// failure is always [`ApiError::Unavailable`] (503), never a client error.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("body too large: the limit is {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Overloaded(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Machine-readable error codes of [`ErrorBody`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Malformed,
    Unauthorized,
    Forbidden,
    NotFound,
    TooLarge,
    UnsupportedMediaType,
    Conflict,
    Invalid,
    TooManyRequests,
    StorageUnavailable,
    Overloaded,
    Internal,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong, naming the parameter or field.
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Malformed(_) => ErrorCode::Malformed,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound { .. } => ErrorCode::NotFound,
            ApiError::TooLarge { .. } => ErrorCode::TooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::Invalid(_) => ErrorCode::Invalid,
            ApiError::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            ApiError::Unavailable(_) => ErrorCode::StorageUnavailable,
            ApiError::Overloaded(_) => ErrorCode::Overloaded,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code(), message: self.to_string() } }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Internal(_)) {
            tracing::error!("{self}");
        }
        let mut r = (self.status(), Json(self.body())).into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            r.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Unavailable(_) | ApiError::Overloaded(_)) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        }
        if let ApiError::TooManyRequests { retry_after_s, .. } = &self {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*retry_after_s));
        }
        r
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::Malformed(format!("query: {}", e.body_text()))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("handler task failed: {e}"))
    }
}
