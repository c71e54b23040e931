//! A small hand-built network for tests here and in downstream crates (`state`,
//! `store`, `server`): a two-way corridor A - B - C with a signal at B.
//!
//! - Intersections: 0 `A` (virtual, x=0), 1 `B` (signalised, x=300), 2 `C` (virtual, x=600).
//! - Roads (all 300 m, speed limit 16.67 m/s): 0 `AB` (2 lanes), 1 `BC`, 2 `CB`, 3 `BA` (1 lane each).
//! - Movements at B: 0 `AB`->`BC` straight, 1 `CB`->`BA` straight.
//! - Plan at B: phase 0 intergreen (5 s, nothing green), phase 1 (30 s) movement 0,
//!   phase 2 (30 s) movement 1.

use city::spec::{IntersectionSpec, LaneLinkSpec, LaneSpec, MovementSpec, NetworkSpec, PhaseSpec, RoadSpec};
use city::{Network, Point, Turn};

/// Speed limit of every corridor lane, m/s.
pub const LIMIT: f64 = 16.67;

/// Build the corridor network.
pub fn corridor() -> Network {
    let inter = |name: &str, x: f64, virt: bool| IntersectionSpec {
        name: name.into(),
        point: Point::new(x, 0.0),
        width: if virt { 0.0 } else { 10.0 },
        is_virtual: virt,
        movements: vec![],
        phases: vec![],
    };
    let mut spec = NetworkSpec {
        intersections: vec![inter("A", 0.0, true), inter("B", 300.0, false), inter("C", 600.0, true)],
        roads: vec![],
        georef: Default::default(),
    };
    let road = |name: &str, from: usize, to: usize, x0: f64, x1: f64, lanes: usize| RoadSpec {
        name: name.into(),
        from,
        to,
        points: vec![Point::new(x0, 0.0), Point::new(x1, 0.0)],
        lanes: vec![LaneSpec { width: 4.0, max_speed: LIMIT }; lanes],
    };
    spec.roads.push(road("AB", 0, 1, 0.0, 300.0, 2));
    spec.roads.push(road("BC", 1, 2, 300.0, 600.0, 1));
    spec.roads.push(road("CB", 2, 1, 600.0, 300.0, 1));
    spec.roads.push(road("BA", 1, 0, 300.0, 0.0, 1));
    let mv = |from: usize, to: usize| MovementSpec {
        turn: Turn::Straight,
        from_road: from,
        to_road: to,
        lane_links: vec![LaneLinkSpec { from_lane: 0, to_lane: 0, points: vec![] }],
    };
    let b = &mut spec.intersections[1];
    b.movements = vec![mv(0, 1), mv(2, 3)];
    b.phases = vec![
        PhaseSpec { duration: 5.0, movements: vec![] },
        PhaseSpec { duration: 30.0, movements: vec![0] },
        PhaseSpec { duration: 30.0, movements: vec![1] },
    ];
    Network::build(&spec).expect("corridor builds")
}
