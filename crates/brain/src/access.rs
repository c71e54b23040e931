//! The one authorisation point of the runtime: who is calling ([`Caller`]), what they
//! want ([`Action`]) and who decides ([`Authorizer`]).
//!
//! The governance crate implements [`Authorizer`] (departments, tokens, grants, the
//! audit chain); every runtime call asks it, so no endpoint needs a second check. The
//! same hook receives the automated decisions the brain takes ([`Decision`]), so they
//! reach the audit chain and the public transparency log.

/// What kind of principal is calling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The unauthenticated public.
    #[default]
    Public,
    /// A department's staff member who reads (analyst, planner).
    Viewer,
    /// A department's operator: reads and acts (incidents, plans).
    Operator,
    /// A department's administrator: owns its datasets, issues grants and tokens, reads
    /// the audit of its data.
    Admin,
    /// A machine account of a department (sensor, gateway, another system).
    Service,
    /// The brain itself (the twin's virtual sensors, internal jobs).
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Service => "service",
            Role::System => "system",
        }
    }
    /// Parse the name [`Role::as_str`] gives.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "public" => Role::Public,
            "viewer" => Role::Viewer,
            "operator" => Role::Operator,
            "admin" => Role::Admin,
            "service" => Role::Service,
            "system" => Role::System,
            _ => return None,
        })
    }
}

/// What a credential may be used for (a token is scoped; a session has its role's scopes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(pub u8);

impl Scopes {
    pub const READ: Scopes = Scopes(1);
    pub const WRITE: Scopes = Scopes(2);
    pub const ADMIN: Scopes = Scopes(4);
    pub const ALL: Scopes = Scopes(7);
    pub fn contains(self, other: Scopes) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn union(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }
}

/// Who is calling. The edge (HTTP, MQTT) authenticates and builds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// Principal name (user or service account); empty for the public.
    pub principal: String,
    /// Department the principal belongs to, if any.
    pub department: Option<String>,
    pub role: Role,
    /// What the credential used for this call allows.
    pub scopes: Scopes,
    /// The purpose the caller declared for this call (`X-Purpose`), recorded in the audit.
    pub purpose: Option<String>,
}

impl Caller {
    /// The unauthenticated public.
    pub fn anonymous() -> Caller {
        Caller::default()
    }
    /// The brain itself (the twin's virtual sensors, internal jobs).
    pub fn system() -> Caller {
        Caller { principal: "system".into(), department: None, role: Role::System, scopes: Scopes::ALL, purpose: None }
    }
    pub fn is_public(&self) -> bool {
        self.role == Role::Public
    }
}

/// What a caller wants to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Post observations (the sensors they name are checked per record with
    /// [`Action::IngestFor`]).
    Ingest,
    /// Post one record for `sensor`, which `owner` (a department) owns.
    IngestFor { sensor: &'a str, owner: &'a str },
    /// Read a named dataset (open data, exports, interfaces added later: NGSI-LD, ...).
    Read { dataset: &'a str },
    /// Write to a named dataset (a department's own records, answers to tickets, ...).
    Write { dataset: &'a str },
    /// Administer a dataset or a department: grants, tokens, its audit trail, its queue.
    Manage { dataset: &'a str },
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
    /// Send an incident report (camera analytics or a citizen).
    ReportIncident,
    /// Incident events, their timelines and sources, units.
    ReadIncidents,
    /// Operator actions on incidents: verify, reject, merge, close, dispatch.
    OperateIncidents,
    /// A response unit acting on its own alert (accept, on scene, cleared).
    ActAsUnit { unit: &'a str },
    /// Start an emergency green corridor (signal preemption along a route).
    StartCorridor,
    /// Corridors: routes, live ETA per signal, reports.
    ReadCorridors,
    /// A record department `owner` keeps for itself inside `dataset` (an NGSI-LD
    /// subscription: its filters, endpoint and receiver secrets): only `owner`'s
    /// principals, and only while they may read `dataset`. A grant of the dataset does
    /// not open another department's own records.
    ReadOwned { dataset: &'a str, owner: &'a str },
}

/// A refusal, with the reason the caller may be told.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not allowed: {0}")]
pub struct Denied(pub String);

/// An automated decision that acts on the city (a signal plan change, a corridor, a
/// dispatch): recorded in the audit chain and published in the transparency log.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// City clock, Unix seconds.
    pub time: f64,
    /// Who decided (a plug-in's name, `controller`, ...).
    pub source: String,
    /// What kind: `hold-phase`, `release`, `corridor`, `dispatch`, `plan-change`, ...
    pub kind: String,
    /// What it acts on (`intersection:X`, `unit:U`, ...).
    pub subject: String,
    /// Why, in words the public can read (no personal data).
    pub reason: String,
}

/// Decides whether a caller may perform an action, and records what must be audited.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, caller: &Caller, action: &Action<'_>) -> Result<(), Denied>;
    /// An automated decision was taken (default: not recorded).
    fn decision(&self, _decision: &Decision) {}
    /// The caller as it stands now, for a request made earlier that keeps acting for it
    /// (an NGSI-LD subscription's notifications): `None` once its principal is disabled
    /// or gone; its department and role as recorded now. Default: unchanged.
    fn standing(&self, caller: &Caller) -> Option<Caller> {
        Some(caller.clone())
    }
}

/// Allows everything: for a brain bound to loopback only.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenAccess;

impl Authorizer for OpenAccess {
    fn authorize(&self, _: &Caller, _: &Action<'_>) -> Result<(), Denied> {
        Ok(())
    }
}
