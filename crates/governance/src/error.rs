//! Errors of the governance layer.

use std::path::PathBuf;

/// Why a governance call failed. The edge maps each to a status: `BadCredentials` 401,
/// `Forbidden` 403, `NotFound` 404, `Invalid` 422, `Conflict` 409, `TooManyAttempts` 429,
/// `Storage`/`Io` 503.
#[derive(Debug, thiserror::Error)]
pub enum GovError {
    /// Unknown user, wrong password, unknown/expired/revoked token or session.
    #[error("authentication failed: {0}")]
    BadCredentials(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    /// A field of a request is not acceptable; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins for the account or from the address ([`crate::limit`]).
    #[error("{message}")]
    TooManyAttempts { message: String, retry_after_s: u64 },
    #[error("governance store: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl GovError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> GovError + '_ {
        move |source| GovError::Io { path: path.to_path_buf(), source }
    }
}

impl From<GovError> for brain::Denied {
    fn from(e: GovError) -> Self {
        brain::Denied(e.to_string())
    }
}
