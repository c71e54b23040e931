//! The incident model: types, sources, reports, actors, the lifecycle and its rules.

use twin::{Point, RoadId};

/// What happened. The camera analytics vocabulary (12 types), plus what the detectors
/// can say without seeing (`blockage`) and the red-light violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncidentType {
    Collision,
    StalledVehicle,
    IllegalParking,
    WrongWay,
    Pedestrian,
    Debris,
    Congestion,
    FireSmoke,
    Flooding,
    RoadWorks,
    SignalFault,
    Crowd,
    RedLight,
    /// Something blocks traffic, type unknown (detector and probe evidence).
    Blockage,
}

impl IncidentType {
    /// The priority flag of a dispatch to this type (1..=9, higher first): life-threatening
    /// types get an emergency green corridor for the unit sent (issue 17); `None` for the
    /// rest, whose units drive in normal traffic.
    pub fn corridor_priority(self) -> Option<u32> {
        match self {
            IncidentType::FireSmoke => Some(8),
            IncidentType::Collision => Some(7),
            IncidentType::Pedestrian => Some(6),
            _ => None,
        }
    }
    /// Order of the dispatch queue when events wait for a free unit (higher first):
    /// life-threatening types (those with a corridor priority) first, then what blocks
    /// traffic, then the rest.
    pub fn dispatch_priority(self) -> u32 {
        self.corridor_priority().unwrap_or(match self {
            IncidentType::Flooding => 5,
            IncidentType::StalledVehicle | IncidentType::Debris | IncidentType::Blockage | IncidentType::WrongWay => 4,
            IncidentType::SignalFault | IncidentType::Crowd => 3,
            IncidentType::RoadWorks => 2,
            _ => 1,
        })
    }
    pub const ALL: [IncidentType; 14] = [
        IncidentType::Collision,
        IncidentType::StalledVehicle,
        IncidentType::IllegalParking,
        IncidentType::WrongWay,
        IncidentType::Pedestrian,
        IncidentType::Debris,
        IncidentType::Congestion,
        IncidentType::FireSmoke,
        IncidentType::Flooding,
        IncidentType::RoadWorks,
        IncidentType::SignalFault,
        IncidentType::Crowd,
        IncidentType::RedLight,
        IncidentType::Blockage,
    ];

    /// The 12 types the cameras' analytics report: every type but the last two.
    pub const CAMERA: &'static [IncidentType] = Self::ALL.split_at(12).0;

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentType::Collision => "collision",
            IncidentType::StalledVehicle => "stalled_vehicle",
            IncidentType::IllegalParking => "illegal_parking",
            IncidentType::WrongWay => "wrong_way",
            IncidentType::Pedestrian => "pedestrian",
            IncidentType::Debris => "debris",
            IncidentType::Congestion => "congestion",
            IncidentType::FireSmoke => "fire_smoke",
            IncidentType::Flooding => "flooding",
            IncidentType::RoadWorks => "road_works",
            IncidentType::SignalFault => "signal_fault",
            IncidentType::Crowd => "crowd",
            IncidentType::RedLight => "red_light",
            IncidentType::Blockage => "blockage",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentType> {
        IncidentType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Could it penalise a person? Then only an operator may verify it.
    pub fn penalises(self) -> bool {
        matches!(self, IncidentType::IllegalParking | IncidentType::RedLight | IncidentType::WrongWay)
    }

    /// Does it obstruct the carriageway (what detectors and probes can notice)?
    pub fn obstructs(self) -> bool {
        matches!(
            self,
            IncidentType::Collision
                | IncidentType::StalledVehicle
                | IncidentType::IllegalParking
                | IncidentType::Debris
                | IncidentType::FireSmoke
                | IncidentType::Flooding
                | IncidentType::RoadWorks
                | IncidentType::Blockage
        )
    }

    /// Is it an incident (counted by the evaluation), as opposed to congestion?
    pub fn is_incident(self) -> bool {
        self != IncidentType::Congestion
    }

    /// May reports of `self` and `other` describe the same event? Equal types, or
    /// `blockage` with anything obstructing, or congestion with anything obstructing
    /// (an obstruction causes congestion).
    pub fn compatible(self, other: IncidentType) -> bool {
        if self == other {
            return true;
        }
        let vague = |t: IncidentType| matches!(t, IncidentType::Blockage | IncidentType::Congestion);
        (vague(self) && other.obstructs()) || (vague(other) && self.obstructs()) || (vague(self) && vague(other))
    }

    /// The more specific of two compatible types (camera types beat `blockage`, which
    /// beats `congestion`).
    pub fn refine(self, other: IncidentType) -> IncidentType {
        let rank = |t: IncidentType| match t {
            IncidentType::Congestion => 0,
            IncidentType::Blockage => 1,
            _ => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    /// The unit kind sent to it (`None`: nobody is sent, e.g. congestion).
    pub fn responder(self) -> Option<UnitKind> {
        Some(match self {
            IncidentType::Collision => UnitKind::Police,
            IncidentType::StalledVehicle | IncidentType::Debris | IncidentType::Blockage => UnitKind::TowTruck,
            IncidentType::IllegalParking => UnitKind::TowTruck,
            IncidentType::FireSmoke | IncidentType::Flooding => UnitKind::FireEngine,
            IncidentType::Pedestrian => UnitKind::Ambulance,
            IncidentType::WrongWay
            | IncidentType::RoadWorks
            | IncidentType::SignalFault
            | IncidentType::Crowd
            | IncidentType::RedLight => UnitKind::Police,
            IncidentType::Congestion => return None,
        })
    }
}

/// Kinds of response units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitKind {
    Police,
    Ambulance,
    TowTruck,
    FireEngine,
}

impl UnitKind {
    pub const ALL: [UnitKind; 4] = [UnitKind::Police, UnitKind::Ambulance, UnitKind::TowTruck, UnitKind::FireEngine];
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Police => "police",
            UnitKind::Ambulance => "ambulance",
            UnitKind::TowTruck => "tow_truck",
            UnitKind::FireEngine => "fire_engine",
        }
    }
    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Can this unit handle `t`? Its own responder kind, or mutual aid ([`UnitKind::aids`]).
    pub fn suits(self, t: IncidentType) -> bool {
        t.responder() == Some(self) || self.aids(t)
    }
    /// Mutual aid: a unit of another kind that may stand in when none of the type's own
    /// is free. Police attend anything a tow truck would (they secure the scene); a fire
    /// engine attends a collision (rescue and scene safety, as fire services attend road
    /// collisions). A life-threatening event that finds no unit free takes one on its
    /// way to an event that is not (`Core::divert`), so aid cannot starve it.
    pub fn aids(self, t: IncidentType) -> bool {
        match t.responder() {
            Some(UnitKind::TowTruck) => self == UnitKind::Police,
            Some(UnitKind::Police) if t == IncidentType::Collision => self == UnitKind::FireEngine,
            _ => false,
        }
    }
}

/// Where a report came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Loop occupancy, upstream against downstream and across lanes (APID style).
    Occupancy,
    /// Probe speeds against their learned baseline.
    SpeedDrop,
    /// Approach queue reaching the upstream junction.
    Spillback,
    /// A stopped vehicle far up an approach with too few waiting behind the stop line to
    /// make a queue that long: something stops traffic mid-road.
    QueueGap,
    /// Controller event log: missing greens, max-out streaks, a dark controller.
    SignalLog,
    /// Controller detector log (ATSPM 81/82): one lane's stop-bar detector gone quiet
    /// while the other lanes of its road keep actuating theirs.
    DetectorLog,
    /// Input–output counting on an exit road: vehicles its upstream junction's camera
    /// sent in that never reached its loops.
    FlowBalance,
    /// Camera video analytics.
    Camera,
    /// A citizen.
    Citizen,
}

impl SourceKind {
    pub const ALL: [SourceKind; 9] = [
        SourceKind::Occupancy,
        SourceKind::SpeedDrop,
        SourceKind::Spillback,
        SourceKind::QueueGap,
        SourceKind::SignalLog,
        SourceKind::DetectorLog,
        SourceKind::FlowBalance,
        SourceKind::Camera,
        SourceKind::Citizen,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Occupancy => "occupancy",
            SourceKind::SpeedDrop => "speed_drop",
            SourceKind::Spillback => "spillback",
            SourceKind::QueueGap => "queue_gap",
            SourceKind::SignalLog => "signal_log",
            SourceKind::DetectorLog => "detector_log",
            SourceKind::FlowBalance => "flow_balance",
            SourceKind::Camera => "camera",
            SourceKind::Citizen => "citizen",
        }
    }
}

/// One piece of evidence that something happened somewhere.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub time: f64,
    pub kind: IncidentType,
    pub source: SourceKind,
    /// Device or reporter (`loop:road_1_0_1`, `camera:5`, `citizen`).
    pub origin: String,
    /// Network metres.
    pub pos: Point,
    /// The road it is on, when known.
    pub road: Option<RoadId>,
    /// 0..=1.
    pub confidence: f64,
    /// Snapshot or photo reference.
    pub reference: Option<String>,
    /// Free text (citizen) or the detector's reasoning.
    pub text: String,
}

/// Who made a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    System,
    Operator(String),
    Unit(String),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::System => "system",
            Actor::Operator(_) => "operator",
            Actor::Unit(_) => "unit",
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Actor::System => "system",
            Actor::Operator(n) | Actor::Unit(n) => n,
        }
    }
}

/// Lifecycle status of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Detected,
    Verified,
    Dispatched,
    OnScene,
    Cleared,
    Closed,
    /// An operator said it is not an incident (terminal).
    Rejected,
    /// Folded into another event (terminal).
    Merged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Detected => "detected",
            Status::Verified => "verified",
            Status::Dispatched => "dispatched",
            Status::OnScene => "on_scene",
            Status::Cleared => "cleared",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
            Status::Merged => "merged",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Detected,
            Status::Verified,
            Status::Dispatched,
            Status::OnScene,
            Status::Cleared,
            Status::Closed,
            Status::Rejected,
            Status::Merged,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
    /// No further transition.
    pub fn terminal(self) -> bool {
        matches!(self, Status::Closed | Status::Rejected | Status::Merged)
    }
    /// Still needs attention (shown as open).
    pub fn open(self) -> bool {
        !self.terminal()
    }
}

/// Why a transition was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("event {id}: cannot go from {from} to {to}")]
    Illegal { id: u64, from: &'static str, to: &'static str },
    #[error("event {id}: {kind} could penalise a person, so only an operator may verify it (got {actor})")]
    NeedsOperator { id: u64, kind: &'static str, actor: &'static str },
    #[error("event {id}: {kind} needs an operator's verification before dispatch")]
    Unverified { id: u64, kind: &'static str },
    #[error("event {0} not found")]
    NotFound(u64),
    #[error("unit {0:?} not found")]
    UnknownUnit(String),
    #[error("unit {unit:?} has no alert for event {id}")]
    NotAssigned { unit: String, id: u64 },
    #[error("{0}")]
    Invalid(String),
}

/// Whether `from → to` is a lifecycle step (before the actor rules).
pub fn step_allowed(from: Status, to: Status) -> bool {
    use Status::*;
    match (from, to) {
        (Detected, Verified) => true,
        // Types that penalise nobody may be dispatched straight from detection (the
        // system verifies them in the same step; see `Incidents`).
        (Verified, Dispatched) => true,
        // A reassignment or an escalation re-dispatches.
        (Dispatched, Dispatched) => true,
        (Dispatched, OnScene) => true,
        (OnScene, Cleared) => true,
        // An operator may clear without a unit (it went away by itself).
        (Detected | Verified | Dispatched, Cleared) => true,
        (Cleared, Closed) => true,
        (Detected | Verified, Rejected) => true,
        (Detected | Verified | Dispatched | OnScene | Cleared, Merged) => true,
        // An operator may close a verified event no one needs to attend.
        (Verified, Closed) => true,
        _ => false,
    }
}

/// One timeline entry: a transition (or a note at the same status: reassignment,
/// escalation, a merged report), timestamped and attributed.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub time: f64,
    pub from: Option<Status>,
    pub to: Status,
    pub actor: Actor,
    pub note: String,
}
