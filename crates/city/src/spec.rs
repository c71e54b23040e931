//! The importer-neutral description of a road network: what a file says, before any
//! geometry is derived. Every importer (CityFlow JSON, CBEngine text, the `gen`
//! generator) produces a [`NetworkSpec`]; [`crate::Network::build`] validates it and
//! derives lanes, lane-link geometry and crossing points exactly once.
//!
//! Indices in a spec are positions in its own `Vec`s, which lets an importer whose
//! arrays mirror the file (CityFlow) report errors with the file's own JSON path.

use crate::geo::Georef;
use crate::geom::Point;

/// The kind of turn a movement makes. The discriminants are CityFlow's priorities:
/// straight beats left beats right at a crossing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Turn {
    Right = 1,
    Left = 2,
    Straight = 3,
}

impl Turn {
    /// CityFlow's `type` string.
    pub fn as_cityflow(self) -> &'static str {
        match self {
            Turn::Right => "turn_right",
            Turn::Left => "turn_left",
            Turn::Straight => "go_straight",
        }
    }
    pub fn from_cityflow(s: &str) -> Option<Turn> {
        match s {
            "turn_right" => Some(Turn::Right),
            "turn_left" => Some(Turn::Left),
            "go_straight" => Some(Turn::Straight),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct NetworkSpec {
    pub intersections: Vec<IntersectionSpec>,
    pub roads: Vec<RoadSpec>,
    /// Where the plane's metres are on Earth; the default is an assumed local plane at
    /// [`crate::geo::DEFAULT_ORIGIN`].
    pub georef: Georef,
}

#[derive(Clone, Debug)]
pub struct IntersectionSpec {
    pub name: String,
    pub point: Point,
    /// Junction box half-size in metres: lanes stop this far from the centre.
    pub width: f64,
    /// Boundary node without a signal or movements.
    pub is_virtual: bool,
    pub movements: Vec<MovementSpec>,
    pub phases: Vec<PhaseSpec>,
}

#[derive(Clone, Debug)]
pub struct RoadSpec {
    pub name: String,
    pub from: usize,
    pub to: usize,
    /// Centre line, at least two points.
    pub points: Vec<Point>,
    /// Lane 0 is the innermost (leftmost) lane.
    pub lanes: Vec<LaneSpec>,
}

#[derive(Clone, Copy, Debug)]
pub struct LaneSpec {
    pub width: f64,
    /// Speed limit in m/s.
    pub max_speed: f64,
}

#[derive(Clone, Debug)]
pub struct MovementSpec {
    pub turn: Turn,
    pub from_road: usize,
    pub to_road: usize,
    pub lane_links: Vec<LaneLinkSpec>,
}

#[derive(Clone, Debug)]
pub struct LaneLinkSpec {
    pub from_lane: usize,
    pub to_lane: usize,
    /// Geometry through the junction; empty means "derive a Bézier curve" as CityFlow does.
    pub points: Vec<Point>,
}

#[derive(Clone, Debug)]
pub struct PhaseSpec {
    /// Seconds the phase lasts in the fixed-time plan.
    pub duration: f64,
    /// Indices into the intersection's `movements` that have green.
    pub movements: Vec<usize>,
}
