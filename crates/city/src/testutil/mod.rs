//! Small hand-built scenarios shared by unit tests, here and (through the `testutil`
//! feature, a dev-dependency only) in the crates built on the city model.

use crate::demand::{Demand, Flow, VehicleParams};
use crate::ids::RoadId;
use crate::network::Network;
use crate::spec::*;
use crate::{Point, Scenario};

/// The corridor's spec: virtual A -> signal B -> virtual C with the given lanes on both
/// roads, one straight movement (lane 0 to lane 0) and a 30 s green / 30 s red plan at B.
pub fn corridor_spec(lanes: Vec<LaneSpec>) -> NetworkSpec {
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
    let road = |name: &str, from: usize, to: usize, x0: f64, x1: f64| RoadSpec {
        name: name.into(),
        from,
        to,
        points: vec![Point::new(x0, 0.0), Point::new(x1, 0.0)],
        lanes: lanes.clone(),
    };
    spec.roads.push(road("AB", 0, 1, 0.0, 300.0));
    spec.roads.push(road("BC", 1, 2, 300.0, 600.0));
    spec.intersections[1].movements.push(MovementSpec {
        turn: Turn::Straight,
        from_road: 0,
        to_road: 1,
        lane_links: vec![LaneLinkSpec { from_lane: 0, to_lane: 0, points: vec![] }],
    });
    spec.intersections[1].phases =
        vec![PhaseSpec { duration: 30.0, movements: vec![0] }, PhaseSpec { duration: 30.0, movements: vec![] }];
    spec
}

/// A straight corridor: virtual A -> signal B -> virtual C, one lane each way of travel,
/// with a 30 s green / 30 s red plan at B.
pub fn corridor(flows: Vec<(f64, f64, f64)>) -> Scenario {
    let spec = corridor_spec(vec![LaneSpec { width: 4.0, max_speed: 16.67 }]);
    let network = Network::build(&spec).expect("corridor builds");
    let route = vec![RoadId(0), RoadId(1)];
    let flows = flows
        .into_iter()
        .map(|(interval, start, end)| Flow {
            params: VehicleParams::default(),
            route: route.clone(),
            interval,
            start,
            end: Some(end),
            depart: Default::default(),
        })
        .collect();
    Scenario { network, demand: Demand { flows } }
}

/// `s` with the bytes `cut .. cut + len` (clamped, `cut` taken modulo the length)
/// replaced by `repl`: the corruption the parser proptests apply to valid files.
pub fn splice(s: &str, cut: usize, len: usize, repl: &str) -> String {
    let b = s.as_bytes();
    let at = cut % (b.len() + 1);
    let end = (at + len).min(b.len());
    format!("{}{}{}", String::from_utf8_lossy(&b[..at]), repl, String::from_utf8_lossy(&b[end..]))
}

/// A CBEngine `roadnet.txt`: a signalised cross at intersection 1 with four boundary
/// arms. The south segment is written from the boundary node inwards to exercise the
/// direction handling.
pub const CBENGINE_CROSS_ROADNET: &str = include_str!("cross_roadnet.txt");

/// A CBEngine `flow.txt` for [`CBENGINE_CROSS_ROADNET`]: 11 + 6 + 1 vehicles in the hour.
pub const CBENGINE_CROSS_FLOW: &str = include_str!("cross_flow.txt");

/// A SUMO `.net.xml`: a signalised cross `C` with four dead-end arms of two lanes each.
/// SUMO lane 0 is the rightmost lane. One U-turn (dropped) and one connection with
/// internal-lane geometry. Two programs for `C`: the one loaded last (30/3/30 s) runs.
pub const SUMO_CROSS_NET: &str = include_str!("cross.net.xml");

/// A SUMO `.rou.xml` for [`SUMO_CROSS_NET`]: vehicles, flows of every repeat kind and
/// a person (ignored).
pub const SUMO_CROSS_ROUTES: &str = include_str!("cross.rou.xml");
