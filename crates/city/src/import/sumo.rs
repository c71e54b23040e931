//! SUMO network (`.net.xml`, as written by netconvert) and route (`.rou.xml`) files.
//!
//! The twin runs CityFlow's vehicle model on what the files say; SUMO's own car-following
//! model (Krauss) is not reproduced. How SUMO concepts map:
//! - A normal `<edge>` becomes a road; its vehicle lanes (not pedestrian- or bike-only)
//!   become lanes, reversed because SUMO's lane 0 is the rightmost and ours the innermost.
//!   The centre line is the edge `shape` (or the line between its junctions); with
//!   `spreadType="center"` it is moved left by half the lanes' width.
//! - A `<junction>` becomes an intersection whose width (the junction box) is how far the
//!   lanes stop short of its centre. A junction without movements (a boundary node, or
//!   one with only U-turns) is virtual.
//! - `<connection>`s between normal edges become lane links, grouped into movements by
//!   (from edge, to edge); `dir` s/l/L/r/R gives the turn. U-turns (`t`) are dropped: the
//!   vehicle model has no U-turn movement. Geometry follows the internal lanes (`via`,
//!   chained through internal junctions).
//! - A `<tlLogic>` becomes the fixed-time plan (of several programs for one traffic light,
//!   the one loaded last, which is the one SUMO runs): a movement is green in a phase when any of
//!   its links shows `G`, `g`, `s` or `O` there. Actuated programs run at their
//!   `duration`s. A junction without a traffic light is unsignalised (every movement
//!   may go, yielding at crossings).
//! - Routes, vehicle types and vehicles are read by `sumo_demand` (see [`parse_routes_with`])
//!   and re-exported here.
//! - `<location>` gives the georeference (UTM or plain offsets; see `sumo_geo`).

use std::collections::{BTreeMap, HashMap, HashSet};

pub use super::sumo_cfg::{parse_config, SumoConfig};
pub use super::sumo_demand::{parse_routes, parse_routes_with, RouteReader, RouteReport, SkipKind, Skipped};
use super::xml::{elements, At, Element};
use super::ImportError;
use crate::geom::Point;
use crate::network::{offset_polyline, Network};
use crate::spec::{IntersectionSpec, LaneLinkSpec, LaneSpec, MovementSpec, NetworkSpec, PhaseSpec, RoadSpec, Turn};
use crate::Scenario;

/// SUMO's default lane width, metres.
const DEFAULT_LANE_WIDTH: f64 = 3.2;

struct EdgeIn {
    road: usize,
    /// SUMO lane index → our lane index (None: not a vehicle lane).
    lane_map: Vec<Option<usize>>,
    /// Vehicle lane shapes in our lane order.
    lane_shapes: Vec<Vec<Point>>,
}

struct ConnIn<'e> {
    el: &'e Element,
    from: &'e str,
    to: &'e str,
    from_lane: usize,
    to_lane: usize,
}

/// A movement being assembled: (from road, to road), turn, lane links with the
/// connection each came from.
type MovementIn<'e> = ((usize, usize), Turn, Vec<(LaneLinkSpec, &'e Element)>);

/// Whether a lane admits passenger cars, from its `allow` / `disallow` lists.
fn vehicle_lane(el: &Element) -> bool {
    let has = |list: &str, what: &[&str]| list.split_whitespace().any(|c| what.contains(&c));
    if let Some(allow) = el.get("allow") {
        return has(allow, &["passenger", "all", "private"]);
    }
    match el.get("disallow") {
        Some(d) => !has(d, &["passenger", "all", "private"]),
        None => true,
    }
}

/// Parse a SUMO `.net.xml` into a [`NetworkSpec`].
pub fn parse_net_spec(text: &str, file: &str) -> Result<NetworkSpec, ImportError> {
    parse_net_spec_with(text, file, &[])
}

/// [`parse_net_spec`] with additional files (`(text, name)`, as a `.sumocfg` lists them)
/// whose `<tlLogic>` programs replace the network's; their other elements are ignored.
pub fn parse_net_spec_with(text: &str, file: &str, extra: &[(&str, &str)]) -> Result<NetworkSpec, ImportError> {
    let at = At { file };
    let els = elements(text, file)?;
    if els.first().map(|e| e.name.as_str()) != Some("net") {
        return Err(ImportError::new(file, "line 1", "not a SUMO network: the root element must be <net>"));
    }
    let mut spec = NetworkSpec {
        georef: super::sumo_geo::georef(at, els.iter().find(|e| e.depth == 1 && e.name == "location"))?,
        ..NetworkSpec::default()
    };
    let mut junction_index: HashMap<&str, usize> = HashMap::new();
    let mut edges: HashMap<&str, EdgeIn> = HashMap::new();
    // Edges without vehicle lanes (footpaths, crossings, walking areas).
    let mut skipped: HashSet<&str> = HashSet::new();
    let mut internal_shapes: HashMap<&str, Vec<Point>> = HashMap::new();
    // internal lane id → the next internal lane (through an internal junction).
    let mut internal_next: HashMap<String, &str> = HashMap::new();
    let mut tls: HashMap<&str, Vec<(f64, &str, &Element)>> = HashMap::new();
    // Programs from additional files replace the network's (SUMO runs the last loaded).
    let extra_els: Vec<(At, Vec<Element>)> =
        extra.iter().map(|(t, f)| Ok((At { file: f }, elements(t, f)?))).collect::<Result<_, ImportError>>()?;
    let mut conns: Vec<ConnIn> = Vec::new();

    // Junctions first: edges refer to them.
    for el in els.iter().filter(|e| e.depth == 1 && e.name == "junction") {
        if el.get("type") == Some("internal") {
            continue;
        }
        let id = at.req(el, "id")?;
        let x = at.num(el, "x")?.ok_or_else(|| at.err(el, "missing attribute \"x\""))?;
        let y = at.num(el, "y")?.ok_or_else(|| at.err(el, "missing attribute \"y\""))?;
        if junction_index.insert(id, spec.intersections.len()).is_some() {
            return Err(at.err(el, format!("duplicate junction id {id:?}")));
        }
        spec.intersections.push(IntersectionSpec {
            name: id.to_string(),
            point: Point::new(x, y),
            width: 0.0,
            is_virtual: true,
            movements: Vec::new(),
            phases: Vec::new(),
        });
    }

    let mut k = 0;
    while k < els.len() {
        let el = &els[k];
        k += 1;
        if el.depth != 1 {
            continue;
        }
        match el.name.as_str() {
            "edge" => {
                let lanes: Vec<&Element> =
                    els[k..].iter().take_while(|c| c.depth > 1).filter(|c| c.depth == 2 && c.name == "lane").collect();
                let id = at.req(el, "id")?;
                match el.get("function").unwrap_or("normal") {
                    "internal" => {
                        for l in lanes {
                            let shape = at.shape(l, "shape")?.unwrap_or_default();
                            internal_shapes.insert(at.req(l, "id")?, shape);
                        }
                        continue;
                    }
                    "normal" | "connector" => {}
                    _ => {
                        skipped.insert(id); // crossings and walking areas carry no vehicles
                        continue;
                    }
                }
                let junction = |key: &str| -> Result<usize, ImportError> {
                    let j = at.req(el, key)?;
                    junction_index.get(j).copied().ok_or_else(|| at.err(el, format!("{key}: unknown junction {j:?}")))
                };
                let (from, to) = (junction("from")?, junction("to")?);
                let mut indexed: Vec<(usize, &Element)> = Vec::with_capacity(lanes.len());
                for l in &lanes {
                    let i = at.index(l, "index")?.ok_or_else(|| at.err(l, "missing attribute \"index\""))?;
                    if indexed.iter().any(|&(j, _)| j == i) {
                        return Err(at.err(l, format!("duplicate lane index {i} in edge {id:?}")));
                    }
                    indexed.push((i, l));
                }
                indexed.sort_by_key(|&(i, _)| std::cmp::Reverse(i));
                let n_sumo = indexed.iter().map(|&(i, _)| i + 1).max().unwrap_or(0);
                let mut lane_map = vec![None; n_sumo];
                let (mut lane_specs, mut lane_shapes) = (Vec::new(), Vec::new());
                for &(i, l) in indexed.iter().filter(|(_, l)| vehicle_lane(l)) {
                    let speed = at.num(l, "speed")?.ok_or_else(|| at.err(l, "missing attribute \"speed\""))?;
                    if speed <= 0.0 {
                        return Err(at.err(l, format!("speed must be positive, got {speed}")));
                    }
                    let width = at.num(l, "width")?.unwrap_or(DEFAULT_LANE_WIDTH);
                    if width <= 0.0 {
                        return Err(at.err(l, format!("width must be positive, got {width}")));
                    }
                    let shape = at.shape(l, "shape")?.unwrap_or_default();
                    if shape.len() < 2 {
                        return Err(at.err(l, "shape must have at least two points"));
                    }
                    lane_map[i] = Some(lane_specs.len());
                    lane_specs.push(LaneSpec { width, max_speed: speed });
                    lane_shapes.push(shape);
                }
                if lane_specs.is_empty() {
                    skipped.insert(id); // a footpath or bike lane only
                    continue;
                }
                let ends = [spec.intersections[from].point, spec.intersections[to].point];
                let mut points = match at.shape(el, "shape")? {
                    Some(s) if s.len() >= 2 => s,
                    _ => ends.to_vec(),
                };
                if matches!(el.get("spreadType"), Some("center") | Some("roadCenter")) {
                    let total: f64 = lane_specs.iter().map(|l| l.width).sum();
                    points = offset_polyline(&points, -total / 2.0);
                }
                let road = spec.roads.len();
                spec.roads.push(RoadSpec { name: id.to_string(), from, to, points, lanes: lane_specs });
                if edges.insert(id, EdgeIn { road, lane_map, lane_shapes }).is_some() {
                    return Err(at.err(el, format!("duplicate edge id {id:?}")));
                }
            }
            "tlLogic" => {
                // SUMO runs the program of a traffic light loaded last.
                tls.insert(at.req(el, "id")?, tl_phases(at, el, &els[k..])?);
            }
            "connection" => {
                let from = at.req(el, "from")?;
                let from_lane = at.index(el, "fromLane")?.ok_or_else(|| at.err(el, "missing attribute \"fromLane\""))?;
                if from.starts_with(':') {
                    if let Some(via) = el.get("via") {
                        internal_next.insert(format!("{from}_{from_lane}"), via);
                    }
                    continue;
                }
                let to = at.req(el, "to")?;
                let to_lane = at.index(el, "toLane")?.ok_or_else(|| at.err(el, "missing attribute \"toLane\""))?;
                conns.push(ConnIn { el, from, to, from_lane, to_lane });
            }
            _ => {}
        }
    }

    for (xat, xels) in &extra_els {
        for (k, el) in xels.iter().enumerate().filter(|(_, e)| e.depth == 1 && e.name == "tlLogic") {
            tls.insert(xat.req(el, "id")?, tl_phases(*xat, el, &xels[k + 1..])?);
        }
    }

    // Movements, grouped per junction by (from, to) in file order.
    let mut groups: BTreeMap<usize, Vec<MovementIn>> = BTreeMap::new();
    for c in &conns {
        let el = c.el;
        let turn = match el.get("dir").unwrap_or("s") {
            "s" => Turn::Straight,
            "l" | "L" => Turn::Left,
            "r" | "R" => Turn::Right,
            "t" => continue,
            d => return Err(at.err(el, format!("dir: unknown direction {d:?} (expected s, l, L, r, R or t)"))),
        };
        if skipped.contains(c.from) || skipped.contains(c.to) {
            continue; // no vehicles use it
        }
        let edge = |name: &str, key: &str| edges.get(name).ok_or_else(|| at.err(el, format!("{key}: unknown edge {name:?}")));
        let (fe, te) = (edge(c.from, "from")?, edge(c.to, "to")?);
        let lane = |e: &EdgeIn, i: usize, key: &str, name: &str| -> Result<Option<usize>, ImportError> {
            match e.lane_map.get(i) {
                Some(l) => Ok(*l),
                None => Err(at.err(el, format!("{key}: edge {name:?} has no lane {i}"))),
            }
        };
        let (Some(fl), Some(tl)) = (lane(fe, c.from_lane, "fromLane", c.from)?, lane(te, c.to_lane, "toLane", c.to)?) else {
            continue; // a bike or foot lane
        };
        let j = spec.roads[fe.road].to;
        if spec.roads[te.road].from != j {
            return Err(at.err(el, format!("edges {:?} and {:?} do not meet at a junction", c.from, c.to)));
        }
        let points = via_shape(el.get("via"), &internal_shapes, &internal_next);
        let key = (fe.road, te.road);
        let list = groups.entry(j).or_default();
        let link = (LaneLinkSpec { from_lane: fl, to_lane: tl, points }, el);
        match list.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, links)) => links.push(link),
            None => list.push((key, turn, vec![link])),
        }
    }

    // Junction widths: how far the lanes stop short of the junction centre.
    let mut width = vec![0.0f64; spec.intersections.len()];
    for e in edges.values() {
        let r = &spec.roads[e.road];
        let (n, p) = (r.points.len(), &r.points);
        let (d_in, d_out) = ((p[n - 1] - p[n - 2]).unit(), (p[1] - p[0]).unit());
        for s in &e.lane_shapes {
            let (first, last) = (s[0], s[s.len() - 1]);
            width[r.to] = width[r.to].max((spec.intersections[r.to].point - last).dot(d_in));
            width[r.from] = width[r.from].max((first - spec.intersections[r.from].point).dot(d_out));
        }
    }

    for (j, list) in groups {
        let is = &mut spec.intersections[j];
        is.is_virtual = false;
        is.width = width[j];
        let mut tl: Option<&str> = None;
        // Per movement, per lane link: the signal index (None: not signal-controlled).
        let mut signal_of: Vec<Vec<Option<usize>>> = Vec::with_capacity(list.len());
        for ((from_road, to_road), turn, links) in list {
            let mut idx = Vec::with_capacity(links.len());
            let mut lane_links = Vec::with_capacity(links.len());
            for (ll, el) in links {
                idx.push(match el.get("tl") {
                    Some(t) => {
                        if tl.is_some_and(|x| x != t) {
                            return Err(at.err(el, format!("junction {:?} is controlled by two traffic lights", is.name)));
                        }
                        let phases = tls.get(t).ok_or_else(|| at.err(el, format!("tl: unknown traffic light {t:?}")))?;
                        let li = at.index(el, "linkIndex")?.ok_or_else(|| at.err(el, "missing attribute \"linkIndex\""))?;
                        if let Some((_, state, p)) = phases.iter().find(|(_, s, _)| s.len() <= li) {
                            return Err(at.err(el, format!("linkIndex {li} is beyond the state {state:?} (line {})", p.line)));
                        }
                        tl = Some(t);
                        Some(li)
                    }
                    None => None,
                });
                lane_links.push(ll);
            }
            signal_of.push(idx);
            is.movements.push(MovementSpec { turn, from_road, to_road, lane_links });
        }
        if let Some(t) = tl {
            for &(duration, state, _) in &tls[t] {
                let bytes = state.as_bytes();
                let movements = signal_of
                    .iter()
                    .enumerate()
                    .filter(|(_, links)| {
                        links.iter().any(|li| li.is_none_or(|li| matches!(bytes[li], b'G' | b'g' | b's' | b'O')))
                    })
                    .map(|(m, _)| m)
                    .collect();
                is.phases.push(PhaseSpec { duration, movements });
            }
        }
    }
    keep_min_length(&mut spec);
    Ok(spec)
}

/// Shortest road the import keeps, metres. OSM conversions leave edges of a few
/// centimetres between close junctions; the builder would trim them to nothing (it needs
/// more than 0.1 m), so such a road is redrawn as a straight segment of this length
/// centred where it was, along its direction. Its vehicles cross it within a step.
pub const MIN_EDGE_LENGTH: f64 = 1.0;

fn keep_min_length(spec: &mut NetworkSpec) {
    let trim = |j: usize| {
        let i = &spec.intersections[j];
        if i.is_virtual {
            0.0
        } else {
            i.width
        }
    };
    for k in 0..spec.roads.len() {
        let r = &spec.roads[k];
        let (wf, wt) = (trim(r.from), trim(r.to));
        let p = &r.points;
        let n = p.len();
        let len: f64 = p.windows(2).map(|w| (w[1] - w[0]).len()).sum();
        if len - wf - wt >= MIN_EDGE_LENGTH {
            continue;
        }
        let dir = p[n - 1] - p[0];
        let u = if dir.len() > 1e-9 {
            dir.unit()
        } else {
            let (a, b) = (spec.intersections[r.from].point, spec.intersections[r.to].point);
            if (b - a).len() > 1e-9 {
                (b - a).unit()
            } else {
                Point::new(1.0, 0.0)
            }
        };
        // The middle of the part the builder keeps.
        let mid = p[0] + u * (wf + (len - wf - wt).max(0.0) / 2.0);
        let half = MIN_EDGE_LENGTH / 2.0;
        spec.roads[k].points = vec![mid - u * (wf + half), mid + u * (wt + half)];
    }
}

/// The phases of a `<tlLogic>` (`rest`: the elements after it).
fn tl_phases<'e>(at: At, el: &Element, rest: &'e [Element]) -> Result<Vec<(f64, &'e str, &'e Element)>, ImportError> {
    let mut phases = Vec::new();
    for p in rest.iter().take_while(|c| c.depth > el.depth).filter(|c| c.depth == el.depth + 1 && c.name == "phase") {
        let d = at.num(p, "duration")?.ok_or_else(|| at.err(p, "missing attribute \"duration\""))?;
        if d <= 0.0 {
            return Err(at.err(p, format!("duration must be positive, got {d}")));
        }
        phases.push((d, at.req(p, "state")?, p));
    }
    if phases.is_empty() {
        return Err(at.err(el, format!("traffic light {:?} has no phases", el.get("id").unwrap_or(""))));
    }
    Ok(phases)
}

/// The geometry through the junction: the `via` internal lane and any internal lanes
/// chained after it, with repeated joint points removed.
fn via_shape(via: Option<&str>, shapes: &HashMap<&str, Vec<Point>>, next: &HashMap<String, &str>) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    let mut cur = via;
    let mut hops = 0;
    while let Some(lane) = cur {
        let Some(s) = shapes.get(lane) else { break };
        for &p in s {
            if out.last().is_none_or(|q| (*q - p).len() > 1e-6) {
                out.push(p);
            }
        }
        hops += 1;
        cur = if hops < 8 { next.get(lane).copied() } else { None };
    }
    if out.len() < 2 {
        out.clear(); // let the builder derive CityFlow's Bézier
    }
    out
}

/// Parse and build a SUMO network.
pub fn parse_net(text: &str, file: &str) -> Result<(NetworkSpec, Network), ImportError> {
    parse_net_with(text, file, &[])
}

/// Parse and build a SUMO network with additional files' traffic-light programs.
pub fn parse_net_with(text: &str, file: &str, extra: &[(&str, &str)]) -> Result<(NetworkSpec, Network), ImportError> {
    let spec = parse_net_spec_with(text, file, extra)?;
    let net = Network::build(&spec).map_err(|e| ImportError::from_build(file, e))?;
    Ok((spec, net))
}

/// Load a `.net.xml` + `.rou.xml` pair; the names are used in errors.
pub fn load_scenario_named(net: &str, routes: &str, net_file: &str, routes_file: &str) -> Result<Scenario, ImportError> {
    let (_, network) = parse_net(net, net_file)?;
    let demand = parse_routes(routes, &network, routes_file)?;
    Ok(Scenario { network, demand })
}

#[cfg(test)]
#[path = "sumo_tests.rs"]
mod tests;
