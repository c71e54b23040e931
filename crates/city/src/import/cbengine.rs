//! The KDD Cup 2021 City Brain Challenge (CBEngine) text format.
//!
//! `roadnet.txt` has three whitespace-separated blocks: intersections (`lat lon id
//! signalised`), two-way segments (a header line and one line of lane-movement digits per
//! direction) and the signal arm table (`id r_N r_E r_S r_W`, the exiting road on each
//! arm or −1). From these we build:
//! - geometry in a local equirectangular projection around the intersections' mean
//!   position (metres, x east, y north; [`Crs::Equirectangular`], which the network keeps
//!   as its georeference), with each road's centre line bent just enough that its lanes
//!   have the file's length;
//! - lanes from the per-lane (left, through, right) digits, innermost first; a lane that
//!   may turn gets a lane link onto every lane of the exit road, as in CityFlow datasets;
//! - movements from the arm table (left of arm a is arm a+1, through a+2, right a+3, arms
//!   clockwise N, E, S, W) or, at junctions without a table row, from road bearings;
//! - the challenge's phase plan at signals: phase 0 (5 s, right turns only, the
//!   clearance), phases 1–4 N/S left, N/S through, E/W left, E/W through, phases 5–8 the
//!   N, E, S and W approach's left and through; right turns go in every phase. Each green
//!   phase lasts 30 s in the fixed-time plan;
//! - junctions joined to a single segment become virtual boundary nodes.
//!
//! `flow.txt` holds `n`, then per flow `start end interval`, `k` and `k` road ids.
//! Errors name the file and line.

use std::collections::HashMap;
use std::f64::consts::PI;

use super::ImportError;
use crate::demand::{Demand, Flow, VehicleParams};
use crate::geo::{Crs, Georef, CBENGINE_RADIUS_M};
use crate::geom::Point;
use crate::ids::RoadId;
use crate::network::Network;
use crate::spec::*;
use crate::Scenario;

/// Lane width given to every CBEngine lane, metres.
pub const LANE_WIDTH: f64 = 4.0;
/// Phase durations of the fixed-time plan, seconds.
pub const CLEARANCE_S: f64 = 5.0;
pub const GREEN_S: f64 = 30.0;
/// Counts above this are treated as corrupt rather than allocated.
const MAX_COUNT: i64 = 50_000_000;

/// A whitespace token stream that remembers line numbers.
struct Tokens<'a> {
    file: &'a str,
    it: Box<dyn Iterator<Item = (usize, &'a str)> + 'a>,
    line: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str, file: &'a str) -> Tokens<'a> {
        let it = text.lines().enumerate().flat_map(|(n, l)| l.split_whitespace().map(move |t| (n + 1, t)));
        Tokens { file, it: Box::new(it), line: 1 }
    }
    fn err(&self, line: usize, msg: impl Into<String>) -> ImportError {
        ImportError::new(self.file, format!("line {line}"), msg)
    }
    fn next(&mut self, what: &str) -> Result<(usize, &'a str), ImportError> {
        match self.it.next() {
            Some((l, t)) => {
                self.line = l;
                Ok((l, t))
            }
            None => Err(self.err(self.line, format!("unexpected end of file, expected {what}"))),
        }
    }
    fn int(&mut self, what: &str) -> Result<(usize, i64), ImportError> {
        let (l, t) = self.next(what)?;
        t.parse::<i64>().map(|v| (l, v)).map_err(|_| self.err(l, format!("expected {what} (an integer), got {t:?}")))
    }
    fn float(&mut self, what: &str) -> Result<(usize, f64), ImportError> {
        let (l, t) = self.next(what)?;
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok((l, v)),
            _ => Err(self.err(l, format!("expected {what} (a number), got {t:?}"))),
        }
    }
    fn count(&mut self, what: &str) -> Result<usize, ImportError> {
        let (l, v) = self.int(what)?;
        if !(0..=MAX_COUNT).contains(&v) {
            return Err(self.err(l, format!("{what} must be between 0 and {MAX_COUNT}, got {v}")));
        }
        Ok(v as usize)
    }
    fn end(&mut self) -> Result<(), ImportError> {
        match self.it.next() {
            None => Ok(()),
            Some((l, t)) => Err(self.err(l, format!("unexpected extra data {t:?} after the last block"))),
        }
    }
}

struct Inter {
    id: i64,
    lat: f64,
    lon: f64,
    signalised: bool,
    segments: Vec<usize>,
    /// Exiting road id per arm N, E, S, W, from the signal table.
    arms: Option<[i64; 4]>,
}

struct Dir {
    road_id: i64,
    /// (left, through, right) per lane, innermost first.
    lanes: Vec<[bool; 3]>,
}

struct Segment {
    from: usize,
    to: usize,
    length: f64,
    speed: f64,
    dirs: [Dir; 2],
}

/// Parse `roadnet.txt` into a spec.
pub fn parse_roadnet_spec(text: &str, file: &str) -> Result<NetworkSpec, ImportError> {
    let mut t = Tokens::new(text, file);
    let n = t.count("intersection count")?;
    let mut inters: Vec<Inter> = Vec::with_capacity(n.min(1 << 16));
    let mut by_id: HashMap<i64, usize> = HashMap::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let (l, lat) = t.float("latitude")?;
        let (_, lon) = t.float("longitude")?;
        let (_, id) = t.int("intersection id")?;
        let (_, sig) = t.int("signalised flag")?;
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(t.err(l, format!("coordinates ({lat}, {lon}) are not a valid latitude/longitude")));
        }
        if !(sig == 0 || sig == 1) {
            return Err(t.err(l, format!("signalised flag must be 0 or 1, got {sig}")));
        }
        if by_id.insert(id, inters.len()).is_some() {
            return Err(t.err(l, format!("duplicate intersection id {id}")));
        }
        inters.push(Inter { id, lat, lon, signalised: sig == 1, segments: Vec::new(), arms: None });
    }
    let m = t.count("road segment count")?;
    let mut segments: Vec<Segment> = Vec::with_capacity(m.min(1 << 16));
    let mut road_line: HashMap<i64, (usize, usize, usize)> = HashMap::new(); // road id -> (line, segment, dir)
    for s in 0..m {
        let (l, from) = t.int("from intersection")?;
        let (_, to) = t.int("to intersection")?;
        let (_, length) = t.float("length")?;
        let (_, speed) = t.float("speed limit")?;
        let (_, n1) = t.int("lane count (direction 1)")?;
        let (_, n2) = t.int("lane count (direction 2)")?;
        let (_, id1) = t.int("road id (direction 1)")?;
        let (_, id2) = t.int("road id (direction 2)")?;
        let fi = *by_id.get(&from).ok_or_else(|| t.err(l, format!("unknown intersection {from}")))?;
        let ti = *by_id.get(&to).ok_or_else(|| t.err(l, format!("unknown intersection {to}")))?;
        if fi == ti {
            return Err(t.err(l, format!("segment joins intersection {from} to itself")));
        }
        if length <= 0.0 {
            return Err(t.err(l, format!("length must be positive, got {length}")));
        }
        if speed <= 0.0 {
            return Err(t.err(l, format!("speed limit must be positive, got {speed}")));
        }
        for nl in [n1, n2] {
            if !(0..=16).contains(&nl) {
                return Err(t.err(l, format!("lane count must be between 0 and 16, got {nl}")));
            }
        }
        if n1 + n2 == 0 {
            return Err(t.err(l, "segment has no lanes in either direction"));
        }
        let mut dirs = Vec::with_capacity(2);
        for (k, (nl, id)) in [(n1, id1), (n2, id2)].into_iter().enumerate() {
            let mut lanes = Vec::with_capacity(nl as usize);
            for _ in 0..nl {
                let mut d = [false; 3];
                for v in d.iter_mut() {
                    let (dl, x) = t.int("lane movement digit")?;
                    if !(x == 0 || x == 1) {
                        return Err(t.err(dl, format!("lane movement digits must be 0 or 1, got {x}")));
                    }
                    *v = x == 1;
                }
                lanes.push(d);
            }
            if nl > 0 {
                if id < 0 {
                    return Err(t.err(l, format!("road id must be non-negative, got {id}")));
                }
                if let Some((prev, _, _)) = road_line.insert(id, (l, s, k)) {
                    return Err(t.err(l, format!("duplicate road id {id} (first used on line {prev})")));
                }
            }
            dirs.push(Dir { road_id: id, lanes });
        }
        let d2 = dirs.pop().unwrap_or(Dir { road_id: -1, lanes: vec![] });
        let d1 = dirs.pop().unwrap_or(Dir { road_id: -1, lanes: vec![] });
        inters[fi].segments.push(s);
        inters[ti].segments.push(s);
        segments.push(Segment { from: fi, to: ti, length, speed, dirs: [d1, d2] });
    }
    let ns = t.count("signal count")?;
    for _ in 0..ns {
        let (l, id) = t.int("signal intersection id")?;
        let i = *by_id.get(&id).ok_or_else(|| t.err(l, format!("unknown intersection {id}")))?;
        let mut arms = [-1i64; 4];
        for (a, arm) in arms.iter_mut().enumerate() {
            let (_, r) = t.int("arm road id")?;
            if r != -1 {
                let &(_, s, k) =
                    road_line.get(&r).ok_or_else(|| t.err(l, format!("unknown road {r} on arm {}", ARM_NAMES[a])))?;
                let seg = &segments[s];
                let start = if k == 0 { seg.from } else { seg.to };
                if start != i {
                    return Err(t.err(l, format!("road {r} on arm {} does not start at intersection {id}", ARM_NAMES[a])));
                }
            }
            *arm = r;
        }
        if inters[i].arms.replace(arms).is_some() {
            return Err(t.err(l, format!("intersection {id} appears twice in the signal table")));
        }
    }
    t.end()?;
    Ok(build_spec(&inters, &segments, &road_line))
}

const ARM_NAMES: [&str; 4] = ["N", "E", "S", "W"];

fn build_spec(inters: &[Inter], segments: &[Segment], road_line: &HashMap<i64, (usize, usize, usize)>) -> NetworkSpec {
    // Local projection around the mean position.
    let (lat0, lon0) = if inters.is_empty() {
        (0.0, 0.0)
    } else {
        let n = inters.len() as f64;
        (inters.iter().map(|i| i.lat).sum::<f64>() / n, inters.iter().map(|i| i.lon).sum::<f64>() / n)
    };
    let crs = Crs::Equirectangular { lon0, lat0, radius_m: CBENGINE_RADIUS_M };
    let pts: Vec<Point> = inters.iter().map(|i| crs.project(i.lon, i.lat)).collect();
    let is_virtual: Vec<bool> = inters.iter().map(|i| i.segments.len() <= 1).collect();
    let width: Vec<f64> = inters
        .iter()
        .enumerate()
        .map(|(k, i)| {
            if is_virtual[k] {
                return 0.0;
            }
            let shortest = i.segments.iter().map(|&s| segments[s].length).fold(f64::INFINITY, f64::min);
            (0.25 * shortest).min(10.0)
        })
        .collect();

    let mut spec = NetworkSpec { georef: Georef::new(crs, Point::new(0.0, 0.0)), ..NetworkSpec::default() };
    for (k, i) in inters.iter().enumerate() {
        spec.intersections.push(IntersectionSpec {
            name: i.id.to_string(),
            point: pts[k],
            width: width[k],
            is_virtual: is_virtual[k],
            movements: Vec::new(),
            phases: Vec::new(),
        });
    }
    // Roads in file order: direction 1 then direction 2 of each segment.
    let mut road_of: HashMap<i64, usize> = HashMap::with_capacity(road_line.len());
    let mut road_dir: Vec<(usize, usize)> = Vec::new(); // spec road -> (segment, dir)
    for (s, seg) in segments.iter().enumerate() {
        let centre = centre_line(pts[seg.from], pts[seg.to], seg.length + width[seg.from] + width[seg.to]);
        for (k, dir) in seg.dirs.iter().enumerate() {
            if dir.lanes.is_empty() {
                continue;
            }
            let (from, to) = if k == 0 { (seg.from, seg.to) } else { (seg.to, seg.from) };
            let points = if k == 0 { centre.clone() } else { centre.iter().rev().copied().collect() };
            road_of.insert(dir.road_id, spec.roads.len());
            road_dir.push((s, k));
            spec.roads.push(RoadSpec {
                name: dir.road_id.to_string(),
                from,
                to,
                points,
                lanes: vec![LaneSpec { width: LANE_WIDTH, max_speed: seg.speed }; dir.lanes.len()],
            });
        }
    }
    // The reverse direction of a road (same segment, other direction), if it has lanes.
    let reverse = |r: usize| -> Option<usize> {
        let (s, k) = road_dir[r];
        let d = &segments[s].dirs[1 - k];
        if d.lanes.is_empty() {
            None
        } else {
            road_of.get(&d.road_id).copied()
        }
    };
    let lanes_of = |r: usize| -> &Vec<[bool; 3]> {
        let (s, k) = road_dir[r];
        &segments[s].dirs[k].lanes
    };
    // Incoming and outgoing roads per intersection.
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); inters.len()];
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); inters.len()];
    for (r, rs) in spec.roads.iter().enumerate() {
        outgoing[rs.from].push(r);
        incoming[rs.to].push(r);
    }
    for (k, inter) in inters.iter().enumerate() {
        if is_virtual[k] {
            continue;
        }
        let mut movements: Vec<MovementSpec> = Vec::new();
        let add = |movements: &mut Vec<MovementSpec>, from_road: usize, to_road: usize, turn: Turn| -> Option<usize> {
            let digit = match turn {
                Turn::Left => 0,
                Turn::Straight => 1,
                Turn::Right => 2,
            };
            let to_lanes = spec.roads[to_road].lanes.len();
            let lane_links: Vec<LaneLinkSpec> = lanes_of(from_road)
                .iter()
                .enumerate()
                .filter(|(_, d)| d[digit])
                .flat_map(|(fl, _)| (0..to_lanes).map(move |tl| LaneLinkSpec { from_lane: fl, to_lane: tl, points: vec![] }))
                .collect();
            if lane_links.is_empty() {
                return None;
            }
            movements.push(MovementSpec { turn, from_road, to_road, lane_links });
            Some(movements.len() - 1)
        };
        if let Some(arms) = inter.arms {
            // mv[arm][0 = left, 1 = through, 2 = right]
            let mut mv = [[None; 3]; 4];
            for a in 0..4 {
                let Some(&out_a) = road_of.get(&arms[a]) else { continue };
                let Some(inc) = reverse(out_a) else { continue };
                for (t, (turn, off)) in [(Turn::Left, 1), (Turn::Straight, 2), (Turn::Right, 3)].into_iter().enumerate() {
                    if let Some(&out) = road_of.get(&arms[(a + off) % 4]) {
                        mv[a][t] = add(&mut movements, inc, out, turn);
                    }
                }
            }
            if inter.signalised {
                let rights: Vec<usize> = (0..4).filter_map(|a| mv[a][2]).collect();
                let phase = |pairs: &[(usize, usize)]| {
                    let mut ms = rights.clone();
                    ms.extend(pairs.iter().filter_map(|&(a, t)| mv[a][t]));
                    PhaseSpec { duration: GREEN_S, movements: ms }
                };
                spec.intersections[k].phases = vec![
                    PhaseSpec { duration: CLEARANCE_S, movements: rights.clone() },
                    phase(&[(0, 0), (2, 0)]),
                    phase(&[(0, 1), (2, 1)]),
                    phase(&[(1, 0), (3, 0)]),
                    phase(&[(1, 1), (3, 1)]),
                    phase(&[(0, 0), (0, 1)]),
                    phase(&[(1, 0), (1, 1)]),
                    phase(&[(2, 0), (2, 1)]),
                    phase(&[(3, 0), (3, 1)]),
                ];
            }
        } else {
            // No arm table: classify turns by the change of bearing.
            for &inc in &incoming[k] {
                let hin = bearing(pts[spec.roads[inc].from], pts[k]);
                for &out in &outgoing[k] {
                    if reverse(inc) == Some(out) {
                        continue;
                    }
                    let hout = bearing(pts[k], pts[spec.roads[out].to]);
                    let mut d = hout - hin;
                    while d > PI {
                        d -= 2.0 * PI;
                    }
                    while d <= -PI {
                        d += 2.0 * PI;
                    }
                    let turn = if d.abs() <= PI / 4.0 {
                        Turn::Straight
                    } else if d > 0.0 {
                        Turn::Left
                    } else {
                        Turn::Right
                    };
                    add(&mut movements, inc, out, turn);
                }
            }
        }
        spec.intersections[k].movements = movements;
    }
    spec
}

fn bearing(a: Point, b: Point) -> f64 {
    (b.y - a.y).atan2(b.x - a.x)
}

/// A centre line from `a` to `b` of length `target` where possible: straight if the
/// points are at least that far apart, else bent at the middle.
fn centre_line(a: Point, b: Point, target: f64) -> Vec<Point> {
    let d = (b - a).len();
    if d >= target - 1e-6 {
        return vec![a, b];
    }
    let dir = if d > 1e-9 { (b - a) * (1.0 / d) } else { Point::new(1.0, 0.0) };
    let h = ((target / 2.0).powi(2) - (d / 2.0).powi(2)).max(0.0).sqrt();
    let mid = a + (b - a) * 0.5 + Point::new(dir.y, -dir.x) * h;
    vec![a, mid, b]
}

/// Parse and build `roadnet.txt`.
pub fn parse_roadnet(text: &str, file: &str) -> Result<(NetworkSpec, Network), ImportError> {
    let spec = parse_roadnet_spec(text, file)?;
    let net = Network::build(&spec).map_err(|e| ImportError::from_build(file, e))?;
    Ok((spec, net))
}

/// Parse `flow.txt` against a built network.
pub fn parse_flow(text: &str, net: &Network, file: &str) -> Result<Demand, ImportError> {
    let mut t = Tokens::new(text, file);
    let n = t.count("flow count")?;
    let mut flows = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let (l, start) = t.float("start time")?;
        let (_, end) = t.float("end time")?;
        let (_, interval) = t.float("interval")?;
        if start < 0.0 {
            return Err(t.err(l, format!("start time must be non-negative, got {start}")));
        }
        if interval <= 0.0 {
            return Err(t.err(l, format!("interval must be positive, got {interval}")));
        }
        let k = t.count("route length")?;
        if k == 0 {
            return Err(t.err(t.line, "route is empty"));
        }
        let mut route: Vec<RoadId> = Vec::with_capacity(k.min(4096));
        for step in 0..k {
            let (rl, id) = t.next("road id")?;
            let r = net.road_by_name(id).ok_or_else(|| t.err(rl, format!("route step {}: unknown road {id:?}", step + 1)))?;
            if let Some(&prev) = route.last() {
                if !net.connected(prev, r) {
                    return Err(t.err(
                        rl,
                        format!(
                            "route step {}: road {} does not connect to road {id} (no lane allows that turn)",
                            step + 1,
                            net.road(prev).name
                        ),
                    ));
                }
            }
            route.push(r);
        }
        flows.push(Flow { params: VehicleParams::default(), route, interval, start, end: Some(end), depart: Default::default() });
    }
    t.end()?;
    Ok(Demand { flows })
}

/// Load a `roadnet.txt` + `flow.txt` pair; the names are used in errors.
pub fn load_scenario_named(roadnet: &str, flow: &str, roadnet_file: &str, flow_file: &str) -> Result<Scenario, ImportError> {
    let (_, network) = parse_roadnet(roadnet, roadnet_file)?;
    let demand = parse_flow(flow, &network, flow_file)?;
    Ok(Scenario { network, demand })
}

#[cfg(test)]
#[path = "cbengine_tests.rs"]
mod tests;
