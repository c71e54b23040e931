//! Incidents in the twin, with ground truth: what can go wrong on the network, when and
//! where (pure data), read from a scenario file ([`IncidentPlan::from_json`]) or drawn at
//! random with a seed ([`IncidentPlan::random`]), and written out as the ground-truth CSV
//! that `citybrain eval incidents --ground-truth` scores detections against
//! ([`ground_truth_csv`]). The engine applies a plan with [`crate::Sim::schedule_incidents`]
//! (model choices: `engine/incidents.rs`).
//!
//! Decoys are congestion without an incident: a demand surge on a road (extra vehicles
//! driving from it straight on to the network's edge). They are not incidents, so the
//! ground truth leaves them out: a detector that flags one raises a false alarm.

pub mod bound;
#[cfg(test)]
mod bound_tests;
mod json;
mod random;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use city::geom::point_at;
use city::ids::{IntersectionId, RoadId};
use city::network::Network;

pub use random::RandomIncidents;

/// What kind of incident (the ground truth's `type` column uses [`IncidentKind::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncidentKind {
    /// A collision blocking one or more lanes.
    Crash,
    /// A broken-down vehicle blocking one lane.
    Stalled,
    /// A vehicle parked in the kerb (outermost) lane.
    IllegalParking,
    /// Lanes closed for works, usually for long.
    RoadWorks,
    /// A junction's signals dark or flashing ([`SignalFault`]).
    SignalFailure,
    /// A flooded road: the whole road is closed.
    Flood,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 6] = [
        IncidentKind::Crash,
        IncidentKind::Stalled,
        IncidentKind::IllegalParking,
        IncidentKind::RoadWorks,
        IncidentKind::SignalFailure,
        IncidentKind::Flood,
    ];

    /// The name used in files: `crash`, `stalled`, `illegal_parking`, `road_works`,
    /// `signal_failure`, `flood`.
    pub fn name(self) -> &'static str {
        match self {
            IncidentKind::Crash => "crash",
            IncidentKind::Stalled => "stalled",
            IncidentKind::IllegalParking => "illegal_parking",
            IncidentKind::RoadWorks => "road_works",
            IncidentKind::SignalFailure => "signal_failure",
            IncidentKind::Flood => "flood",
        }
    }

    pub fn from_name(s: &str) -> Option<IncidentKind> {
        IncidentKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Length of road a lane-blocking incident of this kind occupies by default (metres).
    pub fn default_length_m(self) -> f64 {
        match self {
            IncidentKind::Crash => 10.0,
            IncidentKind::Stalled | IncidentKind::IllegalParking => 6.0,
            IncidentKind::RoadWorks => 30.0,
            IncidentKind::SignalFailure | IncidentKind::Flood => 0.0,
        }
    }
}

/// How a failed signal behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalFault {
    /// No light at all: every approach is treated as an all-way stop.
    Dark,
    /// Flashing amber: every approach may go, cautiously.
    Flashing,
}

impl SignalFault {
    pub fn name(self) -> &'static str {
        match self {
            SignalFault::Dark => "dark",
            SignalFault::Flashing => "flashing",
        }
    }
}

/// Where an incident is.
#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    /// Lanes of a road (`lanes`: lane indices in the road, 0 the innermost), blocked from
    /// `pos_m` (from the road's start: where vehicles stop) for `length_m` downstream.
    Lanes { road: RoadId, lanes: Vec<u32>, pos_m: f64, length_m: f64 },
    /// A whole road (closed).
    Road { road: RoadId },
    /// A junction (its signals).
    Junction { intersection: IntersectionId, fault: SignalFault },
}

/// One incident: what, where, from `start_s` until `end_s` (simulated seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub id: u32,
    pub kind: IncidentKind,
    pub location: Location,
    pub start_s: f64,
    pub end_s: f64,
}

/// Congestion with no incident: `vehicles_per_hour` extra vehicles enter at the start of
/// `road` between `start_s` and `end_s` and drive straight on to the network's edge.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoy {
    pub id: u32,
    pub road: RoadId,
    pub start_s: f64,
    pub end_s: f64,
    pub vehicles_per_hour: f64,
}

/// Everything scheduled to go wrong (and the decoys) in one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IncidentPlan {
    pub incidents: Vec<Incident>,
    pub decoys: Vec<Decoy>,
}

/// A bad incident file or an incident that does not fit the network: the message names
/// the JSON path of the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IncidentError {
    #[error("incident file: invalid JSON: {0}")]
    Json(String),
    #[error("incident file: {path}: {message}")]
    Field { path: String, message: String },
}

impl IncidentError {
    pub(crate) fn field(path: impl Into<String>, message: impl Into<String>) -> IncidentError {
        IncidentError::Field { path: path.into(), message: message.into() }
    }
}

impl Incident {
    /// The road the ground truth names (for a signal failure, the junction's first
    /// incoming road) and the position on it.
    pub fn road_and_pos(&self, net: &Network) -> (Option<RoadId>, f64) {
        match &self.location {
            Location::Lanes { road, pos_m, .. } => (Some(*road), *pos_m),
            Location::Road { road } => (Some(*road), net.road_length(*road) / 2.0),
            Location::Junction { intersection, .. } => {
                let r = net.intersection(*intersection).roads.iter().copied().find(|&r| net.road(r).to == *intersection);
                (r, r.map_or(0.0, |r| net.road_length(r)))
            }
        }
    }

    /// Where it is on Earth (WGS84 lon, lat) through the network's georeference.
    pub fn lonlat(&self, net: &Network) -> (f64, f64) {
        let p = match &self.location {
            Location::Lanes { road, lanes, pos_m, .. } => {
                let lane = net.road(*road).first_lane.0 + lanes.first().copied().unwrap_or(0);
                point_at(&net.lanes[lane as usize].points, *pos_m)
            }
            Location::Road { road } => point_at(&net.road(*road).points, net.road_length(*road) / 2.0),
            Location::Junction { intersection, .. } => net.intersection(*intersection).point,
        };
        net.georef.to_lonlat(p)
    }

    /// Lane indices it blocks (every lane for a flood, none for a signal failure).
    pub fn lane_indices(&self, net: &Network) -> Vec<u32> {
        match &self.location {
            Location::Lanes { lanes, .. } => lanes.clone(),
            Location::Road { road } => (0..net.road(*road).lane_count).collect(),
            Location::Junction { .. } => Vec::new(),
        }
    }
}

/// The ground truth as CSV, one row per incident in plan order, with the columns
/// `id,type,road,lanes,pos_m,lon,lat,start_s,end_s`: `road` is the road's name, `lanes`
/// its blocked lane indices joined by `;` (empty for a signal failure, whose `road` is
/// the junction's first incoming road and `pos_m` that road's length, i.e. the stop
/// line). Decoys are not incidents and are not listed.
pub fn ground_truth_csv(net: &Network, plan: &IncidentPlan) -> String {
    let mut out = String::from("id,type,road,lanes,pos_m,lon,lat,start_s,end_s\n");
    for inc in &plan.incidents {
        let (road, pos) = inc.road_and_pos(net);
        let road = road.map_or(String::new(), |r| csv_field(&net.road(r).name));
        let lanes: Vec<String> = inc.lane_indices(net).iter().map(|l| l.to_string()).collect();
        let (lon, lat) = inc.lonlat(net);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{:.7},{:.7},{},{}",
            inc.id,
            inc.kind.name(),
            road,
            lanes.join(";"),
            pos,
            lon,
            lat,
            inc.start_s,
            inc.end_s
        );
    }
    out
}

/// Quote a CSV field if it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The roads a decoy's surge drives: from `road`, straight on (or the first movement
/// there is) until the network's edge, at most `max_roads` roads.
pub fn surge_route(net: &Network, road: RoadId, max_roads: usize) -> Vec<RoadId> {
    let mut route = vec![road];
    let mut cur = road;
    while route.len() < max_roads {
        let to = net.road(cur).to;
        let inter = net.intersection(to);
        let mut next = None;
        for &m in &inter.movements {
            let mv = net.movement(m);
            if mv.from_road != cur || route.contains(&mv.to_road) {
                continue;
            }
            if next.is_none() || mv.turn == city::Turn::Straight {
                next = Some(mv.to_road);
            }
            if mv.turn == city::Turn::Straight {
                break;
            }
        }
        match next {
            Some(r) => {
                route.push(r);
                cur = r;
            }
            None => break,
        }
    }
    route
}
