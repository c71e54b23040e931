//! A small synthetic grid scenario (CityFlow layout: three lanes per road for left,
//! through and right, a 4-phase plan plus a 5 s right-turn clearance phase), for tests,
//! examples and benches when the real data is not at hand.

use std::collections::HashMap;

use city::spec::{IntersectionSpec, LaneLinkSpec, LaneSpec, MovementSpec, NetworkSpec, PhaseSpec, RoadSpec};
use city::{Demand, Flow, Network, Point, RoadId, Scenario, Turn, VehicleParams};

const SPACING: f64 = 300.0;
const DIRS: [(i32, i32); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];

/// A `rows` × `cols` grid of signals with virtual boundary nodes. Every entry road
/// releases a through vehicle every `interval` seconds and a left- and a right-turning
/// vehicle every `3 × interval` seconds, from time 0 to `end`.
pub fn grid_scenario(rows: usize, cols: usize, interval: f64, end: f64) -> Scenario {
    let (rows, cols) = (rows.max(1) as i32, cols.max(1) as i32);
    let inside = |x: i32, y: i32| (0..cols).contains(&x) && (0..rows).contains(&y);
    let exists = |x: i32, y: i32| {
        let edge_x = x == -1 || x == cols;
        let edge_y = y == -1 || y == rows;
        inside(x, y) || (edge_x && (0..rows).contains(&y)) || (edge_y && (0..cols).contains(&x))
    };
    let mut spec = NetworkSpec::default();
    let mut node: HashMap<(i32, i32), usize> = HashMap::new();
    for y in -1..=rows {
        for x in -1..=cols {
            if exists(x, y) {
                node.insert((x, y), spec.intersections.len());
                let virt = !inside(x, y);
                spec.intersections.push(IntersectionSpec {
                    name: format!("intersection_{x}_{y}"),
                    point: Point::new(x as f64 * SPACING, y as f64 * SPACING),
                    width: if virt { 0.0 } else { 15.0 },
                    is_virtual: virt,
                    movements: vec![],
                    phases: vec![],
                });
            }
        }
    }
    let mut road: HashMap<((i32, i32), usize), usize> = HashMap::new();
    let mut keys: Vec<(i32, i32)> = node.keys().copied().collect();
    keys.sort();
    for &(x, y) in &keys {
        for (d, (dx, dy)) in DIRS.iter().enumerate() {
            let to = (x + dx, y + dy);
            if !node.contains_key(&to) || (!inside(x, y) && !inside(to.0, to.1)) {
                continue;
            }
            road.insert(((x, y), d), spec.roads.len());
            spec.roads.push(RoadSpec {
                name: format!("road_{x}_{y}_{d}"),
                from: node[&(x, y)],
                to: node[&to],
                points: vec![
                    Point::new(x as f64 * SPACING, y as f64 * SPACING),
                    Point::new(to.0 as f64 * SPACING, to.1 as f64 * SPACING),
                ],
                lanes: vec![LaneSpec { width: 3.0, max_speed: 11.111 }; 3],
            });
        }
    }
    for &(x, y) in &keys {
        if !inside(x, y) {
            continue;
        }
        let n = node[&(x, y)];
        let mut groups: [[Vec<usize>; 2]; 2] = Default::default(); // [ew/ns][straight/left]
        let mut rights = Vec::new();
        for d in 0..4 {
            let (dx, dy) = DIRS[d];
            let Some(&from) = road.get(&((x - dx, y - dy), d)) else { continue };
            for (turn, nd, lane) in [(Turn::Left, (d + 1) % 4, 0), (Turn::Straight, d, 1), (Turn::Right, (d + 3) % 4, 2)] {
                let Some(&to) = road.get(&((x, y), nd)) else { continue };
                let k = spec.intersections[n].movements.len();
                spec.intersections[n].movements.push(MovementSpec {
                    turn,
                    from_road: from,
                    to_road: to,
                    lane_links: (0..3).map(|t| LaneLinkSpec { from_lane: lane, to_lane: t, points: vec![] }).collect(),
                });
                match turn {
                    Turn::Right => rights.push(k),
                    Turn::Straight => groups[d % 2][0].push(k),
                    Turn::Left => groups[d % 2][1].push(k),
                }
            }
        }
        let with = |v: &Vec<usize>| {
            let mut m = v.clone();
            m.extend(&rights);
            PhaseSpec { duration: 30.0, movements: m }
        };
        spec.intersections[n].phases = vec![
            PhaseSpec { duration: 5.0, movements: rights.clone() },
            with(&groups[0][0]),
            with(&groups[1][0]),
            with(&groups[0][1]),
            with(&groups[1][1]),
        ];
    }
    let network = Network::build(&spec).expect("the synthetic grid is well formed");
    let mut flows = Vec::new();
    let params = VehicleParams { max_speed: 11.111, min_gap: 2.5, headway_time: 2.0, ..VehicleParams::default() };
    for (&((x, y), d), &first) in &road {
        if inside(x, y) {
            continue;
        }
        for (turn_offset, every) in [(0usize, 1.0), (1, 3.0), (3, 3.0)] {
            let mut route = vec![RoadId::from(first)];
            let (mut px, mut py, mut dir) = (x + DIRS[d].0, y + DIRS[d].1, d);
            let mut turned = false;
            while inside(px, py) {
                if !turned {
                    dir = (dir + turn_offset) % 4;
                    turned = true;
                }
                let Some(&r) = road.get(&((px, py), dir)) else { break };
                route.push(RoadId::from(r));
                px += DIRS[dir].0;
                py += DIRS[dir].1;
            }
            if route.len() >= 2 {
                flows.push(Flow {
                    params,
                    route,
                    interval: interval * every,
                    start: 0.0,
                    end: Some(end),
                    depart: Default::default(),
                });
            }
        }
    }
    flows.sort_by(|a, b| a.route.cmp(&b.route).then(a.interval.total_cmp(&b.interval)));
    Scenario { network, demand: Demand { flows } }
}
