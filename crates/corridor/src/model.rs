//! What a corridor is: the request, the plan per signal, the live state and the report.

use twin::{IntersectionId, RoadId, VehicleId};

/// The kind of vehicle a corridor is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VehicleType {
    Ambulance,
    FireEngine,
    Police,
}

impl VehicleType {
    pub const ALL: [VehicleType; 3] = [VehicleType::Ambulance, VehicleType::FireEngine, VehicleType::Police];
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleType::Ambulance => "ambulance",
            VehicleType::FireEngine => "fire_engine",
            VehicleType::Police => "police",
        }
    }
    pub fn parse(s: &str) -> Option<VehicleType> {
        VehicleType::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Who asked for a corridor (the business rule: a dispatched unit with a priority flag,
/// or an operator with the right).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    /// A dispatch of the incident capability: unit `unit` sent to incident `incident`.
    Dispatch { unit: String, incident: u64 },
    /// An operator (principal name and department) allowed to start corridors.
    Operator { principal: String, department: Option<String> },
    /// An experiment (`citybrain eval corridor`), never the live brain.
    Evaluation,
}

impl Requester {
    pub fn describe(&self) -> String {
        match self {
            Requester::Dispatch { unit, incident } => format!("dispatch of unit {unit} to incident {incident}"),
            Requester::Operator { principal, department } => match department {
                Some(d) => format!("operator {principal} ({d})"),
                None => format!("operator {principal}"),
            },
            Requester::Evaluation => "evaluation".into(),
        }
    }
}

/// Highest priority a request may carry.
pub const MAX_PRIORITY: u32 = 9;

/// A request for a corridor.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub origin: RoadId,
    pub destination: RoadId,
    pub vehicle: VehicleType,
    /// 1 (lowest) ..= [`MAX_PRIORITY`]; the higher wins a signal two corridors want.
    pub priority: u32,
    pub requester: Requester,
    /// Why, in words the public may read (no personal data).
    pub reason: String,
}

/// Where a corridor stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Accepted, the vehicle not yet in the network.
    Planned,
    Active,
    /// The vehicle arrived; signals recovering or done.
    Arrived,
    /// The route could not be driven (the vehicle could not be spawned).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Active => "active",
            Status::Arrived => "arrived",
            Status::Failed => "failed",
        }
    }
}

/// What the corridor does at one signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The vehicle is far: normal control.
    Ahead,
    /// Preemption call placed; the signal is moving to (or holding) the vehicle's green.
    Called,
    /// The vehicle passed; serving the queues the corridor built.
    Recovering,
    /// Back to normal control.
    Done,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ahead => "ahead",
            Stage::Called => "called",
            Stage::Recovering => "recovering",
            Stage::Done => "done",
        }
    }
}

/// One signalised intersection on the route.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalPlan {
    pub intersection: IntersectionId,
    /// Position of the intersection in the safety layer's junctions.
    pub junction: usize,
    /// The vehicle's movement (local index).
    pub movement: usize,
    /// Index in the route of the road that ends at this signal.
    pub route_index: usize,
    pub stage: Stage,
    /// Predicted arrival at the stop line (city seconds), updated every step.
    pub eta: f64,
    /// Seconds before the predicted arrival at which the call is placed (recomputed).
    pub lead_s: f64,
    pub called_at: Option<f64>,
    /// When the vehicle's movement turned green (or was found green) after the call.
    pub green_at: Option<f64>,
    /// When the vehicle crossed the stop line.
    pub passed_at: Option<f64>,
    /// The prediction made 60 s before the actual arrival (filled when it passes).
    pub predicted_at_60s: Option<f64>,
    pub recovery_end: Option<f64>,
    /// Vehicle-seconds waited by others at this intersection while it was preempted.
    pub cost_veh_s: f64,
    /// (time, predicted arrival): one per step while the vehicle approaches.
    pub(crate) history: Vec<(f64, f64)>,
    /// Recovery: the movement being served, when it began, movements already served.
    pub(crate) recovery: Option<(usize, f64)>,
    pub(crate) recovered: Vec<usize>,
}

/// Seconds a corridor's vehicle may stand still with its green held before the corridor
/// gives its signals back (something other than the signal holds it: a crash, a queue
/// that cannot move); it calls again once the vehicle moves.
pub const STUCK_S: f64 = 30.0;

/// A corridor: the request, the route, the vehicle and the plan per signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Corridor {
    pub id: u64,
    pub request: Request,
    pub status: Status,
    pub route: Vec<RoadId>,
    pub vehicle: Option<VehicleId>,
    pub started: f64,
    pub arrived: Option<f64>,
    /// The route's live travel time when it was planned: the prediction without a corridor.
    pub predicted_without_s: f64,
    /// The vehicle's free-flow time on the route (at its own desired speed).
    pub free_flow_s: f64,
    pub signals: Vec<SignalPlan>,
    /// Position (lon, lat) and progress of the vehicle at the last step.
    pub lonlat: Option<(f64, f64)>,
    /// The same position in network metres.
    pub point: Option<twin::Point>,
    pub progress: f64,
    pub failure: Option<String>,
    /// Since when the vehicle stands still (and whether its calls were given back).
    pub(crate) stopped_since: Option<f64>,
    pub(crate) stuck: bool,
}

impl Corridor {
    /// The vehicle's travel time so far (or in total once arrived).
    pub fn travel_time(&self, now: f64) -> f64 {
        self.arrived.unwrap_or(now) - self.started
    }
    /// Vehicle-seconds waited by others at the corridor's signals while preempted.
    pub fn cost_veh_s(&self) -> f64 {
        self.signals.iter().map(|s| s.cost_veh_s).sum()
    }
    /// Whether every signal is back to normal control.
    pub fn finished(&self) -> bool {
        matches!(self.status, Status::Arrived | Status::Failed) && self.signals.iter().all(|s| s.stage == Stage::Done)
    }
    /// Per signal with a passage: predicted-at-60-s minus actual arrival, seconds.
    pub fn prediction_errors(&self) -> Vec<f64> {
        self.signals.iter().filter_map(|s| Some(s.predicted_at_60s? - s.passed_at?)).collect()
    }
}
