//! The governance model: departments, principals, datasets and their classification,
//! grants, and the default catalogue of the brain's datasets.

use brain::{Role, Scopes};
use serde::{Deserialize, Serialize};

/// How sensitive a dataset is; decides who may read it without a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    /// Anyone, without authentication (open data).
    Public,
    /// Any authenticated principal of any department.
    Internal,
    /// The owning department, or a grantee with an unexpired grant.
    Restricted,
    /// Personal data (plate tokens, citizens' reports): as restricted, and kept only for
    /// the short personal retention.
    Personal,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Restricted => "restricted",
            Classification::Personal => "personal",
        }
    }
    pub fn parse(s: &str) -> Option<Classification> {
        Some(match s {
            "public" => Classification::Public,
            "internal" => Classification::Internal,
            "restricted" => Classification::Restricted,
            "personal" => Classification::Personal,
            _ => return None,
        })
    }
}

/// A city department: owns sensors and datasets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Stable id, e.g. `traffic-police` (the sensors' `owner`).
    pub id: String,
    pub name: String,
}

/// A user or a service account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub department: String,
    pub role: Role,
    /// PBKDF2 hash of the password (users only; service accounts use tokens).
    pub password_hash: Option<String>,
    pub disabled: bool,
}

/// A dataset the brain holds or serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub name: String,
    /// Owning department id.
    pub owner: String,
    pub class: Classification,
    pub description: String,
}

/// Permission for a grantee (a department id or a principal name) to read a restricted or
/// personal dataset, for a purpose, until it expires or is revoked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub id: u64,
    pub dataset: String,
    pub grantee: String,
    pub purpose: String,
    /// Unix seconds.
    pub expires: f64,
    pub issued_by: String,
    pub created: f64,
    pub revoked: Option<f64>,
}

impl Grant {
    pub fn active(&self, now: f64) -> bool {
        self.revoked.is_none() && now < self.expires
    }
}

/// A stored API token (the secret itself is never stored, only its SHA-256).
#[derive(Clone, Debug)]
pub struct TokenRecord {
    /// Public part, used to find the record (`cbt_<id>_...`).
    pub id: String,
    pub principal: String,
    pub hash: [u8; 32],
    pub scopes: Scopes,
    pub created: f64,
    pub expires: f64,
    pub revoked: Option<f64>,
    pub label: String,
}

/// Scopes a role has when logged in with a session (a token may carry fewer).
pub fn role_scopes(role: Role) -> Scopes {
    match role {
        Role::Public => Scopes(0),
        Role::Viewer => Scopes::READ,
        Role::Operator => Scopes::READ.union(Scopes::WRITE),
        Role::Admin | Role::System => Scopes::ALL,
        Role::Service => Scopes::READ.union(Scopes::WRITE),
    }
}

/// Parse `read,write,admin` (any order).
pub fn parse_scopes(s: &str) -> Option<Scopes> {
    let mut out = Scopes(0);
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out = out.union(match part {
            "read" => Scopes::READ,
            "write" => Scopes::WRITE,
            "admin" => Scopes::ADMIN,
            _ => return None,
        });
    }
    Some(out)
}

pub fn scopes_str(s: Scopes) -> String {
    let mut v = Vec::new();
    for (bit, name) in [(Scopes::READ, "read"), (Scopes::WRITE, "write"), (Scopes::ADMIN, "admin")] {
        if s.contains(bit) {
            v.push(name);
        }
    }
    v.join(",")
}

/// Dataset names of the brain's own data (what [`brain::Action`]s map to).
pub mod datasets {
    /// Live road and intersection state, the network, signal status (public).
    pub const ROAD_STATE: &str = "road-state";
    /// Stored aggregates and snapshots: history, replay (public).
    pub const AGGREGATES: &str = "aggregates";
    /// Signal plans (public).
    pub const SIGNAL_PLANS: &str = "signal-plans";
    /// Controller hi-res event logs, ATSPM (restricted, traffic police).
    pub const SIGNAL_EVENTS: &str = "signal-events";
    /// Raw observations, with the plate tokens in them (personal).
    pub const OBSERVATIONS: &str = "observations";
    /// Rejected records (restricted: they hold raw records of every department).
    pub const REJECTED: &str = "rejected";
    /// The sensor registry (internal).
    pub const SENSORS: &str = "sensors";
    /// Events raised by plug-ins (internal).
    pub const EVENTS: &str = "events";
    /// Runtime counters (public: counts only).
    pub const METRICS: &str = "metrics";
    /// Citizens' tickets (personal: free text, locations).
    pub const TICKETS: &str = "citizen-tickets";
    /// The transparency log of automated decisions and the KPI page (public).
    pub const TRANSPARENCY: &str = "transparency";
    /// Incidents with their operational detail: reports, timelines, units (internal).
    pub const INCIDENTS: &str = "incidents";
    /// Incidents without personal data: type, status, place, response times (public).
    pub const INCIDENTS_PUBLIC: &str = "incidents-public";
    /// Emergency green corridors: who asked, why, the route, signal preemptions and what
    /// they cost (internal; written only by emergency services).
    pub const CORRIDORS: &str = "corridors";
    /// The NGSI-LD context data of the default tenant (internal; the city data office
    /// writes it). A department's own tenant is the dataset `ngsi-ld:<department>`.
    pub const NGSI_LD: &str = "ngsi-ld";
}

/// The default departments of a city.
pub fn default_departments() -> Vec<Department> {
    [
        ("traffic-police", "Traffic Police"),
        ("transport-bureau", "Transport Bureau"),
        ("emergency-services", "Emergency Services"),
        ("environment", "Environment Bureau"),
        ("city-hotline", "City Hotline (12345)"),
        ("taxi-company", "Taxi Company (probe data partner)"),
        ("city-data-office", "City Data Office"),
    ]
    .into_iter()
    .map(|(id, name)| Department { id: id.into(), name: name.into() })
    .collect()
}

/// The default catalogue: every dataset the brain serves, its owner and class.
pub fn default_datasets() -> Vec<Dataset> {
    use datasets::*;
    use Classification::*;
    [
        (ROAD_STATE, "transport-bureau", Public, "live road speeds, travel time index and grades; the network"),
        (AGGREGATES, "transport-bureau", Public, "1- and 15-minute aggregates and state snapshots"),
        (SIGNAL_PLANS, "traffic-police", Public, "signal plans and live signal status"),
        (SIGNAL_EVENTS, "traffic-police", Restricted, "controller high-resolution event logs (ATSPM)"),
        (OBSERVATIONS, "traffic-police", Personal, "raw observations including pseudonymous plate tokens"),
        (REJECTED, "city-data-office", Restricted, "records rejected by validation or authorisation (raw, redacted)"),
        (SENSORS, "city-data-office", Internal, "the sensor registry: devices, places, owners"),
        (EVENTS, "transport-bureau", Internal, "events raised by analysers (congestion, incidents)"),
        (METRICS, "city-data-office", Public, "runtime counters"),
        (TICKETS, "city-hotline", Personal, "citizens' reports: text, location, photo reference"),
        (TRANSPARENCY, "city-data-office", Public, "automated decisions and KPIs"),
        (INCIDENTS, "emergency-services", Internal, "incident events, timelines and responses"),
        (INCIDENTS_PUBLIC, "emergency-services", Public, "incidents without personal data: type, status, place, response times"),
        (CORRIDORS, "emergency-services", Internal, "emergency green corridors: requester, reason, route, preemptions, cost"),
        (NGSI_LD, "city-data-office", Internal, "NGSI-LD entities of the default tenant: the city's shared context data"),
    ]
    .into_iter()
    .map(|(name, owner, class, d)| Dataset { name: name.into(), owner: owner.into(), class, description: d.into() })
    .collect()
}
