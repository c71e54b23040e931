//! The backend-neutral storage error.

/// What went wrong, for the caller to decide (e.g. the HTTP status: `Full` and
/// `Unavailable` are a 503, `InvalidArgument` a 4xx, the rest a 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// The storage is full (disk full, quota or size limit reached): nothing was written.
    Full,
    /// The storage cannot be reached or written right now (I/O error, permissions, locked
    /// or busy beyond the timeout, out of memory). May succeed on retry.
    Unavailable,
    /// Stored data cannot be decoded (damaged file or rows).
    Corrupt,
    /// The storage has a schema this build cannot use, or a migration failed.
    Schema,
    /// The caller passed a value the store refuses (e.g. an absurd `now` for `prune`, an
    /// id outside the network the store was opened with).
    InvalidArgument,
    /// Any other backend failure (a bug or an unexpected backend condition).
    Backend,
}

impl StoreErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::Full => "storage full",
            StoreErrorKind::Unavailable => "storage unavailable",
            StoreErrorKind::Corrupt => "stored data is corrupt",
            StoreErrorKind::Schema => "storage schema",
            StoreErrorKind::InvalidArgument => "invalid argument",
            StoreErrorKind::Backend => "storage error",
        }
    }
}

impl std::fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A storage failure: its [`StoreErrorKind`] and the backend's message as text (no
/// backend error type leaks out, so every backend returns the same error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError { kind, message: message.into() }
    }
    pub fn full(m: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Full, m)
    }
    pub fn unavailable(m: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Unavailable, m)
    }
    pub fn corrupt(m: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Corrupt, m)
    }
    pub fn schema(m: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Schema, m)
    }
    pub fn invalid(m: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::InvalidArgument, m)
    }
    pub fn backend(m: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Backend, m)
    }
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
    /// Whether the storage cannot write now (full or unavailable): a 503 for the server.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Full | StoreErrorKind::Unavailable)
    }
}
