//! Errors as the spec's ProblemDetails (RFC 7807 with NGSI-LD's problem types).

use serde_json::{json, Value};

/// Why an NGSI-LD call failed; each maps to a problem type and an HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NgsiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    BadRequestData(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    OperationNotSupported(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    LdContextNotAvailable(String),
    #[error("{0}")]
    NonexistentTenant(String),
    #[error("{0}")]
    TooComplexQuery(String),
    #[error("{0}")]
    TooManyResults(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The caller may not do this (`Brain::authorize` refused).
    #[error("{0}")]
    Forbidden(String),
    /// Storage cannot serve the call now.
    #[error("{0}")]
    Unavailable(String),
}

impl NgsiError {
    pub fn bad(msg: impl Into<String>) -> NgsiError {
        NgsiError::BadRequestData(msg.into())
    }
    pub fn invalid(msg: impl Into<String>) -> NgsiError {
        NgsiError::InvalidRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> NgsiError {
        NgsiError::ResourceNotFound(msg.into())
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        use NgsiError::*;
        match self {
            InvalidRequest(_) | BadRequestData(_) => 400,
            AlreadyExists(_) => 409,
            OperationNotSupported(_) => 422,
            ResourceNotFound(_) | NonexistentTenant(_) => 404,
            LdContextNotAvailable(_) => 503,
            TooComplexQuery(_) | TooManyResults(_) | Forbidden(_) => 403,
            NotAcceptable(_) => 406,
            UnsupportedMediaType(_) => 415,
            Unavailable(_) => 503,
        }
    }

    /// The problem type's name (the last segment of its URI).
    pub fn kind(&self) -> &'static str {
        use NgsiError::*;
        match self {
            InvalidRequest(_) => "InvalidRequest",
            BadRequestData(_) => "BadRequestData",
            AlreadyExists(_) => "AlreadyExists",
            OperationNotSupported(_) => "OperationNotSupported",
            ResourceNotFound(_) => "ResourceNotFound",
            LdContextNotAvailable(_) => "LdContextNotAvailable",
            NonexistentTenant(_) => "NonexistentTenant",
            TooComplexQuery(_) => "TooComplexQuery",
            TooManyResults(_) => "TooManyResults",
            NotAcceptable(_) => "NotAcceptable",
            UnsupportedMediaType(_) => "UnsupportedMediaType",
            Forbidden(_) => "Forbidden",
            Unavailable(_) => "InternalError",
        }
    }

    /// The problem type URI.
    pub fn type_uri(&self) -> String {
        format!("https://uri.etsi.org/ngsi-ld/errors/{}", self.kind())
    }

    /// The ProblemDetails body.
    pub fn problem(&self) -> Value {
        json!({ "type": self.type_uri(), "title": self.kind(), "status": self.status(), "detail": self.to_string() })
    }
}

impl From<brain::BrainError> for NgsiError {
    fn from(e: brain::BrainError) -> NgsiError {
        use brain::BrainError::*;
        match e {
            Denied(d) => NgsiError::Forbidden(d.0),
            Malformed(m) => NgsiError::InvalidRequest(m),
            UnknownEntity(m) => NgsiError::ResourceNotFound(m),
            Invalid(m) => NgsiError::BadRequestData(m),
            Storage(s) => NgsiError::Unavailable(s.to_string()),
        }
    }
}

impl From<rusqlite::Error> for NgsiError {
    fn from(e: rusqlite::Error) -> NgsiError {
        NgsiError::Unavailable(format!("ngsi storage: {e}"))
    }
}
