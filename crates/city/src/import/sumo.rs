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
//! - A `<tlLogic>` becomes the fixed-time plan: a movement is green in a phase when any of
//!   its links shows `G`, `g`, `s` or `O` there. Actuated programs run at their
//!   `duration`s. A junction without a traffic light is unsignalised (every movement
//!   may go, yielding at crossings).
//! - `<vType>` maps accel → max/usual acceleration, decel → usual deceleration,
//!   emergencyDecel → maximum deceleration, tau → headway time, with SUMO's defaults
//!   for absent attributes. `speedFactor`, `sigma`, `departLane` and `departSpeed` are
//!   ignored.
//! - `<vehicle>` and `<flow>` (period, vehsPerHour, or number) with a route become flows;
//!   `<trip>`s (which need a router), random flows (`probability`), stops and route
//!   distributions are errors that name the line. Persons and containers are skipped.
//!   Fractional departure times take effect at the next whole step, as in SUMO with a
//!   1 s step.
//! - `<location>` gives the georeference (UTM or plain offsets; see `sumo_geo`).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::xml::{elements, At, Element};
use super::ImportError;
use crate::demand::{validate_flow_timing, validate_route, Demand, Flow, VehicleParams};
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
                let id = at.req(el, "id")?;
                if tls.contains_key(id) {
                    continue; // only the first program of a traffic light runs
                }
                let mut phases = Vec::new();
                for p in els[k..].iter().take_while(|c| c.depth > 1).filter(|c| c.depth == 2 && c.name == "phase") {
                    let d = at.num(p, "duration")?.ok_or_else(|| at.err(p, "missing attribute \"duration\""))?;
                    if d <= 0.0 {
                        return Err(at.err(p, format!("duration must be positive, got {d}")));
                    }
                    phases.push((d, at.req(p, "state")?, p));
                }
                if phases.is_empty() {
                    return Err(at.err(el, format!("traffic light {id:?} has no phases")));
                }
                tls.insert(id, phases);
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
    Ok(spec)
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
    let spec = parse_net_spec(text, file)?;
    let net = Network::build(&spec).map_err(|e| ImportError::from_build(file, e))?;
    Ok((spec, net))
}

/// SUMO's default passenger car (`DEFAULT_VEHTYPE`).
fn default_vtype() -> VehicleParams {
    VehicleParams {
        length: 5.0,
        width: 1.8,
        max_pos_acc: 2.6,
        usual_pos_acc: 2.6,
        usual_neg_acc: 4.5,
        max_neg_acc: 9.0,
        min_gap: 2.5,
        max_speed: 55.55,
        headway_time: 1.0,
        ..VehicleParams::default()
    }
}

/// A `<vType>`: its attributes over SUMO's defaults.
fn vtype(at: At, el: &Element) -> Result<VehicleParams, ImportError> {
    let d = default_vtype();
    let get = |key: &str, default: f64| -> Result<f64, ImportError> { Ok(at.num(el, key)?.unwrap_or(default)) };
    let accel = get("accel", d.max_pos_acc)?;
    let p = VehicleParams {
        length: get("length", d.length)?,
        width: get("width", d.width)?,
        max_pos_acc: accel,
        usual_pos_acc: accel,
        usual_neg_acc: get("decel", d.usual_neg_acc)?,
        max_neg_acc: get("emergencyDecel", d.max_neg_acc)?,
        min_gap: get("minGap", d.min_gap)?,
        max_speed: get("maxSpeed", d.max_speed)?,
        headway_time: get("tau", d.headway_time)?,
        ..d
    };
    p.validate("vType").map_err(|e| at.err(el, format!("{}: {}", e.path.trim_start_matches("vType."), e.message)))?;
    Ok(p)
}

/// Release times of a `<flow>` as (start, interval, last release), or None when it
/// releases nothing.
fn flow_timing(at: At, el: &Element) -> Result<Option<(f64, f64, f64)>, ImportError> {
    if el.get("probability").is_some() {
        return Err(at.err(el, "random flows (probability) are not supported; use period, vehsPerHour or number"));
    }
    let begin = at.num(el, "begin")?.unwrap_or(0.0);
    let end = at.num(el, "end")?;
    let number = at.index(el, "number")?;
    let period = match (el.get("period"), at.num(el, "vehsPerHour")?) {
        (Some(s), _) if s.trim_start().starts_with("exp(") => {
            return Err(at.err(el, "random flows (period=\"exp(...)\") are not supported"));
        }
        (Some(_), _) => at.num(el, "period")?,
        (None, Some(v)) if v > 0.0 => Some(3600.0 / v),
        (None, Some(v)) => return Err(at.err(el, format!("vehsPerHour must be positive, got {v}"))),
        (None, None) => None,
    };
    let (interval, count) = match (period, number, end) {
        (Some(p), _, _) if p <= 0.0 => return Err(at.err(el, format!("period must be positive, got {p}"))),
        (Some(p), Some(n), _) => (p, n),
        (Some(p), None, end) => {
            // SUMO's default end is 24 h; departures are strictly before `end`.
            let end = end.unwrap_or(86_400.0);
            (p, ((end - begin) / p).ceil().max(0.0) as usize)
        }
        (None, Some(n), Some(end)) if end > begin => ((end - begin) / n.max(1) as f64, n),
        (None, Some(_), _) => return Err(at.err(el, "a flow with number needs period, vehsPerHour or an end after begin")),
        (None, None, _) => return Err(at.err(el, "a flow needs period, vehsPerHour or number")),
    };
    Ok((count > 0).then(|| (begin, interval, begin + (count - 1) as f64 * interval)))
}

/// A vehicle or flow waiting for its (possibly nested) route.
struct Pending<'e> {
    el: &'e Element,
    route: Option<&'e Element>,
}

/// Parse a SUMO route file against a built network.
pub fn parse_routes(text: &str, net: &Network, file: &str) -> Result<Demand, ImportError> {
    let at = At { file };
    let els = elements(text, file)?;
    let Some(root) = els.first() else {
        return Err(ImportError::new(file, "line 1", "empty route file"));
    };
    if root.name != "routes" {
        return Err(at.err(root, "not a SUMO route file: the root element must be <routes>"));
    }
    let mut types: BTreeMap<&str, VehicleParams> = BTreeMap::new();
    types.insert("DEFAULT_VEHTYPE", default_vtype());
    let mut routes: HashMap<&str, &Element> = HashMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut skip_below: Option<usize> = None;
    for el in &els[1..] {
        if let Some(d) = skip_below {
            if el.depth > d {
                continue;
            }
            skip_below = None;
        }
        match (el.depth, el.name.as_str()) {
            (1, "vType") => {
                types.insert(at.req(el, "id")?, vtype(at, el)?);
            }
            (1, "route") => {
                routes.insert(at.req(el, "id")?, el);
            }
            (1, "vehicle" | "flow") => pending.push(Pending { el, route: None }),
            (2, "route") => match pending.last_mut() {
                Some(p) if el.depth == p.el.depth + 1 && p.route.is_none() => p.route = Some(el),
                _ => return Err(at.err(el, "a nested route must follow its vehicle or flow")),
            },
            (2, "param") => {}
            (1, "person" | "personFlow" | "container" | "containerFlow") => skip_below = Some(1),
            (1, "trip") => return Err(at.err(el, "trips need a router: write routes with duarouter first")),
            (2, "stop") => return Err(at.err(el, "stops are not supported by the twin")),
            (_, name) => return Err(at.err(el, format!("unsupported element <{name}> here"))),
        }
    }
    let mut flows = Vec::with_capacity(pending.len());
    for p in pending {
        let el = p.el;
        let id = at.req(el, "id")?;
        let route_el = match (p.route, el.get("route")) {
            (Some(r), _) => r,
            (None, Some(name)) => *routes.get(name).ok_or_else(|| at.err(el, format!("route: unknown route {name:?}")))?,
            (None, None) => return Err(at.err(el, format!("{:?} has no route", id))),
        };
        let edges = at.req(route_el, "edges")?;
        let mut route = Vec::new();
        for name in edges.split_whitespace() {
            let r =
                net.road_by_name(name).ok_or_else(|| at.err(route_el, format!("edges: unknown edge {name:?} (in {:?})", id)))?;
            route.push(r);
        }
        validate_route(net, &route, "edges").map_err(|e| at.err(route_el, format!("{:?}: {}", id, e.message)))?;
        let ty = el.get("type").unwrap_or("DEFAULT_VEHTYPE");
        let params = *types.get(ty).ok_or_else(|| at.err(el, format!("type: unknown vType {ty:?}")))?;
        let (start, interval, end) = if el.name == "vehicle" {
            let depart = at.req(el, "depart")?;
            let t = depart
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| at.err(el, format!("depart: expected a time in seconds, got {depart:?}")))?;
            (t, 1.0, t)
        } else {
            match flow_timing(at, el)? {
                Some(t) => t,
                None => continue,
            }
        };
        // The engine releases on whole steps (CityFlow's rule stops a flow once the clock
        // passes `end`), so a fractional last departure is kept until the next second,
        // where SUMO would insert it too.
        let flow = Flow { params, route, interval, start, end: Some(end.ceil()) };
        validate_flow_timing(&flow, id).map_err(|e| at.err(el, e.message))?;
        flows.push(flow);
    }
    Ok(Demand { flows })
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
