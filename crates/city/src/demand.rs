//! Travel demand: vehicle parameters and flows (a vehicle released every `interval`
//! seconds from `start` to `end`, both inclusive, along a fixed route).

use crate::ids::RoadId;
use crate::network::{BuildError, Network};

/// Vehicle kinematics. [`Default`] gives CityFlow's defaults for missing fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleParams {
    pub length: f64,
    pub width: f64,
    pub max_pos_acc: f64,
    pub max_neg_acc: f64,
    pub usual_pos_acc: f64,
    pub usual_neg_acc: f64,
    pub min_gap: f64,
    pub max_speed: f64,
    pub headway_time: f64,
    pub yield_distance: f64,
    pub turn_speed: f64,
}

impl Default for VehicleParams {
    fn default() -> Self {
        VehicleParams {
            length: 5.0,
            width: 2.0,
            max_pos_acc: 4.5,
            max_neg_acc: 4.5,
            usual_pos_acc: 2.5,
            usual_neg_acc: 2.5,
            min_gap: 2.0,
            max_speed: 16.66667,
            headway_time: 1.0,
            yield_distance: 5.0,
            turn_speed: 8.3333,
        }
    }
}

impl VehicleParams {
    /// Check that every parameter is usable; `path` prefixes the field names in errors.
    pub fn validate(&self, path: &str) -> Result<(), BuildError> {
        let positive = [
            ("length", self.length),
            ("width", self.width),
            ("maxPosAcc", self.max_pos_acc),
            ("maxNegAcc", self.max_neg_acc),
            ("usualPosAcc", self.usual_pos_acc),
            ("usualNegAcc", self.usual_neg_acc),
            ("maxSpeed", self.max_speed),
            ("turnSpeed", self.turn_speed),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(BuildError::new(format!("{path}.{name}"), format!("must be a positive number, got {v}")));
            }
        }
        for (name, v) in [("minGap", self.min_gap), ("headwayTime", self.headway_time), ("yieldDistance", self.yield_distance)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(BuildError::new(format!("{path}.{name}"), format!("must be a non-negative number, got {v}")));
            }
        }
        Ok(())
    }
}

/// How a vehicle enters its first lane. [`Default`] is CityFlow's rule: at rest, in a lane
/// chosen among those that lead on along the route.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Depart {
    pub speed: DepartSpeed,
    pub lane: DepartLane,
    pub pos: DepartPos,
}

/// Where along its first lane a vehicle enters (SUMO's `departPos`), as the position of
/// its front from the lane's start.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum DepartPos {
    /// CityFlow's entry at the lane's start (SUMO's `"base"`, the default).
    #[default]
    Base,
    /// This many metres from the lane's start; negative: from its end. Capped to the
    /// lane.
    Given(f64),
    /// A uniform draw along the lane at every attempt (`"random"`).
    Random,
    /// The first free place: behind the lane's last vehicle, else the gap nearest the
    /// lane's start that is safe for the vehicle and the one behind it (`"free"`).
    Free,
    /// As `Random` (ten draws), then as `Free` (`"random_free"`).
    RandomFree,
    /// SUMO's `"last"` (right behind the lane's last vehicle); the twin enters it at the
    /// lane's start.
    Last,
}

impl DepartPos {
    /// SUMO's `departPos` attribute; `None` if it is not one the twin models (`"stop"`,
    /// `"splitFront"` and unknown keywords).
    pub fn parse_sumo(s: &str) -> Option<DepartPos> {
        Some(match s.trim() {
            "base" => DepartPos::Base,
            "random" => DepartPos::Random,
            "free" => DepartPos::Free,
            "random_free" => DepartPos::RandomFree,
            "last" => DepartPos::Last,
            x => DepartPos::Given(x.parse::<f64>().ok().filter(|v| v.is_finite())?),
        })
    }
}

/// The lane a vehicle enters its first road on (SUMO's `departLane`). The rules that
/// look at the traffic ([`DepartLane::Free`], [`DepartLane::Allowed`],
/// [`DepartLane::Best`], [`DepartLane::Random`]) choose again at every attempt to enter,
/// so a vehicle waiting to enter takes the lane that has room when it enters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DepartLane {
    /// CityFlow's rule: a random lane among those leading on along the route (with
    /// strategic lanes, those that continue it two roads ahead), drawn at release.
    #[default]
    Route,
    /// This lane index, counted as SUMO does (0 is the rightmost lane); an index the
    /// road does not have falls back to [`DepartLane::Route`].
    Given(u32),
    /// The rightmost lane (`"first"`, SUMO's default).
    First,
    /// A random lane of the road (`"random"`).
    Random,
    /// The lane of the road with the most room behind its last vehicle (`"free"`).
    Free,
    /// As `Free`, among the lanes that lead to the route's next road (`"allowed"`).
    Allowed,
    /// As `Free`, among the lanes that serve the route longest without a lane change
    /// (`"best"`).
    Best,
}

impl DepartLane {
    /// SUMO's `departLane` attribute; `None` if it is not one of SUMO's values.
    pub fn parse_sumo(s: &str) -> Option<DepartLane> {
        Some(match s.trim() {
            "first" => DepartLane::First,
            "random" => DepartLane::Random,
            "free" => DepartLane::Free,
            "allowed" => DepartLane::Allowed,
            "best" => DepartLane::Best,
            x => DepartLane::Given(x.parse::<u32>().ok()?),
        })
    }

    /// Whether the lane is chosen again at every attempt to enter.
    pub fn is_dynamic(&self) -> bool {
        matches!(self, DepartLane::Random | DepartLane::Free | DepartLane::Allowed | DepartLane::Best)
    }
}

/// The speed a vehicle enters at (SUMO's `departSpeed`). Every choice is capped at the
/// vehicle's and the lane's top speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DepartSpeed {
    /// This speed in m/s; 0 is CityFlow's entry at rest. Above 0 the vehicle waits until
    /// the speed is safe behind the lane's last vehicle (SUMO delays such an insertion).
    Given(f64),
    /// The highest speed that is safe behind the lane's last vehicle and before a red
    /// signal at the lane's end (`"max"`).
    Max,
    /// The vehicle's top speed on the lane, waiting until it is safe (`"desired"`,
    /// `"speedLimit"`).
    Desired,
    /// A uniform draw up to the top speed, lowered to a safe one (`"random"`).
    Random,
    /// The speed of the lane's last vehicle, or the top speed on an empty lane, lowered
    /// to a safe one (`"last"`).
    Last,
    /// The mean speed of the lane's vehicles, or the top speed on an empty lane, lowered
    /// to a safe one (`"avg"`).
    Avg,
}

impl Default for DepartSpeed {
    fn default() -> Self {
        DepartSpeed::Given(0.0)
    }
}

impl DepartSpeed {
    /// SUMO's `departSpeed` attribute; `None` if it is not one of SUMO's values.
    pub fn parse_sumo(s: &str) -> Option<DepartSpeed> {
        Some(match s.trim() {
            "max" => DepartSpeed::Max,
            "desired" | "speedLimit" => DepartSpeed::Desired,
            "random" => DepartSpeed::Random,
            "last" => DepartSpeed::Last,
            "avg" => DepartSpeed::Avg,
            x => DepartSpeed::Given(x.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)?),
        })
    }

    /// Whether this is CityFlow's entry at rest.
    pub fn at_rest(&self) -> bool {
        *self == DepartSpeed::Given(0.0)
    }
}

#[derive(Clone, Debug)]
pub struct Flow {
    pub params: VehicleParams,
    pub route: Vec<RoadId>,
    /// Seconds between releases.
    pub interval: f64,
    /// First release time in seconds.
    pub start: f64,
    /// Last release time in seconds, inclusive; `None` means no end.
    pub end: Option<f64>,
    /// How its vehicles enter.
    pub depart: Depart,
}

/// All flows of a scenario, in file order.
#[derive(Clone, Debug, Default)]
pub struct Demand {
    pub flows: Vec<Flow>,
}

impl Demand {
    /// Number of vehicles the flows release in `[0, horizon]` seconds.
    pub fn vehicles_until(&self, horizon: f64) -> u64 {
        self.flows
            .iter()
            .map(|f| {
                let end = f.end.unwrap_or(horizon).min(horizon);
                if end < f.start {
                    0
                } else {
                    ((end - f.start) / f.interval).floor() as u64 + 1
                }
            })
            .sum()
    }
}

/// Check a route against the network: every consecutive pair of roads must be joined
/// by a movement, and the first road must have a lane leading onto the second.
pub fn validate_route(net: &Network, route: &[RoadId], path: &str) -> Result<(), BuildError> {
    if route.is_empty() {
        return Err(BuildError::new(path, "route is empty"));
    }
    for (k, w) in route.windows(2).enumerate() {
        if !net.connected(w[0], w[1]) {
            return Err(BuildError::new(
                format!("{path}[{}]", k + 1),
                format!(
                    "road {:?} does not connect to road {:?} (no lane link between them)",
                    net.road(w[0]).name,
                    net.road(w[1]).name
                ),
            ));
        }
    }
    Ok(())
}

/// Check flow timing fields.
pub fn validate_flow_timing(flow: &Flow, path: &str) -> Result<(), BuildError> {
    if !(flow.interval.is_finite() && flow.interval > 0.0) {
        return Err(BuildError::new(format!("{path}.interval"), format!("must be a positive number, got {}", flow.interval)));
    }
    if !(flow.start.is_finite() && flow.start >= 0.0) {
        return Err(BuildError::new(format!("{path}.startTime"), format!("must be a non-negative number, got {}", flow.start)));
    }
    if let Some(e) = flow.end {
        if !e.is_finite() {
            return Err(BuildError::new(format!("{path}.endTime"), format!("must be a number, got {e}")));
        }
    }
    Ok(())
}
