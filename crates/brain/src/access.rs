//! The one authorisation point of the runtime: who is calling ([`Caller`]), what they
//! want ([`Action`]) and who decides ([`Authorizer`]).
//!
//! Departments, tokens and grants arrive with the governance issue as an `Authorizer`;
//! every runtime call already asks it, so no endpoint needs a second check.

/// Who is calling. The edge (HTTP, MQTT) authenticates and builds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// Principal name (user or service account); empty for the public.
    pub principal: String,
    /// Department the principal belongs to, if any.
    pub department: Option<String>,
}

impl Caller {
    /// The unauthenticated public.
    pub fn anonymous() -> Caller {
        Caller::default()
    }
    /// The brain itself (the twin's virtual sensors, internal jobs).
    pub fn system() -> Caller {
        Caller { principal: "system".into(), department: None }
    }
}

/// What a caller wants to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Post observations (the sensors they name are checked per record later).
    Ingest,
    /// Live state, network, signal status: public data.
    ReadLive,
    /// Stored history and replay snapshots.
    ReadHistory,
    /// Raw observations and controller event logs (ATSPM).
    ReadRaw { intersection: Option<&'a str> },
    /// Rejected records (may hold other departments' data, redacted).
    ReadRejected,
    /// The sensor registry.
    ReadSensors,
    /// Events raised by plug-ins.
    ReadEvents,
    /// Runtime counters (metrics).
    ReadMetrics,
}

/// A refusal, with the reason the caller may be told.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not allowed: {0}")]
pub struct Denied(pub String);

/// Decides whether a caller may perform an action.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, caller: &Caller, action: &Action<'_>) -> Result<(), Denied>;
}

/// Allows everything: for a brain bound to loopback only.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenAccess;

impl Authorizer for OpenAccess {
    fn authorize(&self, _: &Caller, _: &Action<'_>) -> Result<(), Denied> {
        Ok(())
    }
}
